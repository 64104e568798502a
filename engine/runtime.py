"""The case runtime: every command is one unit of work (load, run, save, journal, commit) or nothing.

Commands: deploy, start, complete a work item, fire due timers, deliver a message, retry an incident.
Each reads the Clock once; that instant is what the engine, the timers and the script helpers see during the
command, and it is journaled, so that a case can be replayed later with the same times and the same recorded
service results.

A command on a stale case version, or on a task that is no longer ready, raises `Conflict` and changes nothing.
An error inside the engine (a failing handler, a script refused by the sandbox, an uncaught BPMN error) does not
lose the command: the case is saved with the failing task in ERROR and an open incident an admin can retry.
"""
from __future__ import annotations

import contextvars
import copy
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from . import spiff_patches
from .calendar.display import due_day, overdue_workdays
from .clock import SHANGHAI, Clock
from .handlers import HandlerContext, HandlerFailed, HandlerRegistry
from .journal import (
    SEALER_INFO_KEY,
    ChainCheck,
    PendingEvent,
    append as journal_append,
    to_json,
    verify_chain,
)
from .ports import DirectoryFactory
from .state import STATE_FORMAT, StateCodec, prune_finished_history
from .store import Case, Deployment, Incident, JournalEvent, ProcessDefinition, Timer, WorkItem

JOURNALED_STATES = {
    TaskState.READY: "ready",
    TaskState.STARTED: "started",
    TaskState.WAITING: "waiting",
    TaskState.COMPLETED: "completed",
    TaskState.ERROR: "error",
    TaskState.CANCELLED: "cancelled",
}


logger = logging.getLogger("lianxin.runtime")

# Statements built once: building SQL expressions costs more per step than running them on SQLite.
_ITEM_WITH_CASE = (select(WorkItem, Case).join(Case, Case.id == WorkItem.case_id)
                   .where(WorkItem.id == bindparam("item_id")))
_OPEN_ITEMS = select(WorkItem).where(WorkItem.case_id == bindparam("case_id"), WorkItem.state == "open")
_LIVE_TIMERS = select(Timer).where(Timer.case_id == bindparam("case_id"), Timer.status.in_(("pending", "paused")))
_OPEN_INCIDENTS = select(Incident).where(Incident.case_id == bindparam("case_id"), Incident.resolved_at.is_(None))


# Compiled bundles by content (immutable results, shared by every runtime in the process; bounded).
_COMPILED_BUNDLES: dict[str, list] = {}


class RuntimeError_(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, details: Any = None):
        super().__init__(message)
        self.message = message
        self.details = details


class ReplayDiverged(Exception):
    """Replaying a journal asked the outside world something it was not asked the first time."""


class Conflict(RuntimeError_):
    code, status = "conflict", 409


class NotFound(RuntimeError_):
    code, status = "not_found", 404


class Invalid(RuntimeError_):
    code, status = "invalid", 422


# ---------------------------------------------------------------- views returned to callers

@dataclass
class TaskView:
    id: int
    case_id: int
    task_id: str
    element_id: str
    name: str
    process_key: str
    role: str | None
    unit: str | None
    lane: str | None
    form: str | None
    assignee: str | None
    state: str
    created_at: datetime
    due_at: datetime | None


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
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    deadlines: list[dict] = field(default_factory=list)
    paused: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DeployedVersion:
    process_key: str
    name: str
    version: int
    definition_id: int
    content_hash: str
    created: bool
    view_only: bool = False  # isExecutable="false": stored and listed, never started


# ---------------------------------------------------------------- the command context

@dataclass
class _Command:
    case_id: int
    actor: str
    now: datetime
    service_calls: list[dict] = field(default_factory=list)
    deadlines: list[dict] = field(default_factory=list)
    effects: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    recorded_results: list | None = None  # replay: results to hand back instead of calling handlers
    session: Any = None
    case: Any = None


_current: contextvars.ContextVar[_Command | None] = contextvars.ContextVar("lianxin_command", default=None)


def current_command() -> _Command:
    cmd = _current.get()
    if cmd is None:
        raise RuntimeError("no command in progress")
    return cmd


_evaluating: contextvars.ContextVar[Any] = contextvars.ContextVar("lianxin_evaluating_task", default=None)
deadline_sink: contextvars.ContextVar[list | None] = contextvars.ContextVar("lianxin_deadline_sink", default=None)
PAUSED_UNTIL = "9999-12-31T00:00:00+00:00"  # a paused timer's event value: it cannot fire while the clock stops


class LianxinScriptEngine(PythonScriptEngine):
    """Routes service tasks to the handler registry, recording each call and its result, and tells the
    deadline helpers which task is evaluating them (so a deadline is attributed to its timer)."""

    def __init__(self, environment, handlers: HandlerRegistry, ports: dict, sinks: dict,
                 directory: DirectoryFactory | None = None):
        super().__init__(environment=environment)
        self.handlers = handlers
        self.ports = ports
        self.sinks = sinks
        self.directory = directory

    def evaluate(self, task, expression, external_context=None):
        token = _evaluating.set(task)
        try:
            return super().evaluate(task, expression, external_context)
        finally:
            _evaluating.reset(token)

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        cmd = current_command()
        params = {k: v["value"] if isinstance(v, dict) and "value" in v else v
                  for k, v in (operation_params or {}).items()}
        element_id = task.task_spec.bpmn_id
        call = {"handler": operation_name, "element_id": element_id, "params": json.loads(to_json(params))}
        if cmd.recorded_results is not None:  # replay: the outside world answers as it answered then
            if not cmd.recorded_results:
                raise ReplayDiverged(f"replay asked {operation_name} at {element_id} for a result never recorded")
            recorded = cmd.recorded_results.pop(0)
            if recorded.get("handler") != operation_name or recorded.get("element_id") != element_id:
                raise ReplayDiverged(f"replay called {operation_name} at {element_id}, the journal has "
                                     f"{recorded.get('handler')} at {recorded.get('element_id')}")
            if "error" in recorded:
                raise HandlerFailed(operation_name, RuntimeError(recorded["error"]))
            result = recorded["result"]
        else:
            ports = dict(self.ports)
            if cmd.session is not None and self.directory is not None:
                ports.setdefault("directory", self.directory(cmd.session))
            ctx = HandlerContext(case_id=cmd.case_id, element_id=element_id, now=cmd.now, actor=cmd.actor,
                                 data=copy.deepcopy(task.data), ports=ports)
            try:
                result = self.handlers.call(operation_name, params, ctx)
                self._apply_effects(cmd, operation_name, element_id, ctx.effects)
            except HandlerFailed as exc:
                cmd.service_calls.append(dict(call, error=str(exc.original) or exc.original.__class__.__name__))
                raise
        cmd.service_calls.append(dict(call, result=json.loads(to_json(result))))
        return to_json(result)

    def _apply_effects(self, cmd: _Command, handler: str, element_id: str, effects) -> None:
        """Effects are written now, into the command's session: a malformed one fails the service task (an
        incident, retried with the handler), and none is written unless the whole step commits."""
        from .effects import EffectContext, EffectError

        s = cmd.session
        staged_before = set(s.new)
        applied = []
        try:
            for i, (kind, payload) in enumerate(effects):
                sink = self.sinks.get(kind)
                if sink is None:
                    raise EffectError(f"未知的副作用 {kind}（unknown effect kind; known: {', '.join(sorted(self.sinks))}）")
                seq_hint = f"{cmd.case.last_seq}.{len(cmd.service_calls)}.{i}"
                outcome = sink(s, payload, EffectContext(cmd.case, element_id, cmd.now, cmd.actor, seq_hint))
                applied.append({"kind": kind, "element_id": element_id, "payload": json.loads(to_json(payload)),
                                "outcome": outcome})
        except EffectError as exc:
            for obj in set(s.new) - staged_before:  # all of this call's effects, or none
                s.expunge(obj)
            raise HandlerFailed(handler, exc) from exc
        cmd.effects.extend(applied)


class _CheckedDecision(DMNEngine):
    """A decision table whose outputs have declared types (engine.definitions.DecisionRules): each result is
    checked before the process sees it."""

    def __init__(self, table, rules):
        super().__init__(table)
        self.rules = rules

    def result(self, task):
        result = super().result(task)
        cmd = _current.get()
        if cmd is not None and cmd.recorded_results is not None:
            return result  # a replay (audit, migration check) reproduces what was decided then, checked or not
        issues = self.rules.result_issues(result)
        if issues:
            raise ValueError("；".join(issues))
        return result


