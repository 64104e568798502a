"""退回重办 (sent back for redo): what the assigning office said when it refused to sign the reply off.

The process keeps it in the case data (`redo`: count, reason, when, the redo's own limit in days; set by the
redo step of processes/petition_case.bpmn) and the journal records it with who and when (the sign-off's
`signoff_opinion`, the redo step's `redo`). The handling task of the redo shows it above the form: the unit redoes
the work knowing why. Which step is the redo is read from the element meanings (`returned_for_redo`)."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store import JournalEvent

from . import element_meanings


def latest_redo(s: Session, case_id: int, since: datetime | None = None) -> dict | None:
    """The last 退回重办 of the case (reason, count, at, days, by), or None; `since`: only one that happened at or
    before that instant (the redo a handling task created then belongs to)."""
    ids = sorted(element_meanings.elements("returned_for_redo"))
    if not ids:
        return None
    q = (select(JournalEvent).where(JournalEvent.case_id == case_id, JournalEvent.type == "task.completed",
                                    JournalEvent.element_id.in_(ids))
         .order_by(JournalEvent.seq.desc()))
    for row in s.scalars(q):
        if since is not None and row.at > since:
            continue
        change = (json.loads(row.data or "{}").get("changes") or {}).get("redo")
        redo = change[1] if isinstance(change, list) and len(change) == 2 else None
        if not isinstance(redo, dict):
            return None
        return {"reason": redo.get("reason") or "", "count": redo.get("count"), "days": redo.get("days"),
                "at": row.at, "by": row.actor}
    return None
