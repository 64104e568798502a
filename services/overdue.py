"""Overdue open work items counted per unit (the red list), most overdue unit first."""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import false, func, select

from engine.store import WorkItem


def overdue_by_unit(s, now: datetime, served: Collection[str] | None = None) -> list[dict]:
    """`[{"unit", "overdue"}]` of the work items open past their due time; `served` limits them to the caller's
    units (None: every unit; empty: none)."""
    q = select(WorkItem.unit, func.count()).where(WorkItem.state == "open", WorkItem.due_at.is_not(None),
                                                  WorkItem.due_at < now)
    if served is not None:
        q = q.where(WorkItem.unit.in_(sorted(served)) if served else false())
    rows = s.execute(q.group_by(WorkItem.unit).order_by(func.count().desc())).all()
    return [{"unit": u, "overdue": n} for u, n in rows]
