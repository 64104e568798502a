"""The commands: every change the runtime makes to a case is one of these objects.

A command holds its data, knows how it applies to a workflow (`apply`), and how it is written to the journal
(`to_event`) and read back from it (`from_event`, by event type). The runtime executes a command as one unit of
work (engine.runtime.Runtime.execute): `open` locks (or creates) the case and loads its workflow, checking what
must hold before anything changes; `prepare` does the command's bookkeeping on the case's rows inside the
command's context; `apply` changes the workflow. A replay (engine.replay) decodes each journaled command with
`from_event` and calls the same `apply`: there is one code path from a command to the workflow.

The journal encoding is fixed by the events already written (their hashes and seals cover the exact text): the
payload keys and their order are those of the first release, with the command's instant as "now" at the end.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import repair, row_writes, spiff_patches
from .calendar.repository import remember_version_key, version_key_sql
from .context import PAUSED_UNTIL, CommandContext
from .deployment import latest_version, version_of
from .errors import Conflict, Invalid, NotApplicable, NotFound
from .journal import PendingEvent, to_json
from .state import STATE_FORMAT
from .store import Case, CaseText, Incident, Timer, WorkItem, case_text_body
from .tree import QUEUED_MESSAGES, all_tasks, find_task, message_receivers, queued_messages, set_event_value
from .work_items import STATE_CN

# The work item with its case, the case row locked (PostgreSQL: FOR UPDATE OF the case only; SQLite's writer lock
# is taken by BEGIN IMMEDIATE): the command's lock, so the case is not read a second time to lock it. Locking the
# work item row too could deadlock with a hand-over, which locks the case first; a work item that another
# command completed while this one waited still reads "open" here, and is refused by the workflow's own state.
# Built once per database and sent through the driver: the ORM's query machinery cost ten times the query itself.
# The calendar's version key (engine.calendar.repository) is read with them.
_ITEM_WITH_CASE: dict[str, str] = {}


def item_with_case(s: Session, work_item_id: int) -> tuple[WorkItem, Case] | None:
    """The work item and its case, the case locked; the session's copies of both (as a query with
    populate_existing gives them)."""
    dialect = s.get_bind().dialect
    items, cases = row_writes.columns(dialect, WorkItem), row_writes.columns(dialect, Case)
    text = _ITEM_WITH_CASE.get(dialect.name)
    if text is None:
        q = dialect.identifier_preparer
        text = _ITEM_WITH_CASE[dialect.name] = (
            f"SELECT {items.select_list(dialect, 'w')}, {cases.select_list(dialect, 'c')}, "
            f"{version_key_sql(dialect)} "
            f"FROM {q.format_table(items.table)} AS w JOIN {q.format_table(cases.table)} AS c ON c.id = w.case_id "
            f"WHERE w.id = {row_writes.placeholder(dialect)}"
            + (" FOR UPDATE OF c" if dialect.name == "postgresql" else ""))
    row = row_writes.fetch_one(s, text, (work_item_id,))
    if row is None:
        return None
    # The calendar's version key came with the rows: a completion that computes a deadline reads it anyway
    # (engine.calendar), and on PostgreSQL that was a round trip of its own.
    remember_version_key(s, *row[-2:])
    return (row_writes.attached(s, WorkItem, items.values(row), refresh=True),
            row_writes.attached(s, Case, cases.values(row, len(items.keys)), refresh=True))


@dataclass
class Opening:
    """What a command opens its case with: the runtime (definitions, case lock, state codec), the transaction,
    who and when. `open` fills in the case, its workflow, and whether the case is new."""
    rt: Any
    s: Session
    actor: str
    now: datetime
    expected_version: int | None = None
    case: Case | None = None
    wf: BpmnWorkflow | None = None
    new_case: bool = False
    # The case's open work items by task id, when `open` already holds all of them (so the runtime does not read
    # them again); None: not known, read them. Every command ends with the open items matching the ready user
    # tasks (engine.work_items.sync_work_items), so the items open before a command are those of the ready user
    # tasks of the workflow it loaded.
    open_items: dict[str, WorkItem] | None = None


class Command:
    event_type: ClassVar[str]
    replayed: ClassVar[bool] = True  # False: journaled, but nothing to apply again on replay
    creates_case: ClassVar[bool] = False

    case_id: int | None  # set by the command, or by `open` for a command that finds or makes its case

    # ---- live: the runtime's unit of work

    def check(self) -> None:
        """The command's own data, before anything is opened (raises Invalid)."""

    def open(self, op: Opening) -> None:
        """Lock the case and load its workflow (the default), checking what must hold first."""
        op.case = op.rt._lock_case(op.s, self.case_id, op.expected_version)
        op.wf = op.rt._load(op.s, op.case)
        if not _ready_user_tasks(op.wf):
            op.open_items = {}  # no ready user task: no open work item to read

    def prepare(self, op: Opening, ctx: CommandContext) -> None:
        """Bookkeeping on the case's rows, inside the command's context, before `apply`."""

    # ---- the one code path from a command to the workflow, live and on replay

    def apply(self, wf: BpmnWorkflow, ctx: CommandContext) -> None:
        raise NotImplementedError

    # ---- the journal

    @property
    def element_id(self) -> str | None:
        return None

    def payload(self) -> dict:
        raise NotImplementedError

    def to_event(self, actor: str, now: datetime) -> PendingEvent | None:
        """The journal event that records this command (None: there was nothing to change)."""
        return PendingEvent(self.event_type, actor, now, self.element_id, dict(self.payload(), now=now.isoformat()))

    @classmethod
    def decode(cls, element_id: str | None, data: dict) -> Command:
        raise NotImplementedError


