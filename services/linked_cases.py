"""Cases linked to a case: the supervision-feedback cases a petition case's 督办 steps started (their
`parent_case_id`), and the case a feedback case belongs to. The case page and `GET /api/cases/{id}` list them."""
from __future__ import annotations

import json

from sqlalchemy import select

from engine.store import Case

PROCESS_LABELS = {"supervision_feedback": "督办书面反馈", "accountability_feedback": "问责书面反馈"}


def linked_cases(s, case_id: int) -> list[dict]:
    """The cases started by a step of `case_id`, oldest first: id, process, title, status, started, completed."""
    rows = s.scalars(select(Case).where(Case.parent_case_id == case_id).order_by(Case.id))
    return [_row(c) for c in rows]


def parent_case(s, case_id: int) -> dict | None:
    case = s.get(Case, case_id)
    if case is None or case.parent_case_id is None:
        return None
    parent = s.get(Case, case.parent_case_id)
    return _row(parent) if parent is not None else None


def _row(case: Case) -> dict:
    try:
        summary = json.loads(case.summary_json or "{}")
    except ValueError:
        summary = {}
    return {"id": case.id, "case_no": case.case_no, "process_key": case.process_key,
            "process": PROCESS_LABELS.get(case.process_key, case.process_key),
            "title": summary.get("title") if isinstance(summary, dict) else None, "status": case.status,
            "created_at": case.created_at.isoformat() if case.created_at else None,
            "completed_at": case.completed_at.isoformat() if case.completed_at else None}