def _check_decision_results(spec_and_subprocesses: tuple, decision_rules: dict) -> None:
    """Business rule tasks whose table gives outputs with declared types check each result before the process
    sees it: a bad value deployed before the rule existed stops the task with the rule's words (an incident at
    that task), instead of becoming a wrong deadline."""
    if not decision_rules:
        return
    spec, subprocess_specs = spec_and_subprocesses
    for process_spec in [spec, *subprocess_specs.values()]:
        for task_spec in process_spec.task_specs.values():
            engine = getattr(task_spec, "dmnEngine", None)
            if engine is None:
                continue
            names = {o.name for o in engine.decision_table.outputs}
            for rules in decision_rules.values():
                if names & rules.outputs:
                    task_spec.dmnEngine = _CheckedDecision(engine.decision_table, rules)
                    break


# ---------------------------------------------------------------- the runtime

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
        decision_rules: dict | None = None,
        directory: DirectoryFactory | None = None,
    ):
        spiff_patches.apply()
        from .sandbox import SandboxEnvironment  # local: keeps import of RestrictedPython off the module path

        self.session_factory = session_factory
        self.read_sessions = read_session_factory or session_factory
        # Journal seals: the sealer the session factory carries for every writer of the journal (engine.journal).
        self.sealer = getattr(session_factory, "kw", {}).get("info", {}).get(SEALER_INFO_KEY)
        self.yellow_workdays = yellow_workdays
        # Types and bounds of decision outputs (engine.definitions.DecisionRules), by decision id: checked at
        # deploy, and on every result at run time.
        self.decision_rules = dict(decision_rules or {})
        self.clock = clock
        self.handlers = handlers
        self.calendar = calendar
        self.codec = StateCodec()
        self._specs: dict[int, tuple] = {}
        self._meta: dict[int, dict] = {}
        helpers = self._builtin_helpers()
        helpers.update(script_helpers or {})
        self.helper_names = set(helpers)
        from .effects import BUILTIN_SINKS

        sinks = dict(BUILTIN_SINKS)
        sinks.update(effect_sinks or {})
        self.script_engine = LianxinScriptEngine(
            SandboxEnvironment(helpers=helpers, cpu_seconds=cpu_seconds), handlers, ports or {}, sinks, directory
        )

    # ---- helpers visible to BPMN expressions. They read the command's instant, never the wall clock.

    def _builtin_helpers(self) -> dict[str, Callable]:
        def now() -> str:
            return current_command().now.astimezone(SHANGHAI).isoformat()

        def workdays(n, start=None) -> str:
            return self._deadline("WD", n, start)

        def days(n, start=None, roll_forward=True) -> str:
            return self._deadline("CAL", n, start, roll_forward=roll_forward)

        def yellow_at(due, lead=None) -> str:
            """When a deadline due at `due` turns yellow: the start (00:00 Beijing time) of the first day with at
            most `lead` working days left — the same rule as the alerts in task lists. For reminder timers:
            `yellow_at(days(60, accepted_at), limits["yellow_lead_days"])`."""
            lead = self.yellow_workdays if lead is None else lead
            instant = self.yellow_instant(datetime.fromisoformat(str(due)), lead)
            cmd, task = current_command(), _evaluating.get()
            if task is not None:  # the deadline just computed for this timer is the one it reminds of
                for info in reversed(cmd.deadlines):
                    if info.get("task_id") == str(task.id) and info.get("due_at") == str(due):
                        info["reminder"] = {"lead": lead, "deadline_due_at": str(due)}
                        break
            return instant.isoformat()

        return {"now": now, "workdays": workdays, "days": days, "yellow_at": yellow_at}

    def yellow_instant(self, due_at: datetime, lead: int) -> datetime:
        if not isinstance(lead, int) or isinstance(lead, bool) or lead < 0:
            raise ValueError(f"黄色预警提前量必须是非负整数，收到 {lead!r}（lead must be a whole number ≥ 0）")
        due_date = due_date_of(due_at)
        cal = self._command_calendar()
        day, left = due_date, 0  # `left`: working days after `day` up to the due date
        while True:
            extra = 1 if cal.is_workday(day) else 0  # stepping back one day adds `day` itself
            if left + extra > lead:
                break
            left += extra
            day = day - timedelta(days=1)
        return datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI)

    def _deadline(self, rule: str, n, start=None, roll_forward=True) -> str:
        cmd = current_command()
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"期限天数必须是非负整数，收到 {n!r}（deadline days must be a whole number ≥ 0）")
        if self.calendar is None:
            raise RuntimeError("no working-day calendar configured")
        begin = cmd.now if start is None else datetime.fromisoformat(str(start))
        deadline = self.compute_deadline(rule, n, begin, roll_forward)
        info = deadline.to_dict()
        task = _evaluating.get()
        if task is not None:
            info["task_id"] = str(task.id)
            info["element_id"] = getattr(task.task_spec, "bpmn_id", None)
        info["start_at"] = begin.isoformat()
        cmd.deadlines.append(info)
        sink = deadline_sink.get()
        if sink is not None:  # a replay that must know the rules behind its timers (case migration)
            sink.append(info)
        return deadline.due_at.isoformat()

    def compute_deadline(self, rule: str, n: int, start: datetime, roll_forward: bool = True):
        if rule == "WD":
            return self._command_calendar().due(start, workdays=n)
        return self._command_calendar().due(start, days=n, roll_forward=roll_forward)

    def _command_calendar(self):
        """The calendar snapshot, checked through the running command's own session when there is one: one
        version read per transaction, and no second connection taken from the pool while the case row is
        locked (a completion computing three deadlines took three)."""
        cmd = _current.get()
        return self.calendar.calendar(session=cmd.session if cmd is not None else None)

    # ---- definitions

    def load_definition(self, s: Session, definition_id: int):
        spec = self._specs.get(definition_id)
        if spec is None:
            from .definitions import load_specs

            row = s.get(ProcessDefinition, definition_id)
            if row is None:
                raise NotFound(f"流程定义 {definition_id} 不存在（no such definition）")
            if not row.spec_json:
                raise Invalid(_view_only_message(row.process_key), {"process_key": row.process_key})
            spec = load_specs(row.spec_json)
            _check_decision_results(spec, self.decision_rules)
            self._specs[definition_id] = spec
            meta = json.loads(row.meta_json or "{}")
            meta["version"] = row.version
            self._meta[definition_id] = meta
        return spec

    def check(self, files) -> None:
        """Validate files exactly as `deploy` would, deploying nothing: raises DefinitionError with every problem
        (the designer's "validate" before a deployment)."""
        self._compile(list(files))

    def _compile(self, files: list) -> list:
        from . import sandbox
        from .definitions import SourceFile, compile_bundle

        # A bundle that needs nothing from earlier deployments compiles to the same result every time: keep it,
        # so that `lianxin init` on every start (and tests) do not re-parse unchanged diagrams.
        bundle_key = hashlib.sha256(b"\0".join(
            f.name.encode("utf-8") + b"\0" + hashlib.sha256(f.content).digest()
            for f in sorted(files, key=lambda f: f.name))
            + "|".join(sorted(self.handlers.names()) + ["#"] + sorted(self.helper_names) + ["#"]
                       + [f"{k}={type(v).__qualname__}:{id(v)}" for k, v in sorted(self.decision_rules.items())]
                       ).encode()
        ).hexdigest()
        compiled = _COMPILED_BUNDLES.get(bundle_key)
        if compiled is None:
            used_external = []
            with self.read_sessions() as rs:
                def resolve_external(process_id: str):
                    used_external.append(process_id)
                    row = self._latest(rs, process_id)
                    if row is None:
                        return None
                    return [SourceFile(name, text.encode("utf-8"))
                            for name, text in json.loads(row.sources_json).items()]

                compiled = compile_bundle(
                    files, handler_names=self.handlers.names(), check_expression=sandbox.check_expression,
                    check_script=sandbox.check_script, known_functions=self.helper_names | sandbox.BUILTIN_NAMES,
                    resolve_external=resolve_external, decision_rules=self.decision_rules,
                )
            if not used_external:
                if len(_COMPILED_BUNDLES) >= 16:
                    _COMPILED_BUNDLES.pop(next(iter(_COMPILED_BUNDLES), None), None)
                _COMPILED_BUNDLES[bundle_key] = compiled
        return compiled

    def deploy(self, files, actor: str, comment: str = "") -> list[DeployedVersion]:
        from .definitions import load_specs

        now = self.clock.now()
        files = list(files)
        compiled = self._compile(files)
        with self.session_factory() as s, s.begin():
            by_id = {cp.process_id: {"user_tasks": cp.user_tasks, "timers": cp.timers} for cp in compiled}
            deployment = Deployment(at=now, actor=actor, comment=comment,
                                    files=to_json(sorted({f.name for f in files})))
            s.add(deployment)
            s.flush()
            out = []
            for cp in compiled:
                existing = s.scalar(select(ProcessDefinition).where(
                    ProcessDefinition.process_key == cp.process_id,
                    ProcessDefinition.content_hash == cp.content_hash))
                if existing is not None:
                    out.append(DeployedVersion(cp.process_id, existing.name, existing.version, existing.id,
                                               existing.content_hash, False, not cp.is_executable))
                    continue
                # a non-executable process (isExecutable="false") is kept as a view-only model: no spec to load
                _, subprocess_specs = load_specs(cp.spec_json) if cp.is_executable else (None, {})
                user_tasks, timers = dict(cp.user_tasks), dict(cp.timers)
                for sub_id in subprocess_specs:
                    sub = by_id.get(sub_id) or self._compiled_external(s, sub_id)
                    if sub is None:
                        timers["?"] = {"unknown": sub_id}  # can't tell: keep the timer query on
                        continue
                    for k, v in sub["user_tasks"].items():
                        user_tasks.setdefault(k, v)
                    timers.update(sub["timers"])
                latest = s.scalar(select(func.max(ProcessDefinition.version)).where(
                    ProcessDefinition.process_key == cp.process_id)) or 0
                from SpiffWorkflow.version import __version__ as spiff_version

                row = ProcessDefinition(
                    process_key=cp.process_id, name=cp.name or cp.process_id, version=latest + 1,
                    content_hash=cp.content_hash, spec_json=cp.spec_json,
                    sources_json=json.dumps(cp.sources, ensure_ascii=False),
                    meta_json=to_json({"user_tasks": user_tasks, "timers": timers,
                                       "flows": _sequence_flows(cp.sources),
                                       "subprocesses": sorted(subprocess_specs),
                                       "executable": cp.is_executable}),
                    library_version=spiff_version, deployment_id=deployment.id, deployed_at=now, deployed_by=actor,
                )
                s.add(row)
                s.flush()
                out.append(DeployedVersion(cp.process_id, row.name, row.version, row.id, row.content_hash, True,
                                           not cp.is_executable))
            return out

    def _compiled_external(self, s: Session, process_key: str) -> dict | None:
        row = self._latest(s, process_key)
        return None if row is None else json.loads(row.meta_json or "{}")

    @staticmethod
    def _latest(s: Session, process_key: str) -> ProcessDefinition | None:
        return s.scalar(select(ProcessDefinition).where(ProcessDefinition.process_key == process_key)
                        .order_by(ProcessDefinition.version.desc()).limit(1))

    def list_definitions(self) -> list[dict]:
        with self.read_sessions() as s:
            rows = s.execute(select(ProcessDefinition.id, ProcessDefinition.process_key, ProcessDefinition.name,
                                    ProcessDefinition.version, ProcessDefinition.content_hash,
                                    ProcessDefinition.deployed_at, ProcessDefinition.deployed_by,
                                    (ProcessDefinition.spec_json == "").label("view_only"))
                             .order_by(ProcessDefinition.process_key, ProcessDefinition.version)).all()
            counts = dict(s.execute(select(Case.definition_id, func.count()).where(
                Case.status != "completed").group_by(Case.definition_id)).all())
        out: dict[str, dict] = {}
        for r in rows:
            entry = out.setdefault(r.process_key, {"key": r.process_key, "name": r.name, "versions": []})
            entry["name"] = r.name
            entry["view_only"] = bool(r.view_only)  # as its latest version: isExecutable="false", cannot start
            entry["versions"].append({"id": r.id, "version": r.version, "content_hash": r.content_hash,
                                      "deployed_at": r.deployed_at, "deployed_by": r.deployed_by,
                                      "view_only": bool(r.view_only), "open_cases": counts.get(r.id, 0)})
        return list(out.values())

    # ---- commands

    def start(self, process_key: str, data: dict | None, actor: str, *, case_no: str | None = None,
              definition_id: int | None = None, session: Session | None = None) -> CaseView:
        """Start a case. With `session`, inside the caller's transaction (the caller commits or rolls back),
        so that whatever else the caller writes with it (an idempotency marker, a receipt) stands or falls
        with the new case."""
        data = dict(data or {})
        now = self.clock.now()
        if session is not None:
            return self._start_in(session, process_key, data, actor, now, case_no, definition_id)
        with self.session_factory() as s:
            with s.begin():
                return self._start_in(s, process_key, data, actor, now, case_no, definition_id)

    def _start_in(self, s: Session, process_key: str, data: dict, actor: str, now: datetime,
                  case_no: str | None, definition_id: int | None) -> CaseView:
        if definition_id is None:
            row = self._latest(s, process_key)
        else:
            row = s.get(ProcessDefinition, definition_id)
        if row is None or row.process_key != process_key:
            raise NotFound(f"流程 {process_key} 尚未部署（process {process_key} is not deployed; run lianxin deploy）")
        spec, subprocess_specs = self.load_definition(s, row.id)
        case = Case(case_no=case_no, definition_id=row.id, process_key=process_key, status="running",
                    state="", state_format=STATE_FORMAT, created_at=now, updated_at=now, started_by=actor,
                    summary_json=to_json(_summary(data)), last_seq=0, last_hash="")
        s.add(case)
        s.flush()
        wf = BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
        cmd = _Command(case.id, actor, now)

        def run(wf):
            start_task = wf.get_next_task(state=TaskState.READY)
            start_task.data.update(copy.deepcopy(data))
            return None

        first = PendingEvent("case.started", actor, now, None,
                             {"process_key": process_key, "definition_id": row.id, "version": row.version,
                              "case_no": case_no, "data": data, "now": now.isoformat()})
        return self._execute(s, case, wf, cmd, first, run, new_case=True)

    def complete(self, work_item_id: int, data: dict | None, actor: str, *,
                 expected_version: int | None = None, session: Session | None = None) -> CaseView:
        """Submit a work item. With `session`, inside the caller's transaction (see `start`)."""
        data = dict(data or {})
        now = self.clock.now()
        if session is not None:
            return self._complete_in(session, work_item_id, data, actor, now, expected_version)
        with self.session_factory() as s:
            with s.begin():
                return self._complete_in(s, work_item_id, data, actor, now, expected_version)

    def _complete_in(self, s: Session, work_item_id: int, data: dict, actor: str, now: datetime,
                     expected_version: int | None) -> CaseView:
        found = s.execute(_ITEM_WITH_CASE, {"item_id": work_item_id}).first()  # one round trip for both
        if found is None:
            raise NotFound(f"任务 {work_item_id} 不存在（no such task）")
        item = found[0]
        if item.state != "open":
            raise Conflict(f"任务 {work_item_id} 已{_STATE_CN.get(item.state, item.state)}，不能再次办理"
                           f"（task is {item.state}; reload the task list）",
                           {"state": item.state})
        case = self._lock_case(s, item.case_id, expected_version)
        wf = self._load(s, case)
        task = find_task(wf, item.task_id)
        if task is None or task.state != TaskState.READY:
            raise Conflict(f"任务 {work_item_id} 已不在待办状态（task is no longer ready; reload the case）")
        cmd = _Command(case.id, actor, now)

        def run(wf):
            task.set_data(**copy.deepcopy(data))
            task.run()

        first = PendingEvent("task.submitted", actor, now, item.element_id,
                             {"work_item_id": item.id, "task_id": item.task_id, "data": data,
                              "now": now.isoformat()})
        return self._execute(s, case, wf, cmd, first, run)

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
        case = self._lock_case(s, case_id, None)
        wf = self._load(s, case)
        cmd = _Command(case.id, actor, now)
        due = s.scalars(select(Timer).where(Timer.case_id == case_id, Timer.status == "pending",
                                            Timer.due_at <= now)).all()
        if not due:
            raise Conflict(f"案件 {case_id} 没有到期的定时器（no timer due）")

        def run(wf):
            spiff_patches.refresh_due_timers(wf)

        first = PendingEvent("timer.fired", actor, now, None,
                             {"timers": [{"id": t.id, "element_id": t.element_id, "due_at": t.due_at.isoformat()}
                                         for t in due], "now": now.isoformat()})
        self._execute(s, case, wf, cmd, first, run)

    def deliver_message(self, case_id: int, name: str, payload: dict | None, actor: str) -> CaseView:
        payload = dict(payload or {})
        now = self.clock.now()
        with self.session_factory() as s:
            with s.begin():
                case = self._lock_case(s, case_id, None)
                wf = self._load(s, case)
                receivers = {}
                for task in _all_tasks(wf):
                    definition = getattr(task.task_spec, "event_definition", None)
                    if task.state == TaskState.WAITING and isinstance(definition, MessageEventDefinition):
                        receivers.setdefault(definition.name, definition)
                if name not in receivers:
                    raise Conflict(f"案件 {case_id} 没有在等待消息 “{name}”（the case is not waiting for this message;"
                                   f" waiting for: {', '.join(sorted(receivers)) or 'nothing'}）")
                cmd = _Command(case.id, actor, now)

                def run(wf):
                    # The waiting task's own definition object: SpiffWorkflow matches messages by class and name.
                    wf.send_event(BpmnEvent(receivers[name], payload))

                first = PendingEvent("message.delivered", actor, now, None,
                                     {"name": name, "payload": payload, "now": now.isoformat()})
                return self._execute(s, case, wf, cmd, first, run)

    def retry_incidents(self, case_id: int, actor: str) -> CaseView:
        now = self.clock.now()
        with self.session_factory() as s:
            with s.begin():
                case = self._lock_case(s, case_id, None)
                open_incidents = s.scalars(select(Incident).where(Incident.case_id == case_id,
                                                                  Incident.resolved_at.is_(None))).all()
                if not open_incidents:
                    raise Conflict(f"案件 {case_id} 没有待处理的故障（no open incident）")
                wf = self._load(s, case)
                cmd = _Command(case.id, actor, now)
                for inc in open_incidents:
                    inc.resolved_at = now
                    inc.resolved_by = actor
                for t in s.scalars(select(Timer).where(Timer.case_id == case_id, Timer.status == "failed")):
                    t.status, t.attempts, t.next_attempt_at = "pending", 0, None  # the worker tries again
                s.flush()

                def run(wf):
                    for task in _all_tasks(wf):
                        if task.state == TaskState.ERROR:
                            task._set_state(TaskState.READY)

                first = PendingEvent("incident.retried", actor, now, None,
                                     {"incidents": [i.id for i in open_incidents], "now": now.isoformat()})
                return self._execute(s, case, wf, cmd, first, run)

    # ---- the unit of work

    def _lock_case(self, s: Session, case_id: int, expected_version: int | None) -> Case:
        # FOR UPDATE (PostgreSQL; SQLite's writer lock already serialises): a command and anything else that
        # appends to the case's journal (comments, attachments, hand-overs) take turns, so sequence numbers
        # never collide; a second completion of the same task waits, then finds it no longer open (409).
        case = self._lock_case_row(s, case_id)
        if expected_version is not None and case.version != expected_version:
            raise Conflict(f"案件已被他人更新（版本 {case.version}，您看到的是 {expected_version}），请刷新后重试"
                           f"（stale case version; reload and try again）",
                           {"current_version": case.version, "expected_version": expected_version})
        if case.status == "completed":
            raise Conflict(f"案件 {case_id} 已办结（case is completed）")
        return case

    def _load(self, s: Session, case: Case) -> BpmnWorkflow:
        spec, subprocess_specs = self.load_definition(s, case.definition_id)
        return self.codec.loads(case.state, spec, subprocess_specs, self.script_engine)

    def _execute(self, s: Session, case: Case, wf: BpmnWorkflow, cmd: _Command, first: PendingEvent | None,
                 run: Callable, new_case: bool = False, journal_first_after: dict | None = None) -> CaseView:
        with s.no_autoflush:
            outcome = self._execute_unflushed(s, case, wf, cmd, first, run, new_case, journal_first_after)
        items, incidents, timers, data, journal_rows = outcome
        try:
            s.flush()
        except StaleDataError:
            raise Conflict("案件已被他人同时更新，请刷新后重试（the case was changed concurrently; reload and retry）") from None
        # One executemany after the case row moved under its version lock: no ORM bookkeeping for history.
        s.execute(JournalEvent.__table__.insert(), journal_rows)
        definition_version = self._meta[case.definition_id]["version"]
        return self._case_view(case, definition_version, items, incidents, timers, data, cmd.now, s)

    def _execute_unflushed(self, s, case, wf, cmd, first, run, new_case, journal_first_after=None):
        cmd.session, cmd.case = s, case
        before = {t.id: t.state for t in _all_tasks(wf)}
        token_cmd = _current.set(cmd)
        token_now = spiff_patches.set_command_instant(cmd.now)
        error: BaseException | None = None
        try:
            try:
                run(wf)
                _advance(wf)
            except (Conflict, NotFound, Invalid):
                raise
            except (KeyboardInterrupt, SystemExit):
                raise  # the process is being stopped: the transaction rolls back, the command is not done
            except BaseException as exc:  # engine errors become incidents; the command's effect so far is kept
                # Not only Exception: whatever a script or handler raised must not end the process that runs it.
                error = exc
            if journal_first_after is not None:
                first = journal_first_after.get("event")
                if first is None and error is None:
                    raise Conflict("没有需要变更的期限（nothing to change）")
            events = [first] if first is not None else []
            events.extend(self._state_events(wf, before, cmd))
            for call in cmd.service_calls:
                events.append(PendingEvent("service.called", cmd.actor, cmd.now, call["element_id"], call))
            for effect in cmd.effects:
                events.append(PendingEvent(f"effect.{effect['kind']}", cmd.actor, cmd.now, effect["element_id"],
                                           effect))
            for dl in cmd.deadlines:
                events.append(PendingEvent("deadline.computed", cmd.actor, cmd.now, dl.get("element_id"), dl))
            # A case without open incidents has another status: only then is the query needed.
            incidents = [] if new_case or case.status != "incident" else list(s.scalars(_OPEN_INCIDENTS, {"case_id": case.id}))
            if error is not None:
                new_incidents, incident_events = self._open_incidents(s, case, wf, error, cmd)
                incidents.extend(new_incidents)
                events.extend(incident_events)
            prune_finished_history(wf)
            items = self._sync_work_items(s, case, wf, cmd, new_case)
            for warning in cmd.warnings:
                events.append(PendingEvent("work_item.unrouted", cmd.actor, cmd.now, warning["element_id"], warning))
            timers = self._sync_timers(s, case, wf, cmd, new_case)
            data = _view_data(wf)
        finally:
            spiff_patches.reset_command_instant(token_now)
            _current.reset(token_cmd)

        has_incident = bool(incidents)
        if wf.is_completed() and not has_incident:
            case.status = "completed"
            case.completed_at = cmd.now
            events.append(PendingEvent("case.completed", cmd.actor, cmd.now, None, {}))
        else:
            case.status = "incident" if has_incident else "waiting"
        case.state = self.codec.dumps(wf)
        case.updated_at = cmd.now
        rows = journal_append(case, events, self.sealer)
        return items, incidents, timers, data, rows

    def _state_events(self, wf: BpmnWorkflow, before: dict, cmd: _Command) -> list[PendingEvent]:
        changed = []
        for task in _all_tasks(wf):
            label = JOURNALED_STATES.get(task.state)
            if label is None or before.get(task.id) == task.state:
                continue
            spec = task.task_spec
            element_id = getattr(spec, "bpmn_id", None)
            if element_id is None:
                continue
            data: dict[str, Any] = {"task_id": str(task.id), "state": label,
                                    "name": getattr(spec, "bpmn_name", None) or "",
                                    "type": spec.__class__.__name__}
            came_from = _bpmn_parent(task)
            if came_from is not None and before.get(task.id) not in JOURNALED_STATES:
                data["from"] = came_from  # reached in this command: the element before it names the flow taken
            if task.state == TaskState.COMPLETED and task.parent is not None:
                diff = _data_diff(task.parent.data, task.data)
                if diff:
                    data["changes"] = diff
            changed.append((task.last_state_change or 0, PendingEvent(f"task.{label}", cmd.actor, cmd.now,
                                                                      element_id, json.loads(to_json(data)))))
        changed.sort(key=lambda pair: pair[0])
        return [ev for _, ev in changed]

    def _open_incidents(self, s: Session, case: Case, wf: BpmnWorkflow, error: BaseException,
                        cmd: _Command) -> tuple[list[Incident], list[PendingEvent]]:
        message, kind = describe_error(error)
        failed = [t for t in _all_tasks(wf) if t.state == TaskState.ERROR]
        targets = failed or [None]
        events, incidents = [], []
        for task in targets:
            element_id = getattr(task.task_spec, "bpmn_id", None) if task is not None else None
            inc = Incident(case_id=case.id, task_id=str(task.id) if task is not None else None,
                           element_id=element_id, kind=kind, message=message, at=cmd.now)
            s.add(inc)
            incidents.append(inc)
            events.append(PendingEvent("incident.opened", cmd.actor, cmd.now, element_id,
                                       {"kind": kind, "message": message}))
        return incidents, events

    def _sync_work_items(self, s: Session, case: Case, wf: BpmnWorkflow, cmd: _Command,
                         new_case: bool) -> list[WorkItem]:
        ready = {str(t.id): t for t in wf.get_tasks(state=TaskState.READY, manual=True)}
        existing = {} if new_case else {w.task_id: w for w in s.scalars(_OPEN_ITEMS, {"case_id": case.id})}
        for task_id, row in existing.items():
            if task_id in ready:
                continue
            task = find_task(wf, task_id)
            row.state = "completed" if task is None or task.state == TaskState.COMPLETED else "cancelled"
            row.completed_at = cmd.now
            if row.state == "completed":
                row.completed_by = cmd.actor
        meta = self._meta.get(case.definition_id, {}).get("user_tasks", {})
        reminders = self._reminders(case.definition_id)
        still_open = [row for task_id, row in existing.items() if task_id in ready]
        for row in still_open:  # a deadline moved (extension, recompute, resume): the work item follows
            due = _work_item_due(ready[row.task_id], reminders)
            if due is not None and due.year < 9999 and due != row.due_at:
                row.due_at = due
        for task_id, task in ready.items():
            if task_id in existing:
                continue
            spec = task.task_spec
            info = meta.get(spec.bpmn_id, {})
            props = (getattr(spec, "extensions", None) or {}).get("properties", {}) or {}
            unit = info.get("unit") or props.get("unit")
            if unit:
                unit = self._evaluate_property(task, unit, cmd)
            row = WorkItem(
                case_id=case.id, task_id=task_id, element_id=spec.bpmn_id,
                name=getattr(spec, "bpmn_name", None) or spec.bpmn_id, process_key=case.process_key,
                lane=getattr(spec, "lane", None), role=info.get("role") or props.get("role"),
                unit=unit, form=info.get("form") or props.get("form"), assignee=None, state="open",
                created_at=cmd.now, due_at=_work_item_due(task, reminders),
            )
            s.add(row)
            still_open.append(row)
        return still_open

    def _reminders(self, definition_id: int) -> set[str]:
        """Timers marked `lianxin:kind="reminder"`: they remind before a deadline and are no deadline themselves."""
        timers = self._meta.get(definition_id, {}).get("timers", {}) or {}
        return {element for element, t in timers.items() if isinstance(t, dict) and t.get("reminder")}

    def _evaluate_property(self, task, expression: str, cmd: _Command):
        """`unit` names a data variable (e.g. `responsible_unit`) or is a quoted literal (`'city_bureau'`).
        When it cannot be evaluated the task is left without a unit (admins and the bureau still see it) and
        the journal says why: never a guessed unit."""
        try:
            value = self.script_engine.evaluate(task, expression)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            cmd.warnings.append({"element_id": task.task_spec.bpmn_id, "expression": expression,
                                 "message": f"无法确定承办单位：{describe_error(exc)[0]}（unit expression failed）"})
            return None
        return None if value is None else str(value)

    def _sync_timers(self, s: Session, case: Case, wf: BpmnWorkflow, cmd: _Command, new_case: bool) -> list[Timer]:
        waiting = {}
        for task in _all_tasks(wf):
            if task.state != TaskState.WAITING:
                continue
            due = timer_due(task)
            if due is not None:
                waiting[str(task.id)] = (task, due)
        has_timers = bool(self._meta.get(case.definition_id, {}).get("timers", True))
        existing = {} if new_case or not has_timers else {
            t.task_id: t for t in s.scalars(_LIVE_TIMERS, {"case_id": case.id})}
        computed = {d["task_id"]: d for d in cmd.deadlines if d.get("task_id")}
        for task_id, row in existing.items():
            if task_id in waiting:
                due = waiting[task_id][1]
                if row.status == "pending" and row.due_at != due:
                    row.due_at = due
                if task_id in computed:
                    _apply_rule(row, computed[task_id])
                continue
            fired = row.status == "pending" and row.due_at <= cmd.now
            row.status = "fired" if fired else "cancelled"
            row.fired_at = cmd.now if fired else None
        pending = [row for task_id, row in existing.items() if task_id in waiting]
        for task_id, (task, due) in waiting.items():
            if task_id not in existing:
                row = Timer(case_id=case.id, task_id=task_id, element_id=task.task_spec.bpmn_id, due_at=due,
                            status="pending", attempts=0, created_at=cmd.now,
                            label=getattr(task.task_spec, "bpmn_name", None), extension_days=0,
                            provisional=False, roll_forward=True)
                if task_id in computed:
                    _apply_rule(row, computed[task_id])
                s.add(row)
                pending.append(row)
        return pending

    # ---- deadlines: stop the clock, extend, recompute after a calendar change

    def pause_deadlines(self, case_id: int, actor: str, reason: str) -> CaseView:
        """Stop the clock (e.g. waiting on the petitioner, a hearing): every running deadline keeps the days it
        had left and cannot fire until resumed."""
        if not reason or not reason.strip():
            raise Invalid("暂停计时必须说明理由（a reason is required to stop the clock）")

        def change(s, case, wf, cmd):
            if case.paused_at is not None:
                raise Conflict(f"案件 {case_id} 已暂停计时（the case's clock is already stopped）")
            changed = []
            for row in s.scalars(_LIVE_TIMERS, {"case_id": case_id}):
                if row.status != "pending" or row.rule is None:
                    continue
                row.remaining_days = self._days_left(row, cmd.now, _reminder_of(row))
                row.paused_at = cmd.now
                row.status = "paused"
                _set_event_value(wf, row.task_id, PAUSED_UNTIL)
                changed.append({"element_id": row.element_id, "due_at": row.due_at.isoformat(),
                                "remaining_days": row.remaining_days, "rule": row.rule})
            case.paused_at, case.pause_reason = cmd.now, reason
            return PendingEvent("deadlines.paused", actor, cmd.now, None,
                                {"reason": reason, "deadlines": changed, "now": cmd.now.isoformat()})

        return self._change(case_id, actor, change)

    def resume_deadlines(self, case_id: int, actor: str, reason: str = "") -> CaseView:
        def change(s, case, wf, cmd):
            if case.paused_at is None:
                raise Conflict(f"案件 {case_id} 没有暂停计时（the case's clock is running）")
            changed = []
            for row in s.scalars(_LIVE_TIMERS, {"case_id": case_id}):
                if row.status != "paused":
                    continue
                deadline = self.compute_deadline(row.rule, row.remaining_days or 0, cmd.now, row.roll_forward)
                old = row.due_at
                self._apply_deadline(row, deadline)
                row.status, row.paused_at, row.remaining_days = "pending", None, None
                _set_event_value(wf, row.task_id, row.due_at.isoformat())
                changed.append({"element_id": row.element_id, "old_due_at": old.isoformat(),
                                "new_due_at": row.due_at.isoformat(), "explanation": deadline.explain()})
            paused_days = (cmd.now - case.paused_at).days
            case.paused_at, case.pause_reason = None, None
            return PendingEvent("deadlines.resumed", actor, cmd.now, None,
                                {"reason": reason, "paused_days": paused_days, "deadlines": changed,
                                 "now": cmd.now.isoformat()})

        return self._change(case_id, actor, change)

    def extend_deadline(self, case_id: int, element_id: str, days: int, actor: str, reason: str,
                        max_days: int = 30) -> CaseView:
        """An approved extension (延期): the deadline of timer `element_id` moves by `days` calendar days from
        its current due date (at most `max_days` in all), and its timer moves with it."""
        if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
            raise Invalid("延期天数必须是正整数（extension days must be a positive whole number）")
        if not reason or not reason.strip():
            raise Invalid("延期必须说明理由（a reason is required for an extension）")

        def change(s, case, wf, cmd):
            rows = [r for r in s.scalars(_LIVE_TIMERS, {"case_id": case_id}) if r.element_id == element_id]
            if not rows:
                raise Conflict(f"案件 {case_id} 没有进行中的期限 {element_id}（no running deadline {element_id}）")
            row = rows[0]
            if row.extension_days + days > max_days:
                raise Invalid(f"延期总计不得超过 {max_days} 日，已延期 {row.extension_days} 日"
                              f"（extensions may total at most {max_days} days）",
                              {"already_extended": row.extension_days, "max_days": max_days})
            old = row.due_at
            base_date = due_date_of(old)
            deadline = self._command_calendar().due(base_date, days=days, roll_forward=True, cutoff=None)
            row.extension_days += days
            row.due_at = deadline.due_at
            row.explanation = to_json(dict(deadline.to_dict(), extension_of=old.isoformat()))
            row.provisional = row.provisional or deadline.provisional
            if row.status == "pending":
                _set_event_value(wf, row.task_id, row.due_at.isoformat())
            for other in s.scalars(_LIVE_TIMERS, {"case_id": case_id}):  # its reminder, not yet fired, follows
                reminder = _reminder_of(other)
                if other.status != "pending" or reminder is None or \
                        datetime.fromisoformat(reminder["deadline_due_at"]) != old:
                    continue
                other.due_at = self.yellow_instant(row.due_at, reminder["lead"])
                other.explanation = to_json(dict(json.loads(other.explanation),
                                                 reminder=dict(reminder, deadline_due_at=row.due_at.isoformat())))
                _set_event_value(wf, other.task_id, other.due_at.isoformat())
            return PendingEvent("deadline.extended", actor, cmd.now, element_id,
                                {"reason": reason, "days": days, "old_due_at": old.isoformat(),
                                 "new_due_at": row.due_at.isoformat(), "total_extension": row.extension_days,
                                 "explanation": deadline.explain(), "now": cmd.now.isoformat()})

        return self._change(case_id, actor, change)

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
            result = {"moved": 0}

            def change(s, case, wf, cmd, timer_ids=timer_ids, result=result):
                changes = []
                for row in s.scalars(select(Timer).where(Timer.id.in_(timer_ids))):
                    if row.status != "pending" or row.due_at <= cmd.now:
                        continue
                    deadline = self.compute_deadline(row.rule, row.days, row.start_at, row.roll_forward)
                    if row.extension_days:
                        base = due_date_of(deadline.due_at)
                        deadline = self._command_calendar().due(base, days=row.extension_days, cutoff=None)
                    reminder = _reminder_of(row)
                    due_at = deadline.due_at if reminder is None else self.yellow_instant(deadline.due_at,
                                                                                          reminder["lead"])
                    if due_at == row.due_at and deadline.provisional == row.provisional:
                        continue
                    old, was_provisional = row.due_at, row.provisional
                    self._apply_deadline(row, deadline)
                    _set_event_value(wf, row.task_id, row.due_at.isoformat())
                    changes.append({"element_id": row.element_id, "old_due_at": old.isoformat(),
                                    "new_due_at": row.due_at.isoformat(), "was_provisional": was_provisional,
                                    "provisional": row.provisional,
                                    "calendar_versions": deadline.to_dict()["calendar_versions"]})
                result["moved"] = len(changes)
                if not changes:
                    return None
                return PendingEvent("deadlines.recomputed", actor, cmd.now, None,
                                    {"deadlines": changes, "now": cmd.now.isoformat()})

            try:
                self._change(case_id, actor, change, now=now)
            except Conflict:
                continue
            if result["moved"]:
                moved += result["moved"]
            else:
                unchanged += len(timer_ids)
        return {"cases": len(by_case), "moved": moved, "unchanged": unchanged}

    def alert(self, due_at: datetime | None, now: datetime, cal=None) -> tuple[str, int | None]:
        """green, yellow (at most `yellow_workdays` working days left) or red (overdue), and the days left. A loop
        over many items passes one calendar snapshot (`self.calendar.calendar()`) as `cal`."""
        if due_at is None:
            return "green", None
        if now >= due_at:
            return "red", 0
        due_date = due_date_of(due_at)
        left = self.workdays_between(now.astimezone(SHANGHAI).date(), due_date, cal)
        return ("yellow" if left <= self.yellow_workdays else "green"), left

    def overdue_workdays(self, due_at: datetime | None, now: datetime, cal=None) -> int:
        """Working days `due_at` is overdue at `now` (0 while it is not), counted on the working-day calendar."""
        if due_at is None or now < due_at:
            return 0
        cal = cal or self._command_calendar()
        return overdue_workdays(due_at, now, cal.is_workday)

    def deadline_views(self, timers, now: datetime, session: Session | None = None) -> list[dict]:
        """Each running deadline with its state; `session`: the caller's, for the calendar's version check."""
        out = []
        cal = None  # one calendar snapshot for the whole view, taken when a deadline needs it
        for t in timers:
            if t.rule is None or _reminder_of(t) is not None:  # a reminder is no deadline of its own
                continue
            explanation = json.loads(t.explanation) if t.explanation else {}
            if t.status == "paused":
                state, left = "paused", t.remaining_days
            else:
                if cal is None and t.due_at is not None and now < t.due_at:
                    cal = self.calendar.calendar(session=session)
                state, left = self.alert(t.due_at, now, cal)
            overdue = 0
            if state == "red":
                cal = cal or self.calendar.calendar(session=session)
                overdue = self.overdue_workdays(t.due_at, now, cal)
            out.append({"key": t.element_id, "label": t.label or t.element_id, "start": t.start_at,
                        "due_at": t.due_at, "days": t.days, "day_type": "workdays" if t.rule == "WD" else "days",
                        "extension_days": t.extension_days, "provisional": t.provisional, "state": state,
                        "workdays_left": left, "overdue_workdays": overdue,
                        "explanation": explanation.get("explanation")})
        return sorted(out, key=lambda d: d["due_at"])

    def import_calendar(self, path_or_text, actor: str, fmt: str | None = None) -> dict:
        """Import a year's official arrangement, then move every running deadline it changes."""
        from .calendar import import_year

        now = self.clock.now()
        with self.session_factory() as s, s.begin():
            result = import_year(s, path_or_text, actor, now, fmt=fmt)
        recomputed = self.recompute_deadlines(actor=actor, now=now)
        return {"import": result, "recomputed": recomputed}

    def _apply_deadline(self, row: Timer, deadline) -> None:
        """Move a timer to a recomputed deadline; a reminder goes to the moment that deadline turns yellow."""
        reminder = _reminder_of(row)
        _apply_deadline(row, deadline)
        if reminder is not None:
            reminder = dict(reminder, deadline_due_at=deadline.due_at.isoformat())
            row.due_at = self.yellow_instant(deadline.due_at, reminder["lead"])
            row.explanation = to_json(dict(deadline.to_dict(), reminder=reminder))

    def _days_left(self, row: Timer, now: datetime, reminder: dict | None = None) -> int:
        """Days left of the deadline (for a reminder: of the deadline it reminds of)."""
        due_at = row.due_at if reminder is None else datetime.fromisoformat(reminder["deadline_due_at"])
        due_date = due_date_of(due_at)
        today = now.astimezone(SHANGHAI).date()
        if due_date <= today:
            return 0
        if row.rule == "CAL":
            return (due_date - today).days
        return self.workdays_between(today, due_date)

    def workdays_between(self, today, due_date, cal=None) -> int:
        """Working days after `today` up to and including `due_date` (on `cal`, else the current snapshot)."""
        cal = cal or self._command_calendar()
        n, d = 0, today
        while d < due_date:
            d = d + timedelta(days=1)
            if cal.is_workday(d):
                n += 1
        return n

    def _change(self, case_id: int, actor: str, change: Callable, now: datetime | None = None) -> CaseView:
        """A command that changes deadlines rather than moving tokens: same unit of work, same journal."""
        now = now or self.clock.now()
        with self.session_factory() as s:
            with s.begin():
                case = self._lock_case(s, case_id, None)
                wf = self._load(s, case)
                cmd = _Command(case.id, actor, now)
                holder = {}

                def run(wf):
                    holder["event"] = change(s, case, wf, cmd)

                view = self._execute(s, case, wf, cmd, None, run, journal_first_after=holder)
                return view

    # ---- reading

    def get_case(self, case_id: int) -> CaseView:
        with self.read_sessions() as s:
            return self._view(s, case_id)

    def _view(self, s: Session, case_id: int) -> CaseView:
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound(f"案件 {case_id} 不存在（no such case）")
        definition = s.get(ProcessDefinition, case.definition_id)
        items = s.scalars(select(WorkItem).where(WorkItem.case_id == case_id, WorkItem.state == "open")
                          .order_by(WorkItem.id)).all()
        incidents = s.scalars(select(Incident).where(Incident.case_id == case_id, Incident.resolved_at.is_(None))
                              .order_by(Incident.id)).all()
        timers = s.scalars(select(Timer).where(Timer.case_id == case_id,
                                               Timer.status.in_(("pending", "paused")))
                           .order_by(Timer.due_at)).all()
        return self._case_view(case, definition.version, items, incidents, timers, self.case_data(s, case),
                               self.clock.now(), s)

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
            data=data, created_at=case.created_at, updated_at=case.updated_at,
            deadlines=self.deadline_views(timers, now, session), paused=case.paused_at is not None,
        )

    def case_data(self, s: Session, case: Case) -> dict:
        return _view_data(self._load(s, case))

    def history(self, case_id: int) -> list[dict]:
        with self.read_sessions() as s:
            if s.get(Case, case_id) is None:
                raise NotFound(f"案件 {case_id} 不存在（no such case）")
            rows = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id)
                             .order_by(JournalEvent.seq)).all()
            return [{"seq": r.seq, "at": r.at, "actor": r.actor, "type": r.type, "element_id": r.element_id,
                     "data": json.loads(r.data)} for r in rows]

    def verify(self, case_id: int, *, seals: bool = True):
        """The hash chain and the seals first (naming the first changed event), then a replay of the whole
        journal compared with the stored state (catching a state changed behind the journal's back). `seals`:
        False checks chain and replay only (what `seal_unsealed` needs before it seals old events)."""
        from .replay import Replayer

        with self.read_sessions() as s:
            case = s.get(Case, case_id)
            if case is None:
                raise NotFound(f"案件 {case_id} 不存在（no such case）")
            rows = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id)
                             .order_by(JournalEvent.seq)).all()
            chain = verify_chain(case, rows, self.sealer if seals else None)
        if not chain.ok:
            return chain
        ok, seq, reason = Replayer(self).verify(case_id)
        if not ok:
            return ChainCheck(False, chain.events, seq, reason)
        return chain

    def seal_unsealed(self, actor: str = "admin") -> dict:
        """Seal the events written before sealing began (a database upgraded to 0009_journal_seal), once.

        A case is sealed only if its chain and its replay verify first. An unsealed event written after the
        first sealed event of the database is never sealed: seals are made as events are written, so it has
        lost its seal, which is what verification reports. Returns {"cases", "events", "refused": [(case id,
        reason)]}."""
        if self.sealer is None:
            raise Invalid("没有配置封印密钥（no sealer: the deployment's secret key is missing）")
        with self.read_sessions() as s:
            first_sealed = s.scalar(select(func.min(JournalEvent.id)).where(JournalEvent.seal.is_not(None)))
            case_ids = s.scalars(select(JournalEvent.case_id).where(JournalEvent.seal.is_(None))
                                 .distinct().order_by(JournalEvent.case_id)).all()
        sealed_cases = sealed_events = 0
        refused: list[tuple[int, str]] = []
        for case_id in case_ids:
            check = self.verify(case_id, seals=False)
            if not check.ok:
                refused.append((case_id, f"事件 {check.first_bad_seq}：{check.reason}"))
                continue
            with self.session_factory() as s, s.begin():
                case = self._lock_case_row(s, case_id)
                rows = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id)
                                 .order_by(JournalEvent.seq)).all()
                chain = verify_chain(case, rows)  # again, under the lock: nothing changed since the check
                late = [r.seq for r in rows if r.seal is None and first_sealed is not None and r.id > first_sealed]
                if not chain.ok or late:
                    refused.append((case_id, chain.reason if not chain.ok else
                                    f"事件 {late[0]} 写于启用封印之后却没有封印，不予补封（its seal was removed）"))
                    continue
                for r in rows:
                    if r.seal is None:
                        r.seal = self.sealer.seal(r.hash)
                        sealed_events += 1
                sealed_cases += 1
        logger.info("journal seals: %d events of %d cases sealed by %s, %d cases refused", sealed_events,
                    sealed_cases, actor, len(refused))
        return {"cases": sealed_cases, "events": sealed_events, "refused": refused}

    def _lock_case_row(self, s: Session, case_id: int) -> Case:
        case = s.execute(select(Case).where(Case.id == case_id).with_for_update()
                         .execution_options(populate_existing=True)).scalar_one_or_none()
        if case is None:
            raise NotFound(f"案件 {case_id} 不存在（no such case）")
        return case

    def replay(self, case_id: int, seq: int | None = None):
        """The case as it stood after event `seq` (the auditor's step-by-step view)."""
        from .replay import Replayer

        return Replayer(self).rebuild(case_id, upto=seq)[1]

    def claim(self, work_item_id: int, user: str, *, unclaim: bool = False) -> TaskView:
        """Claim (认领) an open work item, or give it back (退回) to its unit. A change of hands is journaled on
        the case's chain (`work_item.claimed` / `work_item.unclaimed`, actor and time) without bumping the case
        version, like `hand_over`; claiming an item one already holds changes nothing and journals nothing."""
        from .case_chain import append_case_events, lock_case

        now = self.clock.now()
        with self.session_factory() as s, s.begin():
            item = s.get(WorkItem, work_item_id)
            if item is None:
                raise NotFound(f"任务 {work_item_id} 不存在（no such task）")
            lock_case(s, item.case_id)  # the case row before the work item's, as commands take them
            s.refresh(item)
            before = item.assignee
            if unclaim:
                cond = (WorkItem.assignee == user)
                values = {"assignee": None}
            else:
                cond = (WorkItem.assignee.is_(None)) | (WorkItem.assignee == user)
                values = {"assignee": user}
            res = s.execute(update(WorkItem).where(WorkItem.id == work_item_id, WorkItem.state == "open", cond)
                            .values(**values))
            if res.rowcount != 1:
                s.refresh(item)
                raise Conflict(f"任务 {work_item_id} 不能{'退回' if unclaim else '认领'}：当前状态 {item.state}，"
                               f"办理人 {item.assignee or '无'}（task cannot be {'unclaimed' if unclaim else 'claimed'})")
            if before != values["assignee"]:
                append_case_events(s, item.case_id, [PendingEvent(
                    f"work_item.{'unclaimed' if unclaim else 'claimed'}", user, now, item.element_id,
                    {"work_item_id": item.id, "from": before, "to": values["assignee"]})])
            s.flush()
            s.refresh(item)
            return task_view(item)

    def hand_over(self, work_item_id: int, to_user: str, actor: str, kind: str = "reassigned",
                  note: str = "") -> TaskView:
        """Reassign (转办) or delegate (委托) an open work item to `to_user`; journaled on the case's chain
        without bumping its version (an open form elsewhere stays valid). Who may receive it is the caller's
        rule (same unit); this only makes the change atomic and recorded."""
        from .case_chain import append_case_events, lock_case

        if kind not in ("reassigned", "delegated"):
            raise Invalid(f"未知的移交方式 {kind}（reassigned or delegated）")
        now = self.clock.now()
        with self.session_factory() as s, s.begin():
            item = s.get(WorkItem, work_item_id)
            if item is None:
                raise NotFound(f"任务 {work_item_id} 不存在（no such task）")
            lock_case(s, item.case_id)  # the case row before the work item's, as commands take them
            s.refresh(item)
            if item.state != "open":
                raise Conflict(f"任务 {work_item_id} 已{_STATE_CN.get(item.state, item.state)}，不能移交"
                               f"（task is {item.state}）")
            before = item.assignee
            res = s.execute(update(WorkItem).where(WorkItem.id == work_item_id, WorkItem.state == "open",
                                                   (WorkItem.assignee == before) if before is not None
                                                   else WorkItem.assignee.is_(None))
                            .values(assignee=to_user))
            if res.rowcount != 1:
                raise Conflict(f"任务 {work_item_id} 刚被他人变更，请刷新后重试（task changed meanwhile）")
            append_case_events(s, item.case_id, [PendingEvent(
                f"work_item.{kind}", actor, now, item.element_id,
                {"work_item_id": item.id, "from": before, "to": to_user, "note": note})])
            s.flush()
            s.refresh(item)
            return task_view(item)