def _ready_user_tasks(wf: BpmnWorkflow) -> set[str]:
    return {str(t.id) for t in wf.get_tasks(state=TaskState.READY, manual=True)}


REGISTRY: dict[str, type[Command]] = {}


def _registered(cls: type[Command]) -> type[Command]:
    REGISTRY[cls.event_type] = cls
    return cls


def from_event(event_type: str, element_id: str | None, data: dict) -> Command | None:
    """The command a journal event records, or None when the event is not a command (what a command produced,
    a comment, a change of hands)."""
    cls = REGISTRY.get(event_type)
    return None if cls is None else cls.decode(element_id, data)


def replayed_types() -> frozenset[str]:
    """The event types that start a command on replay."""
    return frozenset(t for t, cls in REGISTRY.items() if cls.replayed)


# ---------------------------------------------------------------- moving tokens

@_registered
@dataclass
class StartCase(Command):
    event_type: ClassVar[str] = "case.started"
    creates_case: ClassVar[bool] = True

    process_key: str
    data: dict = field(default_factory=dict)
    case_no: str | None = None
    definition_id: int | None = None
    version: int | None = None
    parent_case_id: int | None = None  # started by a step of that case (a `start_case` effect)

    def open(self, op: Opening) -> None:
        s = op.s
        row = latest_version(s, self.process_key) if self.definition_id is None else version_of(s, self.definition_id)
        if row is None or row.process_key != self.process_key:
            raise NotFound(f"流程 {self.process_key} 尚未部署（process {self.process_key} is not deployed; "
                           f"run lianxin deploy）")
        spec, subprocess_specs = op.rt.load_definition(s, row.id)
        self.definition_id, self.version = row.id, row.version
        summary = _summary(self.data)
        case = Case(case_no=self.case_no, definition_id=row.id, process_key=self.process_key, status="running",
                    state="", state_format=STATE_FORMAT, created_at=op.now, updated_at=op.now,
                    started_by=op.actor, summary_json=to_json(summary), last_seq=0, last_hash="",
                    parent_case_id=self.parent_case_id)
        s.add(case)
        s.flush()
        # Inserted with the step's other rows and held by the session until its transaction ends (runtime
        # `_EFFECT_ROWS`, row_writes `adopt`): the registration's title note finds it without reading it back.
        s.add(CaseText(case_id=case.id, body=case_text_body(summary)))
        self.case_id = case.id
        op.case, op.new_case = case, True
        op.wf = BpmnWorkflow(spec, subprocess_specs, script_engine=op.rt.script_engine)

    def apply(self, wf, ctx):
        wf.get_next_task(state=TaskState.READY).data.update(copy.deepcopy(self.data))

    def payload(self):
        payload = {"process_key": self.process_key, "definition_id": self.definition_id, "version": self.version,
                   "case_no": self.case_no, "data": self.data}
        if self.parent_case_id is not None:
            payload["parent_case_id"] = self.parent_case_id
        return payload

    @classmethod
    def decode(cls, element_id, data):
        return cls(data.get("process_key"), data.get("data", {}), data.get("case_no"), data.get("definition_id"),
                   data.get("version"), data.get("parent_case_id"))


