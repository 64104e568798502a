"""The co-units' opinions of a case (a read model for the case page and the lead unit's task form): each as it
was submitted, so the lead unit reads them while drafting its reply, before the process combines them, and the
co-units that have not reported yet."""
from __future__ import annotations

from sqlalchemy import select

from engine.store import WorkItem
from infra.accounts import Unit, User


def names(s) -> tuple[dict[str, str], dict[str, str]]:
    """Unit names by code and people's display names by username."""
    units = dict(s.execute(select(Unit.code, Unit.name)).all())
    people = dict(s.execute(select(User.username, User.display_name)).all())
    return units, people


def co_opinions(s, history: list[dict], data: dict, units: dict, people: dict) -> dict | None:
    """`{"given": [...], "pending": [...]}` from the case's history and data; None for a case without co-units."""
    co_units = [c for c in ((data.get("assignment") or {}).get("co_units") or []) if isinstance(c, dict)]
    submitted = [e for e in history if e["type"] == "task.submitted"
                 and isinstance((e.get("data") or {}).get("data"), dict) and "co_opinion" in e["data"]["data"]]
    if not co_units and not submitted:
        return None
    item_ids = [e["data"].get("work_item_id") for e in submitted]
    unit_of = dict(s.execute(select(WorkItem.id, WorkItem.unit).where(WorkItem.id.in_(item_ids))).all()) \
        if item_ids else {}
    given = []
    for e in submitted:
        unit = unit_of.get(e["data"].get("work_item_id")) or ""
        form = e["data"]["data"]
        given.append({"unit": unit, "unit_name": units.get(unit, unit), "by": people.get(e["actor"], e["actor"]),
                      "at": e["at"], "opinion": str(form.get("co_opinion") or ""),
                      "contact": str(form.get("co_contact") or "")})
    reported = {g["unit"] for g in given}
    pending = [c.get("unit_name") or units.get(c.get("unit"), c.get("unit")) for c in co_units
               if c.get("unit") not in reported]
    return {"given": given, "pending": pending}
