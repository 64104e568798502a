"""What the engine needs from outside, named in one place.

The engine imports neither `services`, `infra` nor `web`. Everything it uses that they provide is handed to
`engine.runtime.Runtime` (and the worker) by the composition root (`web.bootstrap`), and has one of the shapes
below. Each names the adapter that fills it today; tests fill them with fakes.

| port | shape | handed in as | filled by |
|---|---|---|---|
| sessions | `SessionFactory` | `Runtime(session_factory, read_session_factory=...)` | `infra.db.make_session_factory` |
| clock | `Clock` | `Runtime(clock=...)` | `engine.clock.SystemClock`, `OffsetClock`, `SettableClock` |
| handlers | `Handlers` | `Runtime(handlers=...)` | `engine.handlers.HandlerRegistry` with `services.register_all` |
| handler ports | `dict[str, Any]` | `Runtime(ports=...)`, read by handlers as `ctx.ports[...]` | e.g. `services.case_numbers.PORT` |
| directory | `DirectoryFactory` | `Runtime(directory=...)`, given to handlers as `ctx.ports["directory"]` | `infra.accounts.MembershipDirectory` |
| placement | `PlacementFactory` | `Runtime(placement=...)`, asked for each new work item (`engine.work_items`) | `services.work_placement.WorkPlacement` |
| effect sinks | `EffectSink` | `Runtime(effect_sinks={"notify": ...})` | `infra.delivery.templated_notify` (the outbox writer) |
| sealer | `Sealer` | the session factory's `info[engine.journal.SEALER_INFO_KEY]` | `engine.journal.Sealer` |
| calendar | `WorkingCalendars` | `Runtime(calendar=...)` | `engine.calendar.CalendarService` |

The outbox the effect sinks write is delivered outside the engine (`infra.delivery`); the engine only writes rows
in the step's own transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from .clock import Clock
from .effects import EffectContext
from .handlers import HandlerContext

__all__ = ["Clock", "Directory", "DirectoryFactory", "EffectSink", "Handlers", "Placement", "PlacementFactory",
           "Sealer", "SessionFactory", "WorkPlacement", "WorkingCalendars"]

@runtime_checkable
class SessionFactory(Protocol):
    """A unit of work's session (a `sessionmaker`); the writers' factory carries the sealer in its `info`."""

    def __call__(self) -> Session: ...


@runtime_checkable
class EffectSink(Protocol):
    """Writes one kind of side effect a handler asked for (`ctx.emit(kind, ...)`) in the step's transaction, and
    returns what the journal records about it. The notifier is one: it writes the outbox row that
    `infra.delivery` later delivers."""

    def __call__(self, s: Session, payload: dict, ctx: EffectContext) -> dict: ...


@runtime_checkable
class Handlers(Protocol):
    """The service-task handlers, by name (`engine.handlers.HandlerRegistry`)."""

    def names(self) -> set[str]: ...

    def describe(self) -> list[dict]: ...

    def call(self, name: str, params: dict[str, Any], ctx: HandlerContext) -> Any: ...


@runtime_checkable
class Directory(Protocol):
    """Who holds a role in a unit: the users a notice addressed to an office goes to."""

    def users(self, unit: str, role: str) -> list[str]: ...


@runtime_checkable
class DirectoryFactory(Protocol):
    """A directory reading inside the command's own session (so it sees the command's transaction)."""

    def __call__(self, session: Session) -> Directory: ...


@dataclass(frozen=True)
class Placement:
    """Where a new work item goes instead of the (unit, role) its task names. `orphaned`: nobody could do it
    there (无人可办), so it went to the nearest petition office above, flagged; otherwise the unit's own staff hold
    it under another role (a petition office's staff act in their office role)."""
    unit: str
    role: str
    orphaned: bool
    reason: str = ""


@runtime_checkable
class WorkPlacement(Protocol):
    """Every task has a person: the placement of a work item whose role nobody holds in its unit. None: as named."""

    def place(self, unit: str, role: str) -> Placement | None: ...


@runtime_checkable
class PlacementFactory(Protocol):
    """A placement reading inside the command's own session."""

    def __call__(self, session: Session) -> WorkPlacement: ...


@runtime_checkable
class Sealer(Protocol):
    """Seals journal event hashes with a key kept outside the database, and checks seals."""

    key_id: str

    def seal(self, event_hash_hex: str) -> str: ...

    def problem(self, event_hash_hex: str, seal: str | None) -> str | None: ...


@runtime_checkable
class WorkingCalendars(Protocol):
    """The working-day calendar the deadline helpers compute with, read inside a session when one is given."""

    def calendar(self, region: str = ..., session: Session | None = None) -> Any: ...