@_registered
@dataclass
class CompleteTask(Command):
    event_type: ClassVar[str] = "task.submitted"

    work_item_id: int
    data: dict = field(default_factory=dict)
    task_id: str | None = None
    task_element_id: str | None = None

    def open(self, op: Opening) -> None:
        found = item_with_case(op.s, self.work_item_id)  # one round trip for both
        if found is None:
            raise NotFound(f"任务 {self.work_item_id} 不存在（no such task）")
        item = found[0]
        if item.state != "open":
            raise Conflict(f"任务 {self.work_item_id} 已{STATE_CN.get(item.state, item.state)}，不能再次办理"
                           f"（task is {item.state}; reload the task list）",
                           {"state": item.state})
        self.case_id, self.task_id, self.task_element_id = item.case_id, item.task_id, item.element_id
        op.case = op.rt._checked_case(found[1], op.expected_version)  # locked by the query above
        op.wf = op.rt._load(op.s, op.case)
        task = find_task(op.wf, item.task_id)
        if task is None or task.state != TaskState.READY:
            raise Conflict(f"任务 {self.work_item_id} 已不在待办状态（task is no longer ready; reload the case）")
        if _ready_user_tasks(op.wf) == {item.task_id}:
            op.open_items = {item.task_id: item}  # the one open item is the one in hand

    def apply(self, wf, ctx):
        task = self._task(wf, ctx)
        task.set_data(**copy.deepcopy(self.data))
        task.run()

    def _task(self, wf, ctx):
        if not ctx.replaying:
            return find_task(wf, self.task_id)
        # task ids are new on every run of the process: on replay the ready task of the same element
        for task in wf.get_tasks(state=TaskState.READY, manual=True):
            if task.task_spec.bpmn_id == self.task_element_id:
                return task
        raise NotApplicable(f"重放到第 {{seq}} 号事件时，{self.task_element_id} 不是待办任务（task not ready on replay）")

    @property
    def element_id(self):
        return self.task_element_id

    def payload(self):
        return {"work_item_id": self.work_item_id, "task_id": self.task_id, "data": self.data}

    @classmethod
    def decode(cls, element_id, data):
        return cls(data.get("work_item_id"), data.get("data", {}), data.get("task_id"), element_id)


@_registered
@dataclass
class FireTimers(Command):
    event_type: ClassVar[str] = "timer.fired"

    case_id: int | None
    timers: list[dict] = field(default_factory=list)

    def open(self, op: Opening) -> None:
        super().open(op)
        due = op.s.scalars(select(Timer).where(Timer.case_id == self.case_id, Timer.status == "pending",
                                               Timer.due_at <= op.now)).all()
        if not due:
            raise Conflict(f"案件 {self.case_id} 没有到期的定时器（no timer due）")
        self.timers = [{"id": t.id, "element_id": t.element_id, "due_at": t.due_at.isoformat()} for t in due]

    def apply(self, wf, ctx):
        spiff_patches.refresh_due_timers(wf)

    def payload(self):
        return {"timers": self.timers}

    @classmethod
    def decode(cls, element_id, data):
        return cls(None, data.get("timers", []))


