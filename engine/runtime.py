"""The case runtime: every command is one unit of work (load, apply, save, journal, commit) or nothing.

The commands are objects (engine.commands): start, complete a work item, fire due timers, deliver a message,
retry an incident, stop and resume the clock, extend, correct or recompute a deadline, move a case to another version.
`Runtime.execute` runs one: it reads the Clock once; that instant is what the engine, the timers and the script
helpers see during the command, and it is journaled, so that a case can be replayed later (engine.replay) with
the same times and the same recorded service results, through the same `apply`.

A command on a stale case version, or on a task that is no longer ready, raises `Conflict` and changes nothing.
An error inside the engine (a failing handler, a script refused by the sandbox, an uncaught BPMN error) does not
lose the command: the case is saved with the failing task in ERROR and an open incident an admin can retry.

Around the unit of work: definitions and deployments (engine.deployment), deadlines (engine.deadlines), work
items (engine.work_items), verification and seals (engine.verification); the methods here that stand for
them are thin.
"""
from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from functools import partial
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from . import repair, spiff_patches, verification, work_items
from .calendar import import_year
from .calendar.repository import remember_version_key, version_key_columns
from .case_chain import ChainHead
from .clock import Clock
from .commands import (
    Command,
    CompleteTask,
    CorrectDeadline,
    DeliverMessage,
    ExtendDeadline,
    FireTimers,
    MoveToStep,
    Opening,
    PauseDeadlines,
    QueueMessage,
    RecomputeDeadlines,
    RepairData,
    ResumeDeadlines,
    RetryIncidents,
    StartCase,
)
from .context import PAUSED_UNTIL, CommandContext, command_scope, current_command, deadline_sink
from .deadlines import Deadlines, due_date_of, sync_timers
from .deployment import Definitions, DeployedVersion
from .effects import BUILTIN_SINKS
from .errors import Conflict, Invalid, NotFound, ReplayDiverged, RuntimeError_, describe_error
from .handlers import HandlerRegistry
from .journal import SEALER_INFO_KEY, PendingEvent, append as journal_append, to_json
from .ports import DirectoryFactory, PlacementFactory
from .row_writes import (
    DriverWrites,
    RowWrites,
    adopt,
    committed,
    driver_writes,
    insert_sql,
    staged_inserts,
    update_sql,
)
from .sandbox import SandboxEnvironment
from .scripting import LianxinScriptEngine
from .simulation import SIMULATION_ACTOR, Simulation, SimulationFailed, SimulationPlan, SimulationReport
from .state import StateCodec, prune_finished_history
from .state_view import data_of_state
from .store import Case, CaseRegister, CaseText, Incident, JournalEvent, Outbox, Timer, WorkItem
from .tree import (
    JOURNALED_STATES,
    advance,
    all_tasks,
    find_task,
    message_receivers,
    queued_messages,
    state_events,
    timer_due,
    view_data,
)
from .work_items import TaskView, task_view

# Names callers import from here (the runtime's public face), whichever module now owns them.
__all__ = ["PAUSED_UNTIL", "JOURNALED_STATES", "CaseView", "Conflict", "DeployedVersion", "IncidentView", "Invalid",
           "LianxinScriptEngine", "NotFound", "ReplayDiverged", "Runtime", "RuntimeError_",
           "TaskView", "current_command", "deadline_sink", "describe_error", "due_date_of", "find_task",
           "task_view", "timer_due"]

logger = logging.getLogger("lianxin.runtime")

_OPEN_INCIDENTS = select(Incident).where(Incident.case_id == bindparam("case_id"), Incident.resolved_at.is_(None))


@dataclass
class IncidentView:
    id: int
    element_id: str | None
    kind: str
    message: str
    at: datetime


@dataclass
class CaseView:
    id: int
    case_no: str | None
    process_key: str
    definition_id: int
    definition_version: int
    status: str
    version: int
    tasks: list[TaskView]
    incidents: list[IncidentView]
    timers: list[dict]
    # The case data, or a function that makes it on first read: after a command the data is taken from the
    # workflow only when a caller reads it (the desk's form submission never does; a long case's data is
    # thousands of entries, written out and read back as JSON to make it).
    data_source: dict[str, Any] | Callable[[], dict[str, Any]] = field(repr=False)
    created_at: datetime
    updated_at: datetime
    deadlines: list[dict] = field(default_factory=list)
    paused: bool = False

    @property
    def data(self) -> dict[str, Any]:
        if callable(self.data_source):
            self.data_source = self.data_source()
        return self.data_source

    def to_dict(self) -> dict:
        return copy.deepcopy(self.shared_dict())

    def shared_dict(self) -> dict:
        """The view as plain values (`to_dict()`'s keys) that share the case data, timers and deadlines with the
        view instead of copying them: for callers that build new values from them and change none."""
        out = dict(("data", self.data) if f.name == "data_source" else (f.name, getattr(self, f.name))
                   for f in fields(self))
        out["tasks"] = [asdict(t) for t in self.tasks]
        out["incidents"] = [asdict(i) for i in self.incidents]
        return out