_STATE_CN = {"completed": "办理", "cancelled": "取消"}


def task_view(w: WorkItem) -> TaskView:
    return TaskView(id=w.id, case_id=w.case_id, task_id=w.task_id, element_id=w.element_id, name=w.name,
                    process_key=w.process_key, role=w.role, unit=w.unit, lane=w.lane, form=w.form,
                    assignee=w.assignee, state=w.state, created_at=w.created_at, due_at=w.due_at)


def _advance(wf: BpmnWorkflow) -> None:
    """Run the engine until only user tasks and waits remain. SpiffWorkflow refreshes timers at the *end* of
    `do_engine_steps`, so a timer found due there is left READY but not run: go round until nothing is."""
    for _ in range(1000):
        wf.do_engine_steps()
        if not any(not t.task_spec.manual for t in wf.get_tasks(state=TaskState.READY)):
            return
    raise RuntimeError("engine did not settle after 1000 rounds (a timer cycle firing without end?)")


def _apply_rule(row: Timer, info: dict) -> None:
    row.rule, row.days = info["rule"], info["n"]
    row.start_at = datetime.fromisoformat(info["start_at"])
    row.roll_forward = bool(info.get("roll_forward", True))
    row.provisional = bool(info.get("provisional"))
    row.explanation = to_json(info)