@_registered
@dataclass
class DeliverMessage(Command):
    event_type: ClassVar[str] = "message.delivered"

    case_id: int | None
    name: str
    payload_data: dict = field(default_factory=dict)

    def open(self, op: Opening) -> None:
        super().open(op)
        waiting = sorted({d.name for d in _message_receivers(op.wf)})
        if self.name not in waiting:
            raise Conflict(f"案件 {self.case_id} 没有在等待消息 “{self.name}”（the case is not waiting for this "
                           f"message; waiting for: {', '.join(waiting) or 'nothing'}）")

    def apply(self, wf, ctx):
        for definition in _message_receivers(wf):
            if definition.name == self.name:
                # The waiting task's own definition object: SpiffWorkflow matches messages by class and name.
                wf.send_event(BpmnEvent(definition, self.payload_data))
                return
        raise NotApplicable(f"重放时案件没有在等待消息 {self.name}（message not awaited on replay）")

    def payload(self):
        return {"name": self.name, "payload": self.payload_data}

    @classmethod
    def decode(cls, element_id, data):
        return cls(None, data["name"], data.get("payload", {}))


def _message_receivers(wf):
    return message_receivers(wf)


@_registered
@dataclass
class QueueMessage(Command):
    """A message taken before the process waits for it: kept in the workflow's data and delivered by the engine
    (engine.tree.deliver_queued) as soon as a task waits for a message of that name — in this command already
    when one does. Refused when the process has no element that could ever receive it, or when a message of the
    same name is already queued: nothing taken can be lost or taken twice."""
    event_type: ClassVar[str] = "message.queued"

    case_id: int | None
    name: str
    payload_data: dict = field(default_factory=dict)

    def open(self, op: Opening) -> None:
        super().open(op)
        if self.name not in _message_names(op.wf):
            raise Conflict(f"案件 {self.case_id} 的流程中没有接收消息 “{self.name}” 的环节（the process never receives "
                           f"this message）")
        if any(m["name"] == self.name for m in queued_messages(op.wf)):
            raise Conflict(f"案件 {self.case_id} 已有待处理的 “{self.name}”，不能重复提出（this message is already "
                           f"queued）")

    def apply(self, wf, ctx):
        wf.data[QUEUED_MESSAGES] = queued_messages(wf) + [{"name": self.name, "payload": dict(self.payload_data)}]

    def payload(self):
        return {"name": self.name, "payload": self.payload_data}

    @classmethod
    def decode(cls, element_id, data):
        return cls(None, data["name"], data.get("payload", {}))


def _message_names(wf) -> set[str]:
    """The names of every message a task of the workflow's processes catches."""
    specs = [wf.spec, *getattr(wf, "subprocess_specs", {}).values()]
    names = set()
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if isinstance(definition, MessageEventDefinition):
                names.add(definition.name)
    return names


@_registered
@dataclass
class RetryIncidents(Command):
    event_type: ClassVar[str] = "incident.retried"

    case_id: int | None
    incidents: list[int] = field(default_factory=list)

    def open(self, op: Opening) -> None:
        s = op.s
        op.case = op.rt._lock_case(s, self.case_id, op.expected_version)
        open_incidents = s.scalars(select(Incident).where(Incident.case_id == self.case_id,
                                                          Incident.resolved_at.is_(None))).all()
        if not open_incidents:
            raise Conflict(f"案件 {self.case_id} 没有待处理的故障（no open incident）")
        op.wf = op.rt._load(s, op.case)
        for inc in open_incidents:
            inc.resolved_at = op.now
            inc.resolved_by = op.actor
        for t in s.scalars(select(Timer).where(Timer.case_id == self.case_id, Timer.status == "failed")):
            t.status, t.attempts, t.next_attempt_at = "pending", 0, None  # the worker tries again
        s.flush()
        self.incidents = [i.id for i in open_incidents]

    def apply(self, wf, ctx):
        for task in all_tasks(wf):
            if task.state == TaskState.ERROR:
                task._set_state(TaskState.READY)

    def payload(self):
        return {"incidents": self.incidents}

    @classmethod
    def decode(cls, element_id, data):
        return cls(None, data.get("incidents", []))