class Runtime:
    def __init__(
        self,
        session_factory: sessionmaker,
        clock: Clock,
        handlers: HandlerRegistry,
        *,
        calendar=None,
        ports: dict | None = None,
        cpu_seconds: float = 2.0,
        script_helpers: dict[str, Callable] | None = None,
        read_session_factory: sessionmaker | None = None,
        yellow_workdays: int = 3,
        effect_sinks: dict[str, Callable] | None = None,
        directory: DirectoryFactory | None = None,
        decision_rules: dict | None = None,
        bundle_checks: list[Callable[[list], list]] | None = None,
        role_catalogue: Callable | None = None,
        simulations: Callable[[list], SimulationPlan] | None = None,
        placement: PlacementFactory | None = None,
    ):
        spiff_patches.apply()
        self.session_factory = session_factory
        self.read_sessions = read_session_factory or session_factory
        # Journal seals: the sealer the session factory carries for every writer of the journal (engine.journal).
        self.sealer = getattr(session_factory, "kw", {}).get("info", {}).get(SEALER_INFO_KEY)
        self.clock = clock
        self.handlers = handlers
        self.codec = StateCodec()
        self.deadlines = Deadlines(calendar, yellow_workdays)
        helpers = self.deadlines.helpers()
        helpers.update(script_helpers or {})
        self.helper_names = set(helpers)
        # bundle_checks: checks of a compiled bundle whose reasons the engine does not know (the processes'
        # declared element meanings, the notices they send); each returns Problems, any problem refuses the bundle.
        self.definitions = Definitions(session_factory, self.read_sessions, handlers, self.helper_names,
                                       dict(decision_rules or {}), list(bundle_checks or []),
                                       role_catalogue)  # () -> engine.role_mapping.RoleCatalogue
        self._specs, self._meta = self.definitions.specs, self.definitions.meta
        # simulations: the synthetic cases a new version must run through before it is deployed (engine.simulation)
        self.simulations = simulations
        # placement: where a work item goes when nobody holds its role in its unit (every task has a person)
        self.placement = placement
        sinks = dict(BUILTIN_SINKS)
        sinks.update(effect_sinks or {})
        self.script_engine = LianxinScriptEngine(
            SandboxEnvironment(helpers=helpers, cpu_seconds=cpu_seconds), handlers, ports or {}, sinks, directory
        )

    # What the composition root handed the handlers (ctx.ports), for the services that work beside the runtime.
    ports = property(lambda self: self.script_engine.ports)

    # Settings that live with the part that owns them.
    calendar = property(lambda self: self.deadlines.calendar,
                        lambda self, value: setattr(self.deadlines, "calendar", value))
    yellow_workdays = property(lambda self: self.deadlines.yellow_workdays,
                               lambda self, value: setattr(self.deadlines, "yellow_workdays", value))
    decision_rules = property(lambda self: self.definitions.decision_rules,
                              lambda self, value: setattr(self.definitions, "decision_rules", value))
    role_catalogue = property(lambda self: self.definitions.role_catalogue,
                              lambda self, value: setattr(self.definitions, "role_catalogue", value))
    bundle_checks = property(lambda self: self.definitions.bundle_checks,
                             lambda self, value: setattr(self.definitions, "bundle_checks", list(value)))

    # ---- the unit of work

    def execute(self, command: Command, actor: str, *, expected_version: int | None = None,
                now: datetime | None = None, session: Session | None = None) -> CaseView:
        """Run one command. With `session`, inside the caller's transaction (the caller commits or rolls back),
        so that whatever else the caller writes with it (an idempotency marker, a receipt) stands or falls with
        the command."""
        command.check()
        now = now or self.clock.now()
        if session is not None:
            return self._execute_in(session, command, actor, now, expected_version)
        with self.session_factory() as s:
            with s.begin():
                return self._execute_in(s, command, actor, now, expected_version)

    def _execute_in(self, s: Session, command: Command, actor: str, now: datetime,
                    expected_version: int | None) -> CaseView:
        op = Opening(self, s, actor, now, expected_version)
        command.open(op)
        ctx = CommandContext(op.case.id, actor, now)
        view = self.execute_on(op, command, ctx)
        # Cases the step asked to start (`start_case` effects): after it, in its transaction, linked to it.
        for effect in ctx.effects:
            if effect["kind"] == "start_case":
                child = StartCase(effect["payload"]["process_key"], dict(effect["payload"].get("data") or {}),
                                  parent_case_id=op.case.id)
                self._execute_in(s, child, actor, now, None)
        return view

    def execute_on(self, op: Opening, command: Command, ctx: CommandContext) -> CaseView:
        """The command on a case already locked and loaded (`op.case`, `op.wf`): prepare and apply it, run the
        engine on, then save the state, work items, timers, incidents and journal together."""
        s, case = op.s, op.case
        with s.no_autoflush:
            out = self._apply(op, command, ctx)
        try:
            direct = _case_values(case, out.case_values)  # None: the ORM writes the case object with the rest
            # The rows the step's effects added (a notification, a register entry) go with the writes below
            staged = staged_inserts(s, _EFFECT_ROWS)
            s.flush()  # what else the command changed through the session: timers, incidents, ...
            # The case row under its version lock, then the timers and work items, the effects' new rows and the
            # journal: pre-built statements through the driver, on PostgreSQL in one round trip.
            with driver_writes(s) as w:
                if direct is not None:
                    _write_case(s, case, direct, w)
                for writes in (*out.row_writes, *staged):
                    writes.write(s, w)
                w.executemany(insert_sql(w.dialect, _JOURNAL, _JOURNAL_KEYS), out.journal_rows)
            adopt(s, staged)
        except StaleDataError:
            raise Conflict("案件已被他人同时更新，请刷新后重试（the case was changed concurrently; reload and retry）") from None
        definition_version = self._meta[case.definition_id]["version"]
        return self._case_view(case, definition_version, out.items, out.incidents, out.timers, out.data, ctx.now, s)

    def _apply(self, op: Opening, command: Command, ctx: CommandContext):
        s, case, wf = op.s, op.case, op.wf
        ctx.session, ctx.case, ctx.clock_stopped = s, case, case.paused_at is not None
        before = {t.id: t.state for t in all_tasks(wf)}
        with command_scope(ctx):
            prepared, error = self._run(op, command, ctx)
            first = command.to_event(ctx.actor, ctx.now) if prepared else None
            if first is None and error is None:
                raise Conflict("没有需要变更的期限（nothing to change）")
            events = [first] if first is not None else []
            events.extend(state_events(wf, before, ctx.actor, ctx.now))
            events.extend(_collected_events(ctx))
            # A case without open incidents has another status: only then is the query needed.
            incidents = [] if op.new_case or case.status != "incident" else list(
                s.scalars(_OPEN_INCIDENTS, {"case_id": case.id}))
            if error is not None:
                incidents.extend(_open_incidents(s, case, wf, error, ctx, events))
            prune_finished_history(wf)
            items, item_writes = work_items.sync_work_items(
                s, case, wf, ctx, {} if op.new_case else op.open_items, self._meta.get(case.definition_id, {}),
                self.script_engine, self.placement)
            events.extend(PendingEvent("work_item.unrouted", ctx.actor, ctx.now, w["element_id"], w)
                          for w in ctx.warnings)
            events.extend(PendingEvent("work_item.orphaned", ctx.actor, ctx.now, w["element_id"], w) for w in ctx.orphaned)
            has_timers = bool(self._meta.get(case.definition_id, {}).get("timers", True))
            timers, timer_writes = sync_timers(s, case, wf, ctx, op.new_case, has_timers)
            data = partial(view_data, wf)  # the workflow is not changed after this
        values: dict[str, Any] = {}  # the case row's new values, written by `_write_case`
        if wf.is_completed() and not incidents:
            values["status"], values["completed_at"] = "completed", ctx.now
            events.append(PendingEvent("case.completed", ctx.actor, ctx.now, None, {}))
        else:
            values["status"] = "incident" if incidents else "waiting"
        values["state"] = self.codec.dumps(wf)
        values["updated_at"] = ctx.now
        head = ChainHead(case.id, case.last_seq or 0, case.last_hash or "")
        journal_rows = journal_append(head, events, self.sealer)
        values["last_seq"], values["last_hash"] = head.last_seq, head.last_hash
        return _Outcome(items, incidents, timers, data, journal_rows, values, [timer_writes, item_writes])

    @staticmethod
    def _run(op: Opening, command: Command, ctx: CommandContext) -> tuple[bool, BaseException | None]:
        """Prepare, apply, run the engine on. Engine errors become incidents, the command's effect so far kept."""
        prepared = False
        try:
            command.prepare(op, ctx)
            prepared = True
            command.apply(op.wf, ctx)
            advance(op.wf)
        except (Conflict, NotFound, Invalid):
            raise
        except (KeyboardInterrupt, SystemExit):
            raise  # the process is being stopped: the transaction rolls back, the command is not done
        except BaseException as exc:
            # Not only Exception: whatever a script or handler raised must not end the process that runs it.
            return prepared, exc
        return prepared, None

    def _lock_case(self, s: Session, case_id: int, expected_version: int | None) -> Case:
        # FOR UPDATE (PostgreSQL; SQLite's writer lock already serialises): a command and anything else that
        # appends to the case's journal (comments, attachments, hand-overs) take turns, so sequence numbers
        # never collide; a second completion of the same task waits, then finds it no longer open (409).
        return self._checked_case(verification.lock_case_row(s, case_id), expected_version)

    @staticmethod
    def _checked_case(case: Case, expected_version: int | None) -> Case:
        """A locked case row a command may change: the version the caller saw, and not completed."""
        case_id = case.id
        if expected_version is not None and case.version != expected_version:
            raise Conflict(f"案件已被他人更新（版本 {case.version}，您看到的是 {expected_version}），请刷新后重试"
                           f"（stale case version; reload and try again）",
                           {"current_version": case.version, "expected_version": expected_version})
        if case.status == "completed":
            raise Conflict(f"案件 {case_id} 已办结（case is completed）")
        return case

    def _load(self, s: Session, case: Case) -> BpmnWorkflow:
        return self._read(s, case)[0]

    def _read(self, s: Session, case: Case) -> tuple[BpmnWorkflow, bool]:
        """The case's workflow, and whether its data is plain (engine.state.StateCodec.read)."""
        spec, subprocess_specs = self.load_definition(s, case.definition_id)
        return self.codec.read(case.state, spec, subprocess_specs, self.script_engine)

    # ---- the commands, as callers name them

    def start(self, process_key: str, data: dict | None, actor: str, *, case_no: str | None = None,
              definition_id: int | None = None, session: Session | None = None) -> CaseView:
        """Start a case. With `session`, inside the caller's transaction (see `execute`)."""
        return self.execute(StartCase(process_key, dict(data or {}), case_no, definition_id), actor,
                            session=session)

    def complete(self, work_item_id: int, data: dict | None, actor: str, *,
                 expected_version: int | None = None, session: Session | None = None) -> CaseView:
        """Submit a work item. With `session`, inside the caller's transaction (see `execute`)."""
        return self.execute(CompleteTask(work_item_id, dict(data or {})), actor, expected_version=expected_version,
                            session=session)

    def fire_timers(self, case_id: int, actor: str = "timer", *, now: datetime | None = None,
                    session: Session | None = None) -> CaseView | None:
        """Fire every timer of the case that is due at `now`. Used by the worker, inside its own transaction
        when it passes `session` (so that claiming the timer row and firing it commit together)."""
        now = now or self.clock.now()
        if session is not None:
            self._fire_in(session, case_id, actor, now)
            return None
        with self.session_factory() as s:
            with s.begin():
                self._fire_in(s, case_id, actor, now)
            return self._view(s, case_id)

    def _fire_in(self, s: Session, case_id: int, actor: str, now: datetime) -> None:
        self._execute_in(s, FireTimers(case_id), actor, now, None)

    def deliver_message(self, case_id: int, name: str, payload: dict | None, actor: str) -> CaseView:
        return self.execute(DeliverMessage(case_id, name, dict(payload or {})), actor)

    def queue_message(self, case_id: int, name: str, payload: dict | None, actor: str) -> CaseView:
        """Take a message now and deliver it when the process waits for it (at once if it does already)."""
        return self.execute(QueueMessage(case_id, name, dict(payload or {})), actor)

    def waiting_messages(self, case_id: int) -> list[str]:
        """The names of the messages the case waits for now."""
        with self.session_factory() as s:
            case = s.get(Case, case_id)
            if case is None:
                raise NotFound(f"案件 {case_id} 不存在（no such case）")
            return sorted({d.name for d in message_receivers(self._load(s, case))})

    def queued_messages(self, case_id: int) -> list[dict]:
        with self.session_factory() as s:
            case = s.get(Case, case_id)
            if case is None:
                raise NotFound(f"案件 {case_id} 不存在（no such case）")
            return queued_messages(self._load(s, case))

    def retry_incidents(self, case_id: int, actor: str) -> CaseView:
        return self.execute(RetryIncidents(case_id), actor)

    def repair_data(self, case_id: int, key: str, value: Any, actor: str, reason: str, *,
                    expected_version: int | None = None) -> CaseView:
        """Correct one top-level key of the data the failing steps run on (engine.commands.RepairData)."""
        return self.execute(RepairData(case_id, key, value, reason), actor, expected_version=expected_version)

    def move_to_step(self, case_id: int, element_id: str, actor: str, reason: str, *,
                     expected_version: int | None = None) -> CaseView:
        """Put a case in incident at step `element_id` of its process instead of its failing steps."""
        return self.execute(MoveToStep(case_id, element_id, reason), actor, expected_version=expected_version)

    def failing_steps(self, case_id: int) -> dict:
        """What a repair needs: the failing steps with their data, and the steps the case may be moved to."""
        with self.read_sessions() as s:
            case = s.get(Case, case_id)
            if case is None:
                raise NotFound(f"案件 {case_id} 不存在（no such case）")
            wf = self._load(s, case)
        failing = [{"element_id": getattr(t.task_spec, "bpmn_id", None),
                    "name": getattr(t.task_spec, "bpmn_name", None) or getattr(t.task_spec, "bpmn_id", None),
                    "type": t.task_spec.__class__.__name__,
                    "data": json.loads(to_json({k: v for k, v in t.data.items() if not k.startswith("spiff__")}))}
                   for t in repair.failing_tasks(wf)]
        return {"failing": failing, "steps": repair.steps(wf)}

    def pause_deadlines(self, case_id: int, actor: str, reason: str, basis: str | None = None) -> CaseView:
        """Stop the clock: every running deadline keeps the days it had left and cannot fire until resumed.
        `basis` is the rule that allows it (journaled); whether it may stop here is the caller's to decide."""
        return self.execute(PauseDeadlines(case_id, reason, basis=basis), actor)

    def resume_deadlines(self, case_id: int, actor: str, reason: str = "") -> CaseView:
        return self.execute(ResumeDeadlines(case_id, reason), actor)

    def extend_deadline(self, case_id: int, element_id: str, days: int, actor: str, reason: str,
                        max_days: int = 30) -> CaseView:
        """An approved extension (延期): the deadline of timer `element_id` moves by `days` calendar days from
        its current due date (at most `max_days` in all), and its timer moves with it."""
        return self.execute(ExtendDeadline(case_id, element_id, days, reason, max_days), actor)

    def correct_deadline(self, case_id: int, element_id: str, due_date: str, actor: str, reason: str) -> CaseView:
        """An administrator's correction of a wrong deadline (更正时限): timer `element_id` ends at 24:00 of
        `due_date` (ISO date); journaled as its own act with the reason and the due time before and after."""
        return self.execute(CorrectDeadline(case_id, element_id, due_date, reason), actor)

    def recompute_deadlines(self, actor: str = "calendar", now: datetime | None = None) -> dict:
        """After a calendar year is imported or corrected: recompute every running deadline not yet due,
        move its timer and journal old and new due dates. Returns counts."""
        now = now or self.clock.now()
        with self.read_sessions() as rs:
            rows = rs.execute(select(Timer.case_id, Timer.id).where(
                Timer.status == "pending", Timer.rule.is_not(None), Timer.due_at > now)).all()
        by_case: dict[int, list[int]] = {}
        for r in rows:
            by_case.setdefault(r.case_id, []).append(r.id)
        moved = unchanged = 0
        for case_id, timer_ids in by_case.items():
            command = RecomputeDeadlines(case_id, timer_ids)
            try:
                self.execute(command, actor, now=now)
            except Conflict:
                continue
            if command.deadlines:
                moved += len(command.deadlines)
            else:
                unchanged += len(timer_ids)
        return {"cases": len(by_case), "moved": moved, "unchanged": unchanged}

    def import_calendar(self, path_or_text, actor: str, fmt: str | None = None) -> dict:
        """Import a year's official arrangement, then move every running deadline it changes."""
        now = self.clock.now()
        with self.session_factory() as s, s.begin():
            result = import_year(s, path_or_text, actor, now, fmt=fmt)
        recomputed = self.recompute_deadlines(actor=actor, now=now)
        return {"import": result, "recomputed": recomputed}

    def claim(self, work_item_id: int, user: str, *, unclaim: bool = False) -> TaskView:
        """Claim (认领) or give back (退回) an open work item (engine.work_items.claim)."""
        return work_items.claim(self.session_factory, self.clock.now(), work_item_id, user, unclaim=unclaim)

    def hand_back_orphan(self, work_item_id: int, actor: str) -> TaskView:
        """Give an orphaned work item back to the unit and role it was meant for (engine.work_items)."""
        return work_items.hand_back_orphan(self.session_factory, self.clock.now(), work_item_id, actor)

    def hand_over(self, work_item_id: int, to_user: str, actor: str, kind: str = "reassigned",
                  note: str = "") -> TaskView:
        """Reassign (转办) or delegate (委托) an open work item (engine.work_items.hand_over)."""
        work_items.check_hand_over_kind(kind)
        return work_items.hand_over(self.session_factory, self.clock.now(), work_item_id, to_user, actor, kind,
                                    note)

    # ---- definitions (engine.deployment)

    def load_definition(self, s: Session, definition_id: int):
        return self.definitions.load(s, definition_id)

    def check(self, files) -> None:
        """Validate files exactly as `deploy` would, deploying nothing: raises DefinitionError with every problem
        (the designer's "validate" before a deployment)."""
        self.definitions.compile(list(files))

    def deploy(self, files, actor: str, comment: str = "") -> list[DeployedVersion]:
        """Validate, store the new versions and run the smoke simulation on them in one transaction: a failed
        synthetic case raises SimulationFailed (a DefinitionError naming path and step) and nothing is deployed."""
        versions, _ = self._deploy(list(files), actor, comment, commit=True)
        return versions

    def deploy_and_report(self, files, actor: str, comment: str = "") -> tuple[list[DeployedVersion],
                                                                                 SimulationReport]:
        """`deploy`, also returning the simulation that let it through (empty when no version was new)."""
        return self._deploy(list(files), actor, comment, commit=True)

    def simulate(self, files) -> SimulationReport:
        """Validate and run the smoke simulation exactly as `deploy` would, deploying nothing (the designer's
        "validate"). Raises DefinitionError for static problems; returns the report, passed or not."""
        try:
            _, report = self._deploy(list(files), SIMULATION_ACTOR, "", commit=False)
        except SimulationFailed as failed:
            return failed.report
        return report

    def _deploy(self, files: list, actor: str, comment: str, *, commit: bool):
        now = self.clock.now()
        compiled = self.definitions.compile(files)
        created: list[int] = []
        with self.session_factory() as s:
            s.begin()
            try:
                versions = self.definitions.deploy_in(s, compiled, files, actor, now, comment)
                created = [v.definition_id for v in versions if v.created]
                report = SimulationReport(at=now)
                if self.simulations is not None and (created or not commit):
                    report = self._simulate_in(s, files, versions, now)
                if not report.ok:
                    raise SimulationFailed(report, report.problems(files))
                if commit:
                    s.commit()
            finally:
                if s.in_transaction():
                    # versions that never were: forget their specs before their ids can be handed out again
                    self.definitions.forget(created)
                    s.rollback()
        return versions, report

    def _simulate_in(self, s: Session, files: list, versions: list[DeployedVersion], now: datetime):
        plan = self.simulations(files)
        runnable = {v.process_key: v.definition_id for v in versions if not v.view_only}
        return Simulation(self, s, now, plan.fill_form).run(plan.paths, runnable)

    def list_definitions(self) -> list[dict]:
        return self.definitions.list()

    # ---- deadlines (engine.deadlines)

    def yellow_instant(self, due_at: datetime, lead: int) -> datetime:
        return self.deadlines.yellow_instant(due_at, lead)

    def compute_deadline(self, rule: str, n: int, start: datetime, roll_forward: bool = True,
                         session: Session | None = None):
        return self.deadlines.compute_deadline(rule, n, start, roll_forward, session)

    def alert(self, due_at: datetime | None, now: datetime, cal=None) -> tuple[str, int | None]:
        return self.deadlines.alert(due_at, now, cal)

    def overdue_workdays(self, due_at: datetime | None, now: datetime, cal=None) -> int:
        return self.deadlines.overdue_workdays(due_at, now, cal)

    def deadline_views(self, timers, now: datetime, session: Session | None = None) -> list[dict]:
        return self.deadlines.views(timers, now, session)

    def workdays_between(self, today, due_date, cal=None) -> int:
        return self.deadlines.workdays_between(today, due_date, cal)

    # ---- verification and replay (engine.verification)

    def verify(self, case_id: int, *, seals: bool = True):
        return verification.verify(self, case_id, seals=seals)

    def seal_unsealed(self, actor: str = "admin") -> dict:
        return verification.seal_unsealed(self, actor)

    def replay(self, case_id: int, seq: int | None = None):
        """The case as it stood after event `seq` (the auditor's step-by-step view)."""
        return verification.snapshot(self, case_id, seq)

    # ---- reading

    def get_case(self, case_id: int) -> CaseView:
        with self.read_sessions() as s:
            return self._view(s, case_id)

    def _view(self, s: Session, case_id: int) -> CaseView:
        """The case as a read shows it: the view a command returns (`_case_view`), from the rows read as plain
        rows through the session's connection (`_READ_*`): nothing is changed on a read, so the ORM's objects
        and identity map were only overhead."""
        conn = s.connection()
        values = {"case_id": case_id}
        case = conn.execute(_READ_CASE, values).first()
        if case is None:
            raise NotFound(f"案件 {case_id} 不存在（no such case）")
        remember_version_key(s, case.calendar_years, case.calendar_versions)
        data = self.case_data(s, case)
        items = conn.execute(_READ_OPEN_ITEMS, values).all()
        incidents = conn.execute(_READ_OPEN_INCIDENTS, values).all()
        timers = conn.execute(_READ_RUNNING_TIMERS, values).all()
        return self._case_view(case, self.definitions.version(s, case.definition_id), items, incidents, timers,
                               data, self.clock.now(), s)

    def _case_view(self, case: Case, definition_version: int, items, incidents, timers, data: dict,
                   now: datetime, session: Session | None = None) -> CaseView:
        """The view a command returns and the one a read returns are the same shape, built here only."""
        return CaseView(
            id=case.id, case_no=case.case_no, process_key=case.process_key, definition_id=case.definition_id,
            definition_version=definition_version, status=case.status, version=case.version,
            tasks=sorted((task_view(w) for w in items), key=lambda t: t.id),
            incidents=[IncidentView(i.id, i.element_id, i.kind, i.message, i.at) for i in incidents],
            timers=sorted(({"id": t.id, "element_id": t.element_id, "due_at": t.due_at} for t in timers),
                          key=lambda t: t["due_at"]),
            data_source=data, created_at=case.created_at, updated_at=case.updated_at,
            deadlines=self.deadline_views(timers, now, session), paused=case.paused_at is not None,
        )

    def case_data(self, s: Session, case: Case) -> dict:
        """The case data for showing: from the decoded state where it is plain (engine.state_view, no workflow
        restored), else from the restored workflow; the same dict either way."""
        data = data_of_state(case.state)
        return data if data is not None else view_data(*self._read(s, case))

    def history(self, case_id: int) -> list[dict]:
        with self.read_sessions() as s:
            if s.get(Case, case_id) is None:
                raise NotFound(f"案件 {case_id} 不存在（no such case）")
            rows = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id)
                             .order_by(JournalEvent.seq)).all()
            return [{"seq": r.seq, "at": r.at, "actor": r.actor, "type": r.type, "element_id": r.element_id,
                     "data": json.loads(r.data)} for r in rows]