def _apply_deadline(row: Timer, deadline) -> None:
    row.due_at = deadline.due_at
    row.provisional = bool(deadline.provisional)
    row.explanation = to_json(deadline.to_dict())


def _reminder_of(row: Timer) -> dict | None:
    """{"lead", "deadline_due_at"} when the timer is a reminder computed with yellow_at(deadline, lead)."""
    if not row.explanation:
        return None
    reminder = json.loads(row.explanation).get("reminder")
    return reminder if isinstance(reminder, dict) else None


def _set_event_value(wf: BpmnWorkflow, task_id: str, value: str) -> None:
    task = find_task(wf, task_id)
    if task is not None:
        task.internal_data["event_value"] = value


def due_date_of(due_at: datetime):
    """The Beijing date a deadline ending at `due_at` (24:00 of that day, i.e. next day 00:00) falls due."""
    return due_day(due_at)


def _view_data(wf: BpmnWorkflow) -> dict:
    ready = wf.get_tasks(state=TaskState.READY)
    source = ready[0] if ready else (wf.last_task or wf.task_tree)
    return json.loads(to_json(source.data))


def find_task(wf: BpmnWorkflow, task_id: str):
    """The task, or None when it is gone (pruned history) — SpiffWorkflow raises instead."""
    uid = UUID(task_id)
    task = wf.tasks.get(uid)
    if task is None:
        for sp in wf.subprocesses.values():
            task = sp.tasks.get(uid)
            if task is not None:
                break
    return task