# ---------------------------------------------------------------- deadlines
# A deadline command changes timer rows (engine.deadlines) and the value of the workflow's waiting timers. The
# journal names the timers by element; live, the rows also know their task (a multi-instance task has one
# timer per instance), and an extension moves the reminders that follow it, which the journal does not list.

class _DeadlineCommand(Command):
    _targets: list[tuple[str, str]] | None = None  # live: (task id, event value), from the timer rows

    def apply(self, wf, ctx):
        self.follow_clock(ctx)
        if self._targets is not None:
            for task_id, value in self._targets:
                set_event_value(wf, task_id, value)
            return
        for element_id, value in self.journaled_values(ctx):
            for task in all_tasks(wf):
                if task.state == TaskState.WAITING and task.task_spec.bpmn_id == element_id:
                    set_event_value(wf, str(task.id), value)

    def follow_clock(self, ctx: CommandContext) -> None:
        """Pause and resume say whether the case's clock runs (replay keeps track of it in the context)."""

    def journaled_values(self, ctx: CommandContext) -> list[tuple[str, str]]:
        raise NotImplementedError


def _reason_required(reason: str, message: str) -> None:
    if not reason or not reason.strip():
        raise Invalid(message)


@_registered
@dataclass
class PauseDeadlines(_DeadlineCommand):
    event_type: ClassVar[str] = "deadlines.paused"

    case_id: int | None
    reason: str
    deadlines: list[dict] = field(default_factory=list)
    basis: str | None = None  # the rule that lets this clock stop (a 复核 hearing: 条例第三十六条); journaled when given

    def check(self):
        _reason_required(self.reason, "暂停计时必须说明理由（a reason is required to stop the clock）")

    def prepare(self, op, ctx):
        self.deadlines, task_ids = op.rt.deadlines.pause(op.s, op.case, ctx)
        self._targets = [(task_id, PAUSED_UNTIL) for task_id in task_ids]
        op.case.paused_at, op.case.pause_reason = ctx.now, self.reason

    def follow_clock(self, ctx):
        ctx.clock_stopped = True

    def journaled_values(self, ctx):
        return [(d["element_id"], PAUSED_UNTIL) for d in self.deadlines]

    def payload(self):
        data = {"reason": self.reason, "deadlines": self.deadlines}
        if self.basis is not None:  # events written before the basis was recorded keep their exact text
            data["basis"] = self.basis
        return data

    @classmethod
    def decode(cls, element_id, data):
        return cls(None, data.get("reason", ""), data.get("deadlines", []), data.get("basis"))


@_registered
@dataclass
class ResumeDeadlines(_DeadlineCommand):
    event_type: ClassVar[str] = "deadlines.resumed"

    case_id: int | None
    reason: str = ""
    paused_days: int | None = None
    deadlines: list[dict] = field(default_factory=list)

    def prepare(self, op, ctx):
        self.deadlines, task_ids = op.rt.deadlines.resume(op.s, op.case, ctx)
        self._targets = [(task_id, d["new_due_at"]) for task_id, d in zip(task_ids, self.deadlines, strict=True)]
        self.paused_days = (ctx.now - op.case.paused_at).days
        op.case.paused_at, op.case.pause_reason = None, None

    def follow_clock(self, ctx):
        ctx.clock_stopped = False

    def journaled_values(self, ctx):
        return [(d["element_id"], d["new_due_at"]) for d in self.deadlines]

    def payload(self):
        return {"reason": self.reason, "paused_days": self.paused_days, "deadlines": self.deadlines}

    @classmethod
    def decode(cls, element_id, data):
        return cls(None, data.get("reason", ""), data.get("paused_days"), data.get("deadlines", []))


