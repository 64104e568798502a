"""The case registers (the four lists: leader_case, stabilisation, resolution, supervision) as rows for the desk's
list pages, their spreadsheet export and `GET /api/registers/<register>`: one query for all three.

Who may see which rows is the caller's decision (web/visibility.py): it passes the units served (None: every
unit) and any further condition on the case, such as the discipline track."""
from __future__ import annotations

import json
from collections.abc import Collection

from sqlalchemy import false, select

from engine.store import CaseRegister


def register_rows(s, register: str, *, units: Collection[str] | None = None, person: str = "", status: str = "",
                  served: Collection[str] | None = None, case_condition=None, limit: int = 500) -> list[dict]:
    """The register's rows, newest change first: `units` (one unit, or a unit with its subunits), `person` and
    `status` filter; `served` limits them to the caller's units (None: every unit; empty: none)."""
    q = select(CaseRegister).where(CaseRegister.register == register)
    if units:
        q = q.where(CaseRegister.unit.in_(sorted(units)))
    if person:
        q = q.where(CaseRegister.person == person)
    if status:
        q = q.where(CaseRegister.status == status)
    if served is not None:
        q = q.where(CaseRegister.unit.in_(sorted(served)) if served else false())
    if case_condition is not None:
        q = q.where(case_condition)
    rows = s.scalars(q.order_by(CaseRegister.updated_at.desc(), CaseRegister.id.desc()).limit(limit))
    return [{"case_id": r.case_id, "key": r.key, "unit": r.unit, "person": r.person, "status": r.status,
             "data": json.loads(r.data or "{}"), "opened_at": r.opened_at, "updated_at": r.updated_at,
             "closed_at": r.closed_at} for r in rows]
