"""Moving running cases from one version of their process to a newer one.

A case may move when its whole journal replays on the new version: every task that was submitted is ready
there at the same point, every recorded service result is used, every awaited message is awaited, and the
case ends up waiting at the same elements as it does now. The dry run (`check`) does that replay and says, for
each case, whether it can move and, if not, why. `migrate` repeats the check under the case's version lock and
moves the chosen cases in one transaction (all or none): the case takes the replayed state, its open work items
and timers keep their rows (and claims), deadlines whose rule changed in the new version are recomputed, and
each case's journal gets a `case.migrated` event with the versions, the actor and the moved deadlines.

Because the journal is afterwards replayed on the new version (audit, verify), a migrated case verifies like any
other.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from .commands import MigrateCase, Opening
from .context import CommandContext, deadline_sink
from .errors import Conflict, Invalid, NotFound, ReplayError, describe_error
from .replay import Replayer
from .store import Case, ProcessDefinition, Timer, WorkItem
from .tree import all_tasks, timer_due

MAX_BATCH = 500
LIVE_STATES = (TaskState.READY, TaskState.WAITING, TaskState.STARTED, TaskState.ERROR)


@dataclass
class CaseCheck:
    """The dry-run verdict for one case."""
    case_id: int
    case_no: str | None
    from_version: int
    to_version: int
    can_move: bool
    reason: str = ""
    position: list[str] = field(default_factory=list)  # the elements the case waits at (names)
    deadlines: list[dict] = field(default_factory=list)  # deadlines that move: element, label, old and new due
    case_version: int = 0
    title: str = ""

    def to_dict(self) -> dict:
        return {"case_id": self.case_id, "case_no": self.case_no, "title": self.title,
                "from_version": self.from_version,
                "to_version": self.to_version, "can_move": self.can_move, "reason": self.reason,
                "position": self.position, "deadlines": self.deadlines}


class _ReplayOn(Replayer):
    """Replays a case's journal on another definition version than its own."""

    def __init__(self, runtime, definition_id: int):
        super().__init__(runtime)
        self.definition_id = definition_id

    def events(self, case_id: int):
        case, rows = super().events(case_id)
        if case is not None:
            case.definition_id = self.definition_id  # a detached copy: never written back
        return case, rows


@dataclass
class _Replayed:
    check: CaseCheck
    wf: object = None
    at: datetime | None = None  # the instant of the last journaled event: the replayed state is as of then
    deadline_rules: dict = field(default_factory=dict)  # task id -> deadline info computed on replay


