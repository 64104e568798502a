"""The context of the command being executed (or replayed): its instant, its actor, and what it collects.

Everything the engine runs during a command (scripts, handlers, deadline helpers, SpiffWorkflow's timers) reads
the command's instant from here, never the wall clock. A replay sets `recorded_results`: handlers are then
answered from the journal instead of being called.
"""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import spiff_patches

PAUSED_UNTIL = "9999-12-31T00:00:00+00:00"  # a paused timer's event value: it cannot fire while the clock stops


@dataclass
class CommandContext:
    case_id: int
    actor: str
    now: datetime
    service_calls: list[dict] = field(default_factory=list)
    deadlines: list[dict] = field(default_factory=list)
    effects: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    orphaned: list[dict] = field(default_factory=list)  # work items placed with a petition office (无人可办)
    recorded_results: list | None = None  # replay: results to hand back instead of calling handlers
    session: Any = None
    case: Any = None
    clock_stopped: bool = False  # the case's deadlines are paused (replay keeps track of it from the journal)

    @property
    def replaying(self) -> bool:
        return self.recorded_results is not None


_current: contextvars.ContextVar[CommandContext | None] = contextvars.ContextVar("lianxin_command", default=None)
evaluating: contextvars.ContextVar[Any] = contextvars.ContextVar("lianxin_evaluating_task", default=None)
deadline_sink: contextvars.ContextVar[list | None] = contextvars.ContextVar("lianxin_deadline_sink", default=None)


def current_command() -> CommandContext:
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("no command in progress")
    return ctx


def current_or_none() -> CommandContext | None:
    return _current.get()


@contextlib.contextmanager
def command_scope(ctx: CommandContext) -> Iterator[CommandContext]:
    """Run the engine inside `ctx`: its instant is the engine's clock, its lists collect what happens."""
    token_cmd = _current.set(ctx)
    token_now = spiff_patches.set_command_instant(ctx.now)
    try:
        yield ctx
    finally:
        spiff_patches.reset_command_instant(token_now)
        _current.reset(token_cmd)