def _all_tasks(wf: BpmnWorkflow) -> Iterable:
    yield from list(wf.tasks.values())
    for sp in list(wf.subprocesses.values()):
        yield from list(sp.tasks.values())


def _view_only_message(process_key: str) -> str:
    return (f"流程 {process_key} 是仅供查看的模型（isExecutable=\"false\"），不能启动；请在建模器中把它设为可执行后重新部署"
            f"（process {process_key} is a view-only model, isExecutable=\"false\": make it executable in the "
            f"modeller and deploy it again to start cases）")


def _sequence_flows(sources: dict[str, str]) -> list[list[str]]:
    """[flow id, source element, target element] of every sequence flow in the sources (already validated)."""
    from .definitions import safe_parse_xml

    out = []
    for name, text in sources.items():
        if not name.endswith(".bpmn"):
            continue
        root = safe_parse_xml(text.encode("utf-8"), name).getroot()
        for flow in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}sequenceFlow"):
            out.append([flow.get("id"), flow.get("sourceRef"), flow.get("targetRef")])
    return out


def _bpmn_parent(task) -> str | None:
    """The nearest ancestor that is a BPMN element (SpiffWorkflow puts internal splits in between)."""
    node = task.parent
    for _ in range(10):
        if node is None:
            return None
        element_id = getattr(node.task_spec, "bpmn_id", None)
        if element_id is not None:
            return element_id
        node = node.parent
    return None