@dataclass
class _Outcome:
    """What `_apply` leaves to write and to show."""
    items: list[WorkItem]
    incidents: list[Incident]
    timers: list[Timer]
    data: Callable[[], dict]  # the case view data, made on first read (`CaseView.data`)
    journal_rows: list[dict]
    case_values: dict[str, Any]
    row_writes: list[RowWrites]  # timers, work items


# A case read (`Runtime._view`): its statements, built once, their rows read as plain rows (every
# column, by the same names: `_case_view`, `task_view` and the deadline views read them as they read the objects).
# The case row carries the calendar's version key (engine/calendar/repository.py), which the deadline views check
# when a deadline is running: read with the row, not by a statement of its own.
_READ_CASE = select(Case.__table__, *version_key_columns()).where(Case.__table__.c.id == bindparam("case_id"))
_READ_OPEN_ITEMS = (select(WorkItem.__table__)
                    .where(WorkItem.case_id == bindparam("case_id"), WorkItem.state == "open").order_by(WorkItem.id))
_READ_OPEN_INCIDENTS = (select(Incident.__table__)
                        .where(Incident.case_id == bindparam("case_id"), Incident.resolved_at.is_(None))
                        .order_by(Incident.id))
_READ_RUNNING_TIMERS = (select(Timer.__table__)
                        .where(Timer.case_id == bindparam("case_id"), Timer.status.in_(("pending", "paused")))
                        .order_by(Timer.due_at))