class CaseMigration:
    def __init__(self, runtime):
        self.rt = runtime

    # ---- the dry run

    def check(self, to_definition_id: int, case_ids: list[int] | None = None,
              from_definition_id: int | None = None) -> list[CaseCheck]:
        """Which running cases of older versions could move to `to_definition_id`, and why not the others.
        Without `case_ids`, every running case of the process on an older version (or of `from_definition_id`)."""
        target = self._target(to_definition_id)
        with self.rt.read_sessions() as s:
            if case_ids is None:
                q = select(Case.id).where(Case.process_key == target.process_key, Case.status != "completed")
                if from_definition_id is not None:
                    q = q.where(Case.definition_id == from_definition_id)
                else:
                    q = q.where(Case.definition_id != target.id)
                case_ids = list(s.scalars(q.order_by(Case.id)))
        if len(case_ids) > MAX_BATCH:
            raise Invalid(f"一次最多迁移 {MAX_BATCH} 个案件，请分批选择（at most {MAX_BATCH} cases per batch）")
        return [self._replay(case_id, target).check for case_id in case_ids]

    def _target(self, definition_id: int) -> ProcessDefinition:
        with self.rt.read_sessions() as s:
            target = s.get(ProcessDefinition, definition_id)
            if target is None:
                raise NotFound(f"流程版本 {definition_id} 不存在（no such definition）")
            s.expunge(target)
            self.rt.load_definition(s, definition_id)
        return target

    def _replay(self, case_id: int, target: ProcessDefinition) -> _Replayed:
        with self.rt.read_sessions() as s:
            case = s.get(Case, case_id)
            if case is None:
                raise NotFound(f"案件 {case_id} 不存在（no such case）")
            current = s.get(ProcessDefinition, case.definition_id)
            stored_wf = self.rt._load(s, case)
            timers = {t.element_id: t for t in s.scalars(select(Timer).where(
                Timer.case_id == case_id, Timer.status.in_(("pending", "paused"))))}
            s.expunge_all()
        check = CaseCheck(case.id, case.case_no, current.version, target.version, False,
                          position=_position(stored_wf), case_version=case.version,
                          title=str(json.loads(case.summary_json or "{}").get("title", "")))
        out = _Replayed(check)
        refusal = _refusal(case, current, target)
        if refusal:
            check.reason = refusal
            return out
        sink: list[dict] = []
        token = deadline_sink.set(sink)
        try:
            wf, snapshot = _ReplayOn(self.rt, target.id).rebuild(case_id)
        except ReplayError as err:
            check.reason = f"日志第 {err.seq} 号事件无法在新版本上重放：{err.message}"
            return out
        except Exception as err:  # the new version cannot run this case's history at all
            check.reason = f"在新版本上重放失败：{describe_error(err)[0]}"
            return out
        finally:
            deadline_sink.reset(token)
        errors = [t for t in all_tasks(wf) if t.state == TaskState.ERROR]
        if errors:
            check.reason = f"在新版本上重放时环节“{_name(errors[0])}”出错，案件会进入异常状态"
            return out
        before, after = _live(stored_wf), _live(wf)
        if before != after:
            check.reason = (f"在新版本上案件会停在“{'、'.join(_names(wf, after)) or '（已办结）'}”，"
                            f"而现在停在“{'、'.join(check.position) or '（无）'}”：新版本改动了案件已经走过的部分")
            return out
        out.wf, out.at = wf, snapshot.at
        out.deadline_rules = {d["task_id"]: d for d in sink if d.get("task_id")}
        check.deadlines = _moved_deadlines(wf, timers)
        check.can_move = True
        return out

    # ---- the migration

    def migrate(self, to_definition_id: int, case_ids: list[int], actor: str,
                now: datetime | None = None) -> list[CaseCheck]:
        """Move the chosen cases in one transaction, or none of them (Conflict naming the cases that cannot)."""
        if not case_ids:
            raise Invalid("请至少选择一个案件（choose at least one case）")
        if len(case_ids) > MAX_BATCH:
            raise Invalid(f"一次最多迁移 {MAX_BATCH} 个案件，请分批选择（at most {MAX_BATCH} cases per batch）")
        target = self._target(to_definition_id)
        replayed = [self._replay(case_id, target) for case_id in dict.fromkeys(case_ids)]
        refused = [r.check for r in replayed if not r.check.can_move]
        if refused:
            raise Conflict("以下案件不能迁移，未迁移任何案件：" + "；".join(
                f"{c.case_no or c.case_id}：{c.reason}" for c in refused) + "（nothing was migrated）",
                {"cases": [c.to_dict() for c in refused]})
        now = now or self.rt.clock.now()
        with self.rt.session_factory() as s, s.begin():
            for r in replayed:
                self._move(s, r, target, actor, now)
        return [r.check for r in replayed]

    def _move(self, s, r: _Replayed, target: ProcessDefinition, actor: str, now: datetime) -> None:
        case = self.rt._lock_case(s, r.check.case_id, r.check.case_version)
        old_definition_id = case.definition_id
        wf = r.wf
        ready = {t.task_spec.bpmn_id: t for t in wf.get_tasks(state=TaskState.READY, manual=True)}
        waiting = {t.task_spec.bpmn_id: t for t in all_tasks(wf)
                   if t.state == TaskState.WAITING and timer_due(t) is not None}
        # Task ids are new after a replay: the case's rows follow their elements, keeping ids, claims and history.
        meta = self.rt.definitions.meta[target.id].get("user_tasks", {})
        for item in s.scalars(select(WorkItem).where(WorkItem.case_id == case.id, WorkItem.state == "open")):
            task = ready.get(item.element_id)
            if task is not None:
                item.task_id = str(task.id)
                info = meta.get(item.element_id, {})
                item.name = getattr(task.task_spec, "bpmn_name", None) or item.name
                item.form = info.get("form") or item.form
                item.role = info.get("role") or item.role
        moved_ids = set()
        for timer in s.scalars(select(Timer).where(Timer.case_id == case.id,
                                                   Timer.status.in_(("pending", "paused")))):
            task = waiting.get(timer.element_id)
            if task is not None:
                timer.task_id = str(task.id)
                if timer.element_id in {d["element_id"] for d in r.check.deadlines}:
                    moved_ids.add(str(task.id))
        case.definition_id = target.id
        # The engine settles at the replayed instant, not now: a deadline that the new rule puts in the past is
        # then fired by the worker as a journaled command, so the journal still replays to the stored state.
        ctx = CommandContext(case.id, actor, min(r.at or now, now))
        # Only the deadlines that moved get their new rule written (and journaled as deadline.computed).
        ctx.deadlines = [r.deadline_rules[t] for t in moved_ids if t in r.deadline_rules]
        command = MigrateCase(case.id, old_definition_id, r.check.from_version, target.id, r.check.to_version,
                              r.check.deadlines, at=now)
        self.rt.execute_on(Opening(self.rt, s, actor, now, case=case, wf=wf), command, ctx)


