"""What the outbox shows: a user's in-app notifications, and the admins' listing with recipients masked.

Phone numbers and e-mail addresses of petitioners appear in no listing: `138****0000`, `a***@x.cn`, also inside
error texts (an SMTP refusal quotes the address). The messages themselves, of course, carry them unmasked. How
they are masked is the masking module's (`services.masking`).
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import sessionmaker

from engine.store import Outbox, OutboxEvent
from services import masking

STATUSES = ("pending", "sending", "sent", "dead")


def _events_by_row(s, ids: list[int], kinds: tuple[str, ...]) -> dict[int, list[OutboxEvent]]:
    found: dict[int, list[OutboxEvent]] = {i: [] for i in ids}
    if ids:
        for ev in s.scalars(select(OutboxEvent).where(OutboxEvent.outbox_id.in_(ids), OutboxEvent.kind.in_(kinds))
                            .order_by(OutboxEvent.id)):
            found[ev.outbox_id].append(ev)
    return found


def _last(events: list[OutboxEvent], *kinds: str) -> OutboxEvent | None:
    matching = [e for e in events if e.kind in kinds]
    return matching[-1] if matching else None


def inapp_notifications(read_sessions: sessionmaker, username: str, *, limit: int = 50, offset: int = 0,
                        unread_only: bool = False) -> dict[str, Any]:
    read_exists = exists().where(OutboxEvent.outbox_id == Outbox.id, OutboxEvent.kind == "read")
    mine = [Outbox.channel == "inapp", Outbox.recipient == username, Outbox.status == "sent"]
    with read_sessions() as s:
        unread = s.scalar(select(func.count()).select_from(Outbox).where(*mine, ~read_exists))
        query = select(Outbox).where(*mine)
        if unread_only:
            query = query.where(~read_exists)
        total = s.scalar(select(func.count()).select_from(query.subquery()))
        rows = s.scalars(query.order_by(Outbox.sent_at.desc(), Outbox.id.desc()).limit(limit).offset(offset)).all()
        events = _events_by_row(s, [r.id for r in rows], ("sent", "read"))
    items = []
    for row in rows:
        sent, read = _last(events[row.id], "sent"), _last(events[row.id], "read")
        detail = json.loads(sent.detail) if sent else {}
        items.append({"id": row.id, "case_id": row.case_id, "template": row.template,
                      "template_version": row.template_version, "title": detail.get("subject", ""),
                      "text": detail.get("text", ""), "at": row.sent_at, "read": read is not None,
                      "read_at": read.at if read else None})
    return {"notifications": items, "unread": unread, "total": total}


def outbox_listing(read_sessions: sessionmaker, *, status: str | None = None,
                   channel: str | None = None, case_id: int | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    filters = []
    if status:
        filters.append(Outbox.status == status)
    if channel:
        filters.append(Outbox.channel == channel)
    if case_id is not None:
        filters.append(Outbox.case_id == case_id)
    with read_sessions() as s:
        counts = dict(s.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
        total = s.scalar(select(func.count()).select_from(Outbox).where(*filters))
        rows = s.scalars(select(Outbox).where(*filters).order_by(Outbox.created_at.desc(), Outbox.id.desc())
                         .limit(limit).offset(offset)).all()
        events = _events_by_row(s, [r.id for r in rows], ("sent", "resent", "delivered", "undelivered"))
    items = []
    for row in rows:
        evs = events[row.id]
        sent, report = _last(evs, "sent"), _last(evs, "delivered", "undelivered")
        items.append({
            "id": row.id, "case_id": row.case_id, "channel": row.channel,
            "recipient": masking.mask_recipient(row.channel, row.recipient),
            "template": row.template, "template_version": row.template_version, "status": row.status,
            "attempts": row.attempts, "last_error": masking.mask_contact_text(row.last_error),
            "next_attempt_at": row.next_attempt_at, "created_at": row.created_at, "sent_at": row.sent_at,
            "provider_id": sent.provider_id if sent else None,
            "delivery_status": report.kind if report else None,
            "delivery_reported_at": report.at if report else None,
            "delivery_error": masking.mask_contact_text(json.loads(report.detail).get("error")) if report else None,
            "resends": [{"by": e.actor, "at": e.at, "previous_error": masking.mask_contact_text(
                (json.loads(e.detail).get("previous") or {}).get("error"))} for e in evs if e.kind == "resent"],
        })
    return {"items": items, "total": total, "counts": {k: counts.get(k, 0) for k in STATUSES}}