@_registered
@dataclass
class ExtendDeadline(_DeadlineCommand):
    event_type: ClassVar[str] = "deadline.extended"

    case_id: int | None
    timer_element_id: str
    days: int
    reason: str
    max_days: int = 30
    old_due_at: str | None = None
    new_due_at: str | None = None
    total_extension: int | None = None
    explanation: str | None = None

    def check(self):
        if not isinstance(self.days, int) or isinstance(self.days, bool) or self.days <= 0:
            raise Invalid("延期天数必须是正整数（extension days must be a positive whole number）")
        _reason_required(self.reason, "延期必须说明理由（a reason is required for an extension）")

    def prepare(self, op, ctx):
        row, old, deadline, followers = op.rt.deadlines.extend(op.s, op.case, self.timer_element_id, self.days,
                                                               self.max_days)
        self.old_due_at, self.new_due_at = old.isoformat(), row.due_at.isoformat()
        self.total_extension, self.explanation = row.extension_days, deadline.explain()
        running = [(row.task_id, self.new_due_at)] if row.status == "pending" else []
        self._targets = running + followers

    def journaled_values(self, ctx):
        return [] if ctx.clock_stopped else [(self.timer_element_id, self.new_due_at)]  # paused: stays paused

    @property
    def element_id(self):
        return self.timer_element_id

    def payload(self):
        return {"reason": self.reason, "days": self.days, "old_due_at": self.old_due_at,
                "new_due_at": self.new_due_at, "total_extension": self.total_extension,
                "explanation": self.explanation}

    @classmethod
    def decode(cls, element_id, data):
        return cls(None, element_id, data.get("days"), data.get("reason", ""), old_due_at=data.get("old_due_at"),
                   new_due_at=data.get("new_due_at"), total_extension=data.get("total_extension"),
                   explanation=data.get("explanation"))


@_registered
@dataclass
class CorrectDeadline(_DeadlineCommand):
    """An administrator's correction of a wrongly computed deadline (更正时限): not an extension and no power of the
    unit whose clock it is. The deadline of timer `timer_element_id` ends at 24:00 of `due_date` instead; the
    reminders that follow it move with it. Journaled with the reason and the due time before and after."""
    event_type: ClassVar[str] = "deadline.corrected"

    case_id: int | None
    timer_element_id: str
    due_date: str
    reason: str
    old_due_at: str | None = None
    new_due_at: str | None = None

    def check(self):
        _reason_required(self.reason, "更正时限必须说明理由（a reason is required to correct a deadline）")
        try:
            date.fromisoformat(str(self.due_date))
        except ValueError:
            raise Invalid(f"到期日 {self.due_date!r} 不是日期，请写成 2026-05-06 的形式"
                          f"（due_date must be an ISO date）") from None

    def prepare(self, op, ctx):
        row, old, followers = op.rt.deadlines.correct(op.s, op.case, self.timer_element_id,
                                                      date.fromisoformat(str(self.due_date)), self.reason)
        self.old_due_at, self.new_due_at = old.isoformat(), row.due_at.isoformat()
        self._targets = [(row.task_id, self.new_due_at)] + followers

    def journaled_values(self, ctx):
        return [(self.timer_element_id, self.new_due_at)]

    @property
    def element_id(self):
        return self.timer_element_id

    def payload(self):
        return {"reason": self.reason, "due_date": self.due_date, "old_due_at": self.old_due_at,
                "new_due_at": self.new_due_at}

    @classmethod
    def decode(cls, element_id, data):
        return cls(None, element_id, data.get("due_date"), data.get("reason", ""), data.get("old_due_at"),
                   data.get("new_due_at"))