def _refusal(case: Case, current: ProcessDefinition, target: ProcessDefinition) -> str:
    if current.process_key != target.process_key:
        return f"案件属于流程 {current.process_key}，不能迁移到流程 {target.process_key}"
    if case.status == "completed":
        return "案件已办结，无需迁移"
    if case.status == "incident":
        return "案件有未处理的异常，请先在案件页处理异常后再迁移"
    if current.id == target.id:
        return f"案件已在版本 {target.version} 上"
    if current.version > target.version:
        return f"案件在更新的版本 {current.version} 上，只能迁移到更新的版本"
    return ""


def _live(wf) -> list[tuple[str, str]]:
    return sorted({(t.task_spec.bpmn_id, TaskState.get_name(t.state)) for t in all_tasks(wf)
                   if getattr(t.task_spec, "bpmn_id", None) and t.state in LIVE_STATES})


def _name(task) -> str:
    return getattr(task.task_spec, "bpmn_name", None) or task.task_spec.bpmn_id


def _names(wf, live: list[tuple[str, str]]) -> list[str]:
    ids = {element_id for element_id, state in live if state in ("READY", "WAITING")}
    return sorted({_name(t) for t in all_tasks(wf) if getattr(t.task_spec, "bpmn_id", None) in ids
                   and getattr(t.task_spec, "bpmn_name", None)})


def _position(wf) -> list[str]:
    return sorted({_name(t) for t in wf.get_tasks(state=TaskState.READY, manual=True)})


def _moved_deadlines(wf, timers: dict[str, Timer]) -> list[dict]:
    out = []
    for task in all_tasks(wf):
        if task.state != TaskState.WAITING:
            continue
        due = timer_due(task)
        row = timers.get(getattr(task.task_spec, "bpmn_id", None))
        if due is None or row is None or row.status != "pending" or due == row.due_at:
            continue
        out.append({"element_id": row.element_id, "label": row.label or row.element_id,
                    "old_due_at": row.due_at.isoformat(), "new_due_at": due.isoformat()})
    return sorted(out, key=lambda d: d["element_id"])


def describe(checks: list[CaseCheck]) -> dict:
    return {"cases": [c.to_dict() for c in checks], "can_move": sum(c.can_move for c in checks),
            "cannot_move": sum(not c.can_move for c in checks)}