def _data_diff(before: dict, after: dict) -> dict:
    out = {}
    for key in after.keys() | before.keys():
        if key.startswith("spiff__"):
            continue
        a, b = before.get(key, _MISSING), after.get(key, _MISSING)
        if a is _MISSING and b is _MISSING:
            continue
        try:
            same = a == b
        except Exception:
            same = False
        if not same:
            out[key] = [None if a is _MISSING else a, None if b is _MISSING else b]
    return out


_MISSING = object()


def timer_due(task) -> datetime | None:
    definition = getattr(task.task_spec, "event_definition", None)
    if definition is None:
        return None
    if isinstance(definition, MultipleEventDefinition):
        if not any(isinstance(d, TimerEventDefinition) for d in definition.event_definitions):
            return None
    elif not isinstance(definition, TimerEventDefinition):
        return None
    value = definition.details(task).value
    if isinstance(value, dict):
        value = value.get("next")
    if not value:
        return None
    try:
        return TimerEventDefinition.get_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _work_item_due(task, reminders=frozenset()) -> datetime | None:
    """A user task's due date is the earliest timer attached to it (its boundary events), reminders left out.
    An instance of a multi-instance task (one per co-unit, say) has the timers of the task it is an instance of."""
    if task.parent is not None and isinstance(task.parent.task_spec, MultiInstanceTask):
        task = task.parent
    parent = task.parent
    if parent is None:
        return None
    dues = [timer_due(sib) for sib in parent.children if sib is not task and sib.state == TaskState.WAITING
            and sib.task_spec.bpmn_id not in reminders]
    dues = [d for d in dues if d is not None]
    return min(dues) if dues else None


