"""The inbox (收件箱): each user's in-app notices, what kind each is, whether it was read, and where it leads.

An in-app notice is an outbox row (`engine.store.Outbox`) of channel `inapp` addressed to a username, written by
a handler in its step's transaction (services/notify.py `to_offices`) and "delivered" by the worker: the in-app
channel renders the template and records the text with the `sent` event (infra/delivery.py), and from then on the
notice is in the recipient's inbox. Nobody sees another user's notices: every query here is by the recipient.

Each notice has a kind, read from the notice catalogue (processes/notices.yaml) through its outbox template:
催办 (reminder), 督办 (supervision), 挂牌督办 (listed supervision), 上交 (escalation), 退回 (returned work: a notice
whose key names 退回 or 重办, and 异议不成立), 协办 (co-handling) and 其他 (anything else). Read state is the user's own
(services/store/inbox.py): not journaled, and a notice can be marked unread again.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, delete, exists, func, select
from sqlalchemy.orm import aliased, sessionmaker

from engine.store import Outbox, OutboxEvent

from . import notices
from .store.inbox import InboxRead

# kind key -> label (Chinese; the web layer translates)
KINDS = {
    "reminder": "催办",
    "supervision": "督办",
    "listed_supervision": "挂牌督办",
    "escalation": "上交",
    "returned": "退回重办",
    "co_handling": "协办",
    "other": "其他",
}
_BY_NOTICE = {"催办": "reminder", "重大紧急事项提醒": "reminder", "督办": "supervision", "挂牌督办": "listed_supervision",
              "上交通知": "escalation", "协办通知": "co_handling", "异议不成立": "returned",
              "督办（写明理由）": "supervision"}
MAX_PAGE = 200


class NotYours(LookupError):
    """No such in-app notice of this user's (another user's notice is not told apart from a missing one)."""


def kind_of_notice(key: str) -> str:
    if key in _BY_NOTICE:
        return _BY_NOTICE[key]
    if "退回" in key or "重办" in key:
        return "returned"
    return "other"


@lru_cache(maxsize=1)
def _template_kinds() -> dict[str, str]:
    """Outbox template -> kind, for every notice whose catalogue entry keeps an in-app copy."""
    found: dict[str, str] = {}
    for notice in notices.default_catalogue().notices.values():
        if notice.outbox is not None and notice.outbox.channel == "inapp":
            found.setdefault(notice.outbox.template, kind_of_notice(notice.key))
    return found


def kind_of_template(template: str) -> str:
    return _template_kinds().get(template, "other")


def _kind_condition(kind: str):
    named = sorted(t for t, k in _template_kinds().items() if k != "other")
    if kind == "other":
        return Outbox.template.not_in(named) if named else None
    return Outbox.template.in_(sorted(t for t, k in _template_kinds().items() if k == kind))


@dataclass(frozen=True)
class Filters:
    unread_only: bool = False
    kind: str | None = None  # a key of KINDS
    since: datetime | None = None  # sent at or after
    until: datetime | None = None  # sent before
    limit: int = 50
    offset: int = 0

    def __post_init__(self):
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"未知的通知类别 {self.kind}，可选：{'、'.join(KINDS)}（unknown kind）")
        if not 1 <= self.limit <= MAX_PAGE or self.offset < 0:
            raise ValueError(f"limit 须在 1–{MAX_PAGE} 之间，offset 不能为负（limit 1–{MAX_PAGE}, offset ≥ 0）")


def _mine(username: str) -> list:
    return [Outbox.channel == "inapp", Outbox.recipient == username, Outbox.status == "sent"]


def _read_by(username: str):
    seen = aliased(InboxRead)
    return exists().where(seen.outbox_id == Outbox.id, seen.username == username).correlate(Outbox)


def unread_count(read_sessions: sessionmaker, username: str) -> int:
    """The number on the bell."""
    with read_sessions() as s:
        return s.scalar(select(func.count()).select_from(Outbox).where(*_mine(username), ~_read_by(username))) or 0


def listing(read_sessions: sessionmaker, username: str, filters: Filters = Filters()) -> dict[str, Any]:
    """The user's notices, newest first, with the unread count, the total under the filters and the counts by
    kind (unread ones)."""
    where = list(_mine(username))
    if filters.unread_only:
        where.append(~_read_by(username))
    if filters.kind:
        condition = _kind_condition(filters.kind)
        if condition is not None:
            where.append(condition)
    if filters.since is not None:
        where.append(Outbox.sent_at >= filters.since)
    if filters.until is not None:
        where.append(Outbox.sent_at < filters.until)
    with read_sessions() as s:
        unread = s.scalar(select(func.count()).select_from(Outbox).where(*_mine(username), ~_read_by(username)))
        total = s.scalar(select(func.count()).select_from(Outbox).where(*where))
        rows = s.execute(
            select(Outbox, InboxRead.read_at)
            .outerjoin(InboxRead, and_(InboxRead.outbox_id == Outbox.id, InboxRead.username == username))
            .where(*where).order_by(Outbox.sent_at.desc(), Outbox.id.desc())
            .limit(filters.limit).offset(filters.offset)).all()
        ids = [row.id for row, _ in rows]
        sent = {}
        if ids:
            for ev in s.scalars(select(OutboxEvent).where(OutboxEvent.outbox_id.in_(ids), OutboxEvent.kind == "sent")
                                .order_by(OutboxEvent.id)):
                sent[ev.outbox_id] = ev
        by_template = dict(s.execute(select(Outbox.template, func.count()).where(
            *_mine(username), ~_read_by(username)).group_by(Outbox.template)).all())
    unread_by_kind = {k: 0 for k in KINDS}
    for template, n in by_template.items():
        unread_by_kind[kind_of_template(template)] += n
    items = []
    for row, read_at in rows:
        detail = json.loads(sent[row.id].detail) if row.id in sent else {}
        payload = json.loads(row.payload or "{}")
        kind = kind_of_template(row.template)
        items.append({"id": row.id, "case_id": row.case_id, "case_no": payload.get("case_no"), "kind": kind,
                      "kind_label": KINDS[kind], "template": row.template, "template_version": row.template_version,
                      "title": detail.get("subject", ""), "text": detail.get("text", ""), "at": row.sent_at,
                      "read": read_at is not None, "read_at": read_at,
                      "task_label": payload.get("deadline_label") or None})
    return {"notifications": items, "unread": unread or 0, "total": total or 0, "unread_by_kind": unread_by_kind}


def _own(s, outbox_id: int, username: str) -> Outbox:
    row = s.get(Outbox, outbox_id)
    if row is None or row.channel != "inapp" or row.recipient != username or row.status != "sent":
        raise NotYours(f"没有编号为 {outbox_id} 的站内通知（no such in-app notification of yours）")
    return row


def mark(session_factory: sessionmaker, outbox_id: int, username: str, now: datetime, *, read: bool = True) -> dict:
    """Mark one of the user's notices read (kept with its first reading time) or unread again."""
    with session_factory() as s, s.begin():
        row = _own(s, outbox_id, username)
        mine = and_(InboxRead.outbox_id == row.id, InboxRead.username == username)
        seen = s.scalar(select(InboxRead).where(mine))
        if read and seen is None:
            seen = InboxRead(outbox_id=row.id, username=username, read_at=now)
            s.add(seen)
        elif not read and seen is not None:
            s.execute(delete(InboxRead).where(mine))
            seen = None
        return {"id": row.id, "read": seen is not None, "read_at": seen.read_at if seen else None}


def mark_all_read(session_factory: sessionmaker, username: str, now: datetime) -> dict:
    """Every unread notice of the user's, read now; returns how many."""
    with session_factory() as s, s.begin():
        ids = list(s.scalars(select(Outbox.id).where(*_mine(username), ~_read_by(username))))
        for outbox_id in ids:
            s.add(InboxRead(outbox_id=outbox_id, username=username, read_at=now))
        return {"marked": len(ids), "unread": 0}


def one(read_sessions: sessionmaker, outbox_id: int, username: str) -> dict[str, Any]:
    """One of the user's notices as the listing shows it."""
    with read_sessions() as s:
        row = _own(s, outbox_id, username)
        payload = json.loads(row.payload or "{}")
        return {"id": row.id, "case_id": row.case_id, "case_no": payload.get("case_no"),
                "task_label": payload.get("deadline_label") or None}
