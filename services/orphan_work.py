"""The admin's report of work nobody could do (无人可办): every work item the placement rule
(services/work_placement.py) moved to a petition office because nobody held its role in its unit, for good —
open, done, cancelled or handed back — with its case, step, the unit and role it was meant for, where it went and
since when; and whether it can go back now that the organisation has someone for it."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store import Case, WorkItem
from infra.accounts import Unit

from .roles import ROLE_LABELS
from .work_placement import WorkPlacement

STATUS_LABELS = {"open": "无人可办", "returnable": "可交回", "handed_back": "已交回", "completed": "已由信访部门办结",
                 "cancelled": "已取消"}


def can_go_back(s: Session, item: WorkItem) -> bool:
    """Someone now holds the intended role in the intended unit (the placement would leave it there)."""
    if not item.intended_unit or not item.intended_role:
        return False
    where = WorkPlacement(s).place(item.intended_unit, item.intended_role)
    return where is None or not where.orphaned


def status_of(s: Session, item: WorkItem) -> str:
    if item.orphan_resolved_at is not None:
        return "handed_back"
    if item.state != "open":
        return item.state if item.state in STATUS_LABELS else "cancelled"
    return "returnable" if can_go_back(s, item) else "open"


def report(s: Session, case_condition=None, limit: int = 1000) -> list[dict]:
    """Every orphaned work item, the open ones first, then the newest; `case_condition` (SQL on
    `WorkItem.case_id`) leaves out the cases the reader may not see (the discipline track)."""
    names = dict(s.execute(select(Unit.code, Unit.name)).all())
    query = select(WorkItem, Case.case_no).join(Case, Case.id == WorkItem.case_id)
    if case_condition is not None:
        query = query.where(case_condition)
    rows = s.execute(query.where(WorkItem.orphan_since.is_not(None))
                     .order_by((WorkItem.state != "open"), WorkItem.orphan_since.desc(), WorkItem.id.desc())
                     .limit(limit)).all()
    out = []
    for item, case_no in rows:
        status = status_of(s, item)
        out.append({
            "work_item_id": item.id, "case_id": item.case_id, "case_no": case_no, "element_id": item.element_id,
            "step": item.name, "intended_unit": item.intended_unit,
            "intended_unit_name": names.get(item.intended_unit or "", item.intended_unit),
            "intended_role": item.intended_role, "intended_role_label": ROLE_LABELS.get(item.intended_role or "", ""),
            "unit": item.unit, "unit_name": names.get(item.unit or "", item.unit), "role": item.role,
            "since": item.orphan_since, "state": item.state, "assignee": item.assignee, "status": status,
            "status_label": STATUS_LABELS[status], "resolved_at": item.orphan_resolved_at,
            "resolved_by": item.orphan_resolved_by})
    return out