def _summary(data: dict) -> dict:
    return {k: data[k] for k in ("title", "channel", "category") if k in data and isinstance(data[k], str)}


def describe_error(error: BaseException) -> tuple[str, str]:
    """The message an admin needs: the handler's or sandbox's own words, not SpiffWorkflow's wrapper."""
    from .handlers import HandlerFailed, HandlerInputError, UnknownHandler
    from .spiff_patches import UncaughtBpmnError

    seen = set()
    node: BaseException | None = error
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, HandlerFailed):
            return str(node), "handler"
        if isinstance(node, (HandlerInputError, UnknownHandler)):
            return str(node), "handler"
        if isinstance(node, UncaughtBpmnError):
            return str(node), "bpmn_error"
        if node.__class__.__name__ == "ScriptError":
            return str(node), "script"
        inner = getattr(node, "exception", None)
        node = inner if isinstance(inner, BaseException) else (node.__cause__ or node.__context__)
    text = str(error) or error.__class__.__name__
    if isinstance(error, WorkflowException):
        return text, "engine"
    if not isinstance(error, Exception):
        name = error.__class__.__name__
        return (f"流程运行中出现 {name}（{text}），已记为故障，服务未中断；请修正流程中的脚本或处理程序后重试"
                f"（the process raised {name}, which is not an ordinary error; it was recorded as an incident and "
                f"the service went on: fix the script or handler, then retry）"), "engine"
    return f"{error.__class__.__name__}: {text}", "engine"