_JOURNAL = JournalEvent.__table__
_JOURNAL_KEYS = ("case_id", "seq", "at", "actor", "type", "element_id", "data", "prev_hash", "hash", "hash_alg",
                 "seal")  # the keys of engine.journal.append's rows
_CASES = Case.__table__
# New rows of the built-in effects (engine.effects: `notify`, `register`), and a started case's search words
# (engine.commands StartCase), written with the step's other rows instead of by the ORM's flush, which cost more
# than the statements (a round trip each on PostgreSQL).
_EFFECT_ROWS = (Outbox, CaseRegister, CaseText)


def _case_values(case: Case, values: dict[str, Any]) -> dict[str, Any] | None:
    """The case row's new values to write with `_write_case`, or None when the ORM writes them: when a command or
    a script changed the case object too (a pause, a confidential flag), or the case is new, the values are set on
    the object and the ORM writes everything together, with its own version check."""
    state = inspect(case)
    if state.modified or state.pending or case.version is None:
        for key, value in values.items():
            setattr(case, key, value)
        return None
    return values


def _write_case(s: Session, case: Case, values: dict[str, Any], w: DriverWrites | None = None) -> None:
    """Write the case row's new values and its next version, where the version is still the one loaded (the
    version lock; another version raises StaleDataError, as the ORM does), and tell the case object the values it
    now holds. One UPDATE through the ORM's unit of work cost more than the statement itself. With `w`, among the
    command's other writes (the version check then runs when its result is in)."""
    if w is None:
        with driver_writes(s) as own:
            return _write_case(s, case, values, own)
    old, version = case.version, case.version + 1
    held = case.__dict__
    # Only the columns whose value changes: an unchanged indexed column (the status, mostly) then costs no index
    # update on SQLite, and PostgreSQL can update the row in place (a HOT update) when no indexed column changes.
    values = {key: value for key, value in values.items() if key not in held or held[key] != value}
    values["version"] = version
    keys = tuple(values)

    def check(cursor) -> None:
        if cursor.rowcount != 1:
            raise StaleDataError(f"case {case.id} is no longer at version {old}")
        committed(s, case, values)

    w.execute(update_sql(w.dialect, _CASES, keys, (("id", "case_id"), ("version", "old_version"))),
              dict(values, case_id=case.id, old_version=old), check)


