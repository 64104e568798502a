"""Work items: the rows that follow the workflow's ready user tasks (who handles what, by when), and the changes
of hands on them (claim, give back, reassign, delegate), journaled on the case's chain without a new version."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from .case_chain import append_case_events, lock_case
from .context import CommandContext
from .errors import Conflict, Invalid, NotFound, describe_error
from .journal import PendingEvent
from .ports import PlacementFactory
from .row_writes import RowWrites, new_row
from .store import Case, WorkItem
from .tree import find_task, work_item_due

OPEN_ITEMS = select(WorkItem).where(WorkItem.case_id == bindparam("case_id"), WorkItem.state == "open")
STATE_CN = {"completed": "办理", "cancelled": "取消"}


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
    orphan: dict | None = None  # 无人可办: {unit, role, since, resolved_at, resolved_by} it was meant for


def task_view(w: WorkItem) -> TaskView:
    return TaskView(id=w.id, case_id=w.case_id, task_id=w.task_id, element_id=w.element_id, name=w.name,
                    process_key=w.process_key, role=w.role, unit=w.unit, lane=w.lane, form=w.form,
                    assignee=w.assignee, state=w.state, created_at=w.created_at, due_at=w.due_at,
                    orphan=orphan_of(w))


def orphan_of(w: WorkItem) -> dict | None:
    if w.orphan_since is None:
        return None
    return {"unit": w.intended_unit, "role": w.intended_role, "since": w.orphan_since,
            "resolved_at": w.orphan_resolved_at, "resolved_by": w.orphan_resolved_by}


def reminders(meta: dict) -> set[str]:
    """Timers marked `lianxin:kind="reminder"`: they remind before a deadline and are no deadline themselves."""
    timers = meta.get("timers", {}) or {}
    return {element for element, t in timers.items() if isinstance(t, dict) and t.get("reminder")}


def sync_work_items(s: Session, case: Case, wf: BpmnWorkflow, ctx: CommandContext, existing: dict | None,
                    meta: dict, script_engine, placement: PlacementFactory | None = None
                    ) -> tuple[list[WorkItem], RowWrites]:
    """Open a work item for each newly ready user task, close the ones whose task is no longer ready, and let the
    still open ones follow their deadlines. Returns the open items, and the writes to make (`RowWrites.write`)
    once the case row is written. `existing`: the case's open items by task id when the caller holds them all
    (None: read them). With `placement`, a new item whose role nobody holds in its unit goes where someone can
    do it (`place`)."""
    ready = {str(t.id): t for t in wf.get_tasks(state=TaskState.READY, manual=True)}
    if existing is None:
        existing = {w.task_id: w for w in s.scalars(OPEN_ITEMS, {"case_id": case.id})}
    writes = RowWrites(WorkItem.__table__)
    for task_id, row in existing.items():
        if task_id in ready:
            continue
        task = find_task(wf, task_id)
        done = task is None or task.state == TaskState.COMPLETED
        writes.changed.append((row, {"state": "completed" if done else "cancelled", "completed_at": ctx.now,
                                    "completed_by": ctx.actor if done else row.completed_by}))
    user_tasks = meta.get("user_tasks", {})
    skip = reminders(meta)
    still_open = [row for task_id, row in existing.items() if task_id in ready]
    for row in still_open:  # a deadline moved (extension, recompute, resume): the work item follows
        due = work_item_due(ready[row.task_id], skip)
        if due is not None and due.year < 9999 and due != row.due_at:
            row.due_at = due
    placer = None
    for task_id, task in ready.items():
        if task_id in existing:
            continue
        row = _new_item(case, task_id, task, user_tasks, skip, ctx,
                        lambda expression, task=task: _evaluate_property(script_engine, task, expression, ctx))
        if placement is not None and row.unit and row.role:
            placer = placer or placement(s)
            place(row, placer, ctx)
        writes.new.append(row)
        still_open.append(row)
    return still_open, writes


def place(row: WorkItem, placer, ctx: CommandContext) -> None:
    """Every task has a person. When nobody holds the item's role in its unit, the placement says where it goes:
    to the unit's own staff in another role (a petition office's office role), or, flagged 无人可办 with the unit
    and role it was meant for, to the nearest petition office above; the runtime journals that
    (`work_item.orphaned`)."""
    where = placer.place(row.unit, row.role)
    if where is None or (where.unit, where.role) == (row.unit, row.role) and not where.orphaned:
        return
    if where.orphaned:
        row.intended_unit, row.intended_role, row.orphan_since = row.unit, row.role, ctx.now
        ctx.orphaned.append({"task_id": row.task_id, "element_id": row.element_id, "name": row.name, "intended_unit": row.unit,
                             "intended_role": row.role, "unit": where.unit, "role": where.role,
                             "reason": where.reason})
    row.unit, row.role = where.unit, where.role


def _new_item(case: Case, task_id: str, task, user_tasks: dict, skip: set[str], ctx: CommandContext,
              evaluate: Callable) -> WorkItem:
    spec = task.task_spec
    info = user_tasks.get(spec.bpmn_id, {})
    props = (getattr(spec, "extensions", None) or {}).get("properties", {}) or {}
    unit = info.get("unit") or props.get("unit")
    if unit:
        unit = evaluate(unit)
    role = info.get("role") or props.get("role")
    if props.get("role_expression"):  # the role read from the case data (who supervises depends on the unit)
        role = evaluate(props["role_expression"]) or role
    return new_row(  # engine.row_writes: written by RowWrites, not flushed
        WorkItem, case_id=case.id, task_id=task_id, element_id=spec.bpmn_id,
        name=getattr(spec, "bpmn_name", None) or spec.bpmn_id, process_key=case.process_key,
        lane=getattr(spec, "lane", None), role=role,
        unit=unit, form=info.get("form") or props.get("form"), assignee=None, state="open",
        created_at=ctx.now, due_at=work_item_due(task, skip),
    )


def _evaluate_property(script_engine, task, expression: str, ctx: CommandContext):
    """`unit` names a data variable (e.g. `responsible_unit`) or is a quoted literal (`'city_bureau'`).
    When it cannot be evaluated the task is left without a unit (admins and the bureau still see it) and
    the journal says why: never a guessed unit."""
    try:
        value = script_engine.evaluate(task, expression)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        ctx.warnings.append({"element_id": task.task_spec.bpmn_id, "expression": expression,
                             "message": f"无法确定承办单位：{describe_error(exc)[0]}（unit expression failed）"})
        return None
    return None if value is None else str(value)


# ---- changes of hands

def claim(session_factory: sessionmaker, now: datetime, work_item_id: int, user: str, *,
          unclaim: bool = False) -> TaskView:
    """Claim (认领) an open work item, or give it back (退回) to its unit. A change of hands is journaled on
    the case's chain (`work_item.claimed` / `work_item.unclaimed`, actor and time) without bumping the case
    version, like `hand_over`; claiming an item one already holds changes nothing and journals nothing."""
    with session_factory() as s, s.begin():
        item = _locked_item(s, work_item_id)
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


def hand_over(session_factory: sessionmaker, now: datetime, work_item_id: int, to_user: str, actor: str,
              kind: str = "reassigned", note: str = "") -> TaskView:
    """Reassign (转办) or delegate (委托) an open work item to `to_user`; journaled on the case's chain
    without bumping its version (an open form elsewhere stays valid). Who may receive it is the caller's
    rule (same unit); this only makes the change atomic and recorded."""
    with session_factory() as s, s.begin():
        item = _locked_item(s, work_item_id)
        if item.state != "open":
            raise Conflict(f"任务 {work_item_id} 已{STATE_CN.get(item.state, item.state)}，不能移交"
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


def hand_back_orphan(session_factory: sessionmaker, now: datetime, work_item_id: int, actor: str) -> TaskView:
    """Give an orphaned work item (无人可办) back to the unit and role it was meant for, once someone holds that
    role there (the caller checks): journaled (`work_item.handed_back`) without a new case version; the item
    keeps its flag, resolved, so that the report still lists it."""
    with session_factory() as s, s.begin():
        item = _locked_item(s, work_item_id)
        if item.orphan_since is None:
            raise Invalid(f"任务 {work_item_id} 不是无人可办的任务，无需交回（task was never orphaned）")
        if item.orphan_resolved_at is not None or item.state != "open":
            raise Conflict(f"任务 {work_item_id} 已{'交回' if item.orphan_resolved_at else STATE_CN.get(item.state, item.state)}"
                           f"，不能再交回（task is already handed back or no longer open）")
        before = {"unit": item.unit, "role": item.role, "assignee": item.assignee}
        res = s.execute(update(WorkItem).where(WorkItem.id == work_item_id, WorkItem.state == "open",
                                               WorkItem.orphan_resolved_at.is_(None))
                        .values(unit=item.intended_unit, role=item.intended_role, assignee=None,
                                orphan_resolved_at=now, orphan_resolved_by=actor))
        if res.rowcount != 1:
            raise Conflict(f"任务 {work_item_id} 刚被他人变更，请刷新后重试（task changed meanwhile）")
        append_case_events(s, item.case_id, [PendingEvent(
            "work_item.handed_back", actor, now, item.element_id,
            {"work_item_id": item.id, "from": before, "to": {"unit": item.intended_unit, "role": item.intended_role}})])
        s.flush()
        s.refresh(item)
        return task_view(item)


def check_hand_over_kind(kind: str) -> None:
    if kind not in ("reassigned", "delegated"):
        raise Invalid(f"未知的移交方式 {kind}（reassigned or delegated）")


def _locked_item(s: Session, work_item_id: int) -> WorkItem:
    item = s.get(WorkItem, work_item_id)
    if item is None:
        raise NotFound(f"任务 {work_item_id} 不存在（no such task）")
    lock_case(s, item.case_id)  # the case row before the work item's, as commands take them
    s.refresh(item)
    return item