@_registered
@dataclass
class RecomputeDeadlines(_DeadlineCommand):
    event_type: ClassVar[str] = "deadlines.recomputed"

    case_id: int | None
    timer_ids: list[int] = field(default_factory=list)
    deadlines: list[dict] = field(default_factory=list)

    def prepare(self, op, ctx):
        self.deadlines, task_ids = op.rt.deadlines.recompute(op.s, self.timer_ids, ctx)
        self._targets = [(task_id, d["new_due_at"]) for task_id, d in zip(task_ids, self.deadlines, strict=True)]

    def journaled_values(self, ctx):
        return [(d["element_id"], d["new_due_at"]) for d in self.deadlines]

    def to_event(self, actor, now):
        return super().to_event(actor, now) if self.deadlines else None  # nothing moved: nothing to journal

    def payload(self):
        return {"deadlines": self.deadlines}

    @classmethod
    def decode(cls, element_id, data):
        return cls(None, [], data.get("deadlines", []))


# ---------------------------------------------------------------- moving a case to another version

@_registered
@dataclass
class MigrateCase(Command):
    """The case takes the state its journal replays to on the new version (engine.case_migration): that state
    is built before the command runs, so there is nothing to apply, and a replay, which already runs the case
    on its new version, skips it. The event is dated when the migration ran; the engine settles at the replayed
    instant."""
    event_type: ClassVar[str] = "case.migrated"
    replayed: ClassVar[bool] = False

    case_id: int | None
    from_definition_id: int
    from_version: int
    to_definition_id: int
    to_version: int
    deadlines: list[dict] = field(default_factory=list)
    at: datetime | None = None

    def apply(self, wf, ctx):
        return None

    def to_event(self, actor, now):
        return super().to_event(actor, self.at or now)

    def payload(self):
        return {"from_definition_id": self.from_definition_id, "from_version": self.from_version,
                "to_definition_id": self.to_definition_id, "to_version": self.to_version,
                "deadlines": self.deadlines}

    @classmethod
    def decode(cls, element_id, data):
        at = datetime.fromisoformat(data["now"]) if "now" in data else None
        return cls(None, data.get("from_definition_id"), data.get("from_version"), data.get("to_definition_id"),
                   data.get("to_version"), data.get("deadlines", []), at)


def _summary(data: dict) -> dict:
    summary = {k: data[k] for k in ("title", "channel", "category") if k in data and isinstance(data[k], str)}
    if data.get("group_visit") is True:  # 集体访: its headcount, for the lists that show a badge
        count = data.get("visitors_count")
        people = data.get("petitioners") if isinstance(data.get("petitioners"), list) else []
        summary["group_visit"] = count if isinstance(count, int) and not isinstance(count, bool) and count > 0 \
            else max(len(people), 1)
    return summary


# ---------------------------------------------------------------- getting a case out of an incident
# An admin corrects the data a failing step runs on (then retries), or moves the case to another step of its
# process (engine.repair). Both are commands: journaled with actor, reason and what changed, replayed alike.

def _open_in_incident(op: Opening, case_id: int | None) -> None:
    op.case = op.rt._lock_case(op.s, case_id, op.expected_version)
    if op.case.status != "incident":
        raise Conflict(f"案件 {case_id} 不在故障状态，无需修复（the case is not in incident）")
    op.wf = op.rt._load(op.s, op.case)