def _collected_events(ctx: CommandContext) -> list[PendingEvent]:
    """What the command collected while it ran: service calls, effects, computed deadlines."""
    events = [PendingEvent("service.called", ctx.actor, ctx.now, call["element_id"], call)
              for call in ctx.service_calls]
    events.extend(PendingEvent(f"effect.{effect['kind']}", ctx.actor, ctx.now, effect["element_id"], effect)
                  for effect in ctx.effects)
    events.extend(PendingEvent("deadline.computed", ctx.actor, ctx.now, dl.get("element_id"), dl)
                  for dl in ctx.deadlines)
    return events


def _open_incidents(s: Session, case: Case, wf: BpmnWorkflow, error: BaseException, ctx: CommandContext,
                    events: list[PendingEvent]) -> list[Incident]:
    message, kind = describe_error(error)
    failed = [t for t in all_tasks(wf) if t.state == TaskState.ERROR]
    incidents = []
    for task in failed or [None]:
        element_id = getattr(task.task_spec, "bpmn_id", None) if task is not None else None
        inc = Incident(case_id=case.id, task_id=str(task.id) if task is not None else None,
                       element_id=element_id, kind=kind, message=message, at=ctx.now)
        s.add(inc)
        incidents.append(inc)
        events.append(PendingEvent("incident.opened", ctx.actor, ctx.now, element_id,
                                   {"kind": kind, "message": message}))
    return incidents
