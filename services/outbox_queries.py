"""What the outbox shows: the admins' listing with recipients masked, and failures in plain words. (A user's
in-app notices are the inbox's: services/inbox.py.)

Phone numbers and e-mail addresses of petitioners appear in no listing: `138****0000`, `a***@x.cn`, also inside
error texts (an SMTP refusal quotes the address). The messages themselves, of course, carry them unmasked. How
they are masked is the masking module's (`services.masking`).
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import sessionmaker

from engine.store import Outbox, OutboxEvent
from services import masking

STATUSES = ("pending", "sending", "sent", "dead")
# What the admins' filter offers: the stored statuses, and `failed` = waiting to be retried after an error.
FILTER_STATUSES = ("pending", "failed", "sending", "sent", "dead")


def _status_condition(status: str):
    failed = and_(Outbox.status == "pending", Outbox.last_error.is_not(None), Outbox.attempts > 0)
    if status == "failed":
        return failed
    if status == "pending":
        return and_(Outbox.status == "pending", or_(Outbox.last_error.is_(None), Outbox.attempts == 0))
    return Outbox.status == status


# (what the error text contains, what it means in plain words); the first that matches is shown
_PLAIN = (
    ("个人信息已删除", "收件人的个人信息已按保存期限删除，无法再发送。"),
    ("未配置", "该渠道尚未配置（短信网关或邮件服务器），通知在等待；配置后自动发出。"),
    ("Template", "通知模板有误（缺少字段或版本不存在），请流程设计员修正模板后重发。"),
    ("模板", "通知模板有误（缺少字段或版本不存在），请流程设计员修正模板后重发。"),
    ("interrupted", "投递多次中断，不能确定是否送达；重发是安全的，渠道会去重。"),
    ("中断", "投递多次中断，不能确定是否送达；重发是安全的，渠道会去重。"),
    ("HTTP 4", "短信网关拒绝了这条短信（号码或内容不被接受），请核对后重发。"),
    ("HTTP 5", "短信网关暂时不可用，系统会自动重试；仍失败时可重发。"),
    ("SMTPRecipientsRefused", "邮件服务器拒收：收件地址可能有误。"),
    ("SMTP", "邮件服务器未接受这封邮件，系统会自动重试；仍失败时可重发。"),
    ("Connection", "连接不上短信网关或邮件服务器，系统会自动重试；请检查网络和配置。"),
    ("timed out", "连接短信网关或邮件服务器超时，系统会自动重试。"),
    ("Timeout", "连接短信网关或邮件服务器超时，系统会自动重试。"),
)


def plain_error(error: str | None) -> str | None:
    """What a delivery error means for the office, in one sentence (Chinese); the raw text stays beside it."""
    if not error:
        return None
    for needle, meaning in _PLAIN:
        if needle in error:
            return meaning
    return "投递失败，详见原始错误。"


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


def outbox_listing(read_sessions: sessionmaker, *, status: str | None = None,
                   channel: str | None = None, case_id: int | None = None, limit: int = 50, offset: int = 0,
                   since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
    """Rows newest first under the filters (status one of FILTER_STATUSES; created in [since, until)), with
    `counts` per stored status and of `failed` rows."""
    filters = []
    if status:
        filters.append(_status_condition(status))
    if since is not None:
        filters.append(Outbox.created_at >= since)
    if until is not None:
        filters.append(Outbox.created_at < until)
    if channel:
        filters.append(Outbox.channel == channel)
    if case_id is not None:
        filters.append(Outbox.case_id == case_id)
    with read_sessions() as s:
        counts = dict(s.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
        counts["failed"] = s.scalar(select(func.count()).select_from(Outbox).where(_status_condition("failed")))
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
            "failed": row.status == "pending" and bool(row.last_error) and row.attempts > 0,
            "plain_error": plain_error(row.last_error),
            "resendable": row.status == "dead" or (row.status == "pending" and bool(row.last_error)
                                                  and row.attempts > 0),
            "next_attempt_at": row.next_attempt_at, "created_at": row.created_at, "sent_at": row.sent_at,
            "provider_id": sent.provider_id if sent else None,
            "delivery_status": report.kind if report else None,
            "delivery_reported_at": report.at if report else None,
            "delivery_error": masking.mask_contact_text(json.loads(report.detail).get("error")) if report else None,
            "resends": [{"by": e.actor, "at": e.at, "previous_error": masking.mask_contact_text(
                (json.loads(e.detail).get("previous") or {}).get("error"))} for e in evs if e.kind == "resent"],
        })
    return {"items": items, "total": total, "counts": {k: counts.get(k, 0) for k in (*STATUSES, "failed")}}