@_registered
@dataclass
class RepairData(Command):
    """One top-level key of the failing steps' data set to `value` (the case stays in incident until retried).
    `before` is what the first failing step had (None with `had_key` False: the key was missing)."""
    event_type: ClassVar[str] = "incident.data_repaired"

    case_id: int | None
    key: str
    value: Any
    reason: str
    before: Any = None
    had_key: bool = False
    failing: list[str] = field(default_factory=list)

    def check(self):
        if not isinstance(self.key, str) or not self.key.strip() or self.key.startswith("spiff__"):
            raise Invalid("请选择要修正的数据项（choose the data key to correct）")
        _reason_required(self.reason, "修正故障案件的数据必须说明理由（a reason is required to repair data）")

    def open(self, op: Opening) -> None:
        _open_in_incident(op, self.case_id)
        tasks = repair.failing_tasks(op.wf)
        if not tasks:
            raise Conflict(f"案件 {self.case_id} 没有出错的环节可修正，请改用“移至环节”（no failing step to repair; "
                           f"move the case instead）")
        self.failing = [t.task_spec.bpmn_id for t in tasks if getattr(t.task_spec, "bpmn_id", None)]
        self.had_key = self.key in tasks[0].data
        self.before = copy.deepcopy(tasks[0].data.get(self.key))

    def apply(self, wf, ctx):
        tasks = repair.failing_tasks(wf)
        if not tasks:
            raise NotApplicable("重放到第 {seq} 号事件时没有出错的环节可修正（no failing step on replay）")
        for task in tasks:
            task.data[self.key] = copy.deepcopy(self.value)

    @property
    def element_id(self):
        return self.failing[0] if self.failing else None

    def payload(self):
        return {"key": self.key, "reason": self.reason, "before": self.before, "after": self.value,
                "had_key": self.had_key, "failing": self.failing}

    @classmethod
    def decode(cls, element_id, data):
        return cls(None, data["key"], data.get("after"), data.get("reason", ""), data.get("before"),
                   bool(data.get("had_key")), data.get("failing", []))


@_registered
@dataclass
class MoveToStep(Command):
    """The failing steps replaced by step `target` of the same process, ready (engine.repair.move); the open
    incidents are resolved by the move."""
    event_type: ClassVar[str] = "case.moved"

    case_id: int | None
    target: str
    reason: str
    target_name: str | None = None
    removed: list[str] = field(default_factory=list)
    incidents: list[int] = field(default_factory=list)

    def check(self):
        if not isinstance(self.target, str) or not self.target.strip():
            raise Invalid("请选择要移至的环节（choose the step to move the case to）")
        _reason_required(self.reason, "移动案件环节必须说明理由（a reason is required to move a case）")

    def open(self, op: Opening) -> None:
        _open_in_incident(op, self.case_id)
        spec = repair.step_spec(op.wf, self.target)
        if spec is None:
            raise Invalid(f"流程中没有环节 {self.target}，请从列表中选择（no such step in the case's process）")
        if not repair.failing_tasks(op.wf) and not repair.live_tasks(op.wf):
            raise Conflict(f"案件 {self.case_id} 没有可移动的环节（nothing to move from）")
        self.target_name = getattr(spec, "bpmn_name", None) or self.target
        open_incidents = op.s.scalars(select(Incident).where(Incident.case_id == self.case_id,
                                                             Incident.resolved_at.is_(None))).all()
        for inc in open_incidents:
            inc.resolved_at, inc.resolved_by = op.now, op.actor
        # A timer that failed to fire is closed: one still waiting after the move gets a fresh row (sync_timers).
        for t in op.s.scalars(select(Timer).where(Timer.case_id == self.case_id, Timer.status == "failed")):
            t.status = "cancelled"
        op.s.flush()
        self.incidents = [i.id for i in open_incidents]

    def apply(self, wf, ctx):
        try:
            self.removed = repair.move(wf, self.target)
        except LookupError:
            raise NotApplicable(f"重放到第 {{seq}} 号事件时无法移至 {self.target}（cannot move on replay）") from None

    @property
    def element_id(self):
        return self.target

    def payload(self):
        return {"reason": self.reason, "target_name": self.target_name, "removed": self.removed,
                "incidents": self.incidents}

    @classmethod
    def decode(cls, element_id, data):
        return cls(None, element_id, data.get("reason", ""), data.get("target_name"), data.get("removed", []),
                   data.get("incidents", []))
