"""Cases linked to a case: the supervision-feedback cases a petition case's 督办 steps started (their
`parent_case_id`), and the case a feedback case belongs to. The case page and `GET /api/cases/{id}` list them."""
from __future__ import annotations

import json

from sqlalchemy import Integer, bindparam, literal, select, union_all

from engine.store import Case
from infra.driver_reads import DriverSelect

PROCESS_LABELS = {"supervision_feedback": "督办书面反馈", "accountability_feedback": "问责书面反馈"}


# The columns a linked case is shown with (`_row`): never the workflow state, the row's largest column.
_SHOWN = (Case.id, Case.case_no, Case.process_key, Case.summary_json, Case.status, Case.created_at, Case.completed_at)
# The cases a step of the case started, and the case that started it.
_STARTED_BY_IT = Case.parent_case_id == bindparam("case_id")
_STARTED_IT = Case.id == select(Case.parent_case_id).where(Case.id == bindparam("case_id")).scalar_subquery()
_CHILDREN = select(*_SHOWN).where(_STARTED_BY_IT).order_by(Case.id)
_PARENT = select(*_SHOWN).where(_STARTED_IT)


# Both at once (the case page and `GET /api/cases/{id}` show both): the children, then the parent, marked.
_BOTH_WAYS = union_all(select(*_SHOWN, literal(0, Integer).label("is_parent")).where(_STARTED_BY_IT),
                       select(*_SHOWN, literal(1, Integer).label("is_parent")).where(_STARTED_IT))
_BOTH_WAYS_READ = DriverSelect(_BOTH_WAYS)  # every case view asks (infra/driver_reads.py)


def both_ways(s, case_id: int) -> tuple[list[dict], dict | None]:
    """(`linked_cases`, `parent_case`) of `case_id`, in one statement."""
    rows = _BOTH_WAYS_READ.rows(s, {"case_id": case_id})
    children = sorted((r for r in rows if not r.is_parent), key=lambda r: r.id)
    parent = next((r for r in rows if r.is_parent), None)
    return [_row(c) for c in children], (_row(parent) if parent is not None else None)


def linked_cases(s, case_id: int) -> list[dict]:
    """The cases started by a step of `case_id`, oldest first: id, process, title, status, started, completed."""
    return [_row(c) for c in s.execute(_CHILDREN, {"case_id": case_id})]


def parent_case(s, case_id: int) -> dict | None:
    """The case `case_id` was started by (a feedback case's petition case), or None."""
    parent = s.execute(_PARENT, {"case_id": case_id}).first()
    return _row(parent) if parent is not None else None


def _row(case) -> dict:
    try:
        summary = json.loads(case.summary_json or "{}")
    except ValueError:
        summary = {}
    return {"id": case.id, "case_no": case.case_no, "process_key": case.process_key,
            "process": PROCESS_LABELS.get(case.process_key, case.process_key),
            "title": summary.get("title") if isinstance(summary, dict) else None, "status": case.status,
            "created_at": case.created_at.isoformat() if case.created_at else None,
            "completed_at": case.completed_at.isoformat() if case.completed_at else None}
