"""Delivering the outbox: claim due rows, render their template, hand them to their channel, record the outcome.

A round (`Deliverer.run_once`) claims a batch of due rows in one short transaction (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, so several workers share the work; on SQLite `BEGIN IMMEDIATE` admits one writer): each becomes
`sending`, its attempt is counted, and its `next_attempt_at` becomes the end of a lease. Then, outside any
transaction, each is rendered and sent, and the outcome is written in a second short transaction: `sent`, or back
to `pending` with the error and an exponential backoff, or `dead` after `max_attempts`.

A worker that dies between sending and recording leaves the row `sending`; when the lease ends another round
claims it again and sends it again with the same idempotency key, which the channel de-duplicates (the SMS
gateway by contract; e-mail keeps a stable Message-ID, see `infra.channels`). So a crash costs a retry, never a
second message. Rows for a channel that is not configured are not claimed: they wait, with `last_error` saying
what to configure, and go out once it is.

Everything that happens to a row after it is written is appended to `outbox_event`: claims, sends (with the
rendered text and the provider's id), failures, dead letters, resends by an admin and delivery reports. (Whether a user has read an in-app notice is the inbox's:
services/inbox.py.)

Errors quote recipients (an SMTP refusal names the address); before an error goes to the log it passes through
`redact`, which the composition root takes from the masking module (`services.masking.mask_contact_text`):
infra imports no services. Without one, the log says only that details were withheld.

The templates are the petition office's (`services.notify_templates`), handed in through the port
`infra.ports.MessageTemplates`.
"""
from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import Clock
from engine.effects import CHANNELS, EffectContext, EffectError, notify
from engine.store import Outbox, OutboxEvent
from infra.channels import Channel, Message
from infra.ports import MessageTemplates, TemplateProblem

log = logging.getLogger("lianxin.delivery")

LEASE = timedelta(minutes=5)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=2)
MAX_ATTEMPTS = 5
DELIVERY_STATES = {"delivered": "delivered", "failed": "undelivered", "undelivered": "undelivered",
                   "rejected": "undelivered", "expired": "undelivered"}


Redactor = Callable[[str | None], str | None]


def withhold(text: str | None) -> str | None:
    """The redactor used when none is given: no contact data can reach the log because no detail does."""
    return "（详情已隐去 / details withheld）" if text else text


class OutboxNotFound(LookupError):
    pass


class OutboxConflict(Exception):
    pass


@dataclass(frozen=True)
class Claimed:
    id: int
    idempotency_key: str
    channel: str
    recipient: str
    template: str
    template_version: int
    payload: str
    attempts: int


def event_detail(**values: Any) -> str:
    return json.dumps(values, ensure_ascii=False, default=str)


def missing_channel_message(channel: str) -> str:
    return f"未配置 {channel} 渠道，通知等待配置后发送（channel {channel} is not configured; the notification waits）"


class Deliverer:
    def __init__(self, session_factory: sessionmaker, clock: Clock, channels: dict[str, Channel],
                 templates: MessageTemplates, max_attempts: int = MAX_ATTEMPTS, *, name: str | None = None,
                 batch: int = 50, lease: timedelta = LEASE, backoff: timedelta = BACKOFF_BASE,
                 max_backoff: timedelta = BACKOFF_MAX, missing_channel_hints: dict[str, str] | None = None,
                 redact: Redactor = withhold, address: Callable[[str], str | None] | None = None):
        self.session_factory = session_factory
        self.clock = clock
        self.channels = dict(channels)
        self.templates = templates
        self.max_attempts = max_attempts
        self.name = (name or f"{socket.gethostname()}:{os.getpid()}")[:64]
        self.batch = batch
        self.lease = lease
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.missing_channel_hints = missing_channel_hints or {}
        self.redact = redact
        # A stored recipient -> the address to send to (a party reference opened only now); None: erased.
        self.address = address or (lambda recipient: recipient)

    # ---- a round

    def run_once(self, now: datetime | None = None) -> dict:
        now = now or self.clock.now()
        counts = {"sent": 0, "failed": 0, "dead": 0, "interrupted": 0}
        self._note_missing_channels(now)
        while True:
            claimed = self._claim(now)
            for row in claimed:
                counts[self._deliver(row, now)] += 1
            if len(claimed) < self.batch:
                break
        return {"deliverer": self.name, "now": now.isoformat(), **counts}

    def backoff_after(self, attempts: int) -> timedelta:
        return min(self.backoff * (2 ** max(attempts - 1, 0)), self.max_backoff)

    def _note_missing_channels(self, now: datetime) -> None:
        missing = [c for c in dict.fromkeys((*CHANNELS, *self.missing_channel_hints)) if c not in self.channels]
        if not missing:
            return
        with self.session_factory() as s, s.begin():
            for channel in missing:
                message = self.missing_channel_hints.get(channel) or missing_channel_message(channel)
                s.execute(update(Outbox).where(
                    Outbox.status == "pending", Outbox.channel == channel,
                    or_(Outbox.last_error.is_(None), Outbox.last_error != message)).values(last_error=message))

    def _claim(self, now: datetime) -> list[Claimed]:
        with self.session_factory() as s, s.begin():
            rows = s.scalars(
                select(Outbox).where(
                    Outbox.status.in_(("pending", "sending")),  # `sending` past its lease: its worker died
                    or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= now),
                    Outbox.channel.in_(sorted(self.channels)))
                .order_by(Outbox.next_attempt_at, Outbox.id).limit(self.batch)
                .with_for_update(skip_locked=True)).all()
            claimed = []
            for row in rows:
                reclaimed = row.status == "sending"
                if reclaimed and row.attempts >= self.max_attempts:
                    self._bury(s, row, now, f"投递 {row.attempts} 次均中断，未确认是否送达（delivery interrupted "
                                            f"{row.attempts} times; resend is safe, the channel de-duplicates）")
                    continue
                row.status, row.attempts, row.next_attempt_at = "sending", row.attempts + 1, now + self.lease
                s.add(OutboxEvent(outbox_id=row.id, at=now, kind="claimed", actor=self.name,
                                  detail=event_detail(attempt=row.attempts, reclaimed=reclaimed,
                                                      lease_until=row.next_attempt_at.isoformat())))
                claimed.append(Claimed(row.id, row.idempotency_key, row.channel, row.recipient, row.template,
                                       row.template_version, row.payload, row.attempts))
            return claimed

    def _deliver(self, row: Claimed, now: datetime) -> str:
        try:
            data = json.loads(row.payload or "{}")
            rendered = self.templates.render(row.template, row.template_version, data)
            to = self.address(row.recipient)
            if not to:
                raise LookupError("收件人的个人信息已删除（the recipient's personal data has been erased）")
            message = Message(row.id, row.idempotency_key, row.channel, to, rendered.subject,
                              rendered.body, rendered.sms, row.template, row.template_version, now, data)
            provider_id = self.channels[row.channel].send(message)
        except Exception as exc:  # any failure of this message is retried; others in the batch go on
            log.warning("notification %s (%s to channel %s) failed: %s", row.id, row.template, row.channel,
                        self.redact(str(exc)))
            return self._record_failure(row, now, exc)
        try:
            self._mark_sent(row, provider_id, message, now)
        except Exception:
            # The message is out but not recorded: the row stays `sending` and is claimed again after the lease;
            # the same idempotency key makes the channel recognise the repeat.
            log.exception("notification %s sent but not recorded; it will be retried after the lease", row.id)
            return "interrupted"
        return "sent"

    def _mark_sent(self, row: Claimed, provider_id: str, message: Message, now: datetime) -> None:
        text = message.sms_text if row.channel == "sms" else message.body
        with self.session_factory() as s, s.begin():
            current = s.get(Outbox, row.id, with_for_update=True)
            if current is None or current.status == "sent":
                return
            current.status, current.sent_at, current.next_attempt_at, current.last_error = "sent", now, None, None
            s.add(OutboxEvent(outbox_id=row.id, at=now, kind="sent", actor=self.name, provider_id=provider_id or None,
                              detail=event_detail(attempt=row.attempts, subject=message.subject, text=text,
                                                  template=row.template, template_version=row.template_version)))

    def _record_failure(self, row: Claimed, now: datetime, exc: Exception) -> str:
        error = (str(exc) if isinstance(exc, TemplateProblem) else f"{exc.__class__.__name__}: {exc}")[:2000]
        with self.session_factory() as s, s.begin():
            current = s.get(Outbox, row.id, with_for_update=True)
            if current is None or current.status != "sending" or current.attempts != row.attempts:
                return "failed"  # finished, or claimed again after our lease ran out: theirs to record
            current.last_error = error
            if current.attempts >= self.max_attempts:
                self._bury(s, current, now, error)
                return "dead"
            current.status = "pending"
            current.next_attempt_at = now + self.backoff_after(current.attempts)
            s.add(OutboxEvent(outbox_id=row.id, at=now, kind="failed", actor=self.name,
                              detail=event_detail(attempt=current.attempts, error=error,
                                                  next_attempt_at=current.next_attempt_at.isoformat())))
            return "failed"

    def _bury(self, s: Session, row: Outbox, now: datetime, error: str) -> None:
        row.status, row.next_attempt_at, row.last_error = "dead", None, error
        s.add(OutboxEvent(outbox_id=row.id, at=now, kind="dead", actor=self.name,
                          detail=event_detail(attempts=row.attempts, error=error)))
        log.error("notification %s dead after %s attempts: %s", row.id, row.attempts, self.redact(error))

    # ---- admin

    def resend(self, outbox_id: int, actor: str, now: datetime | None = None,
               template_version: int | None = None) -> dict:
        return resend(self.session_factory, self.templates, outbox_id, actor, now or self.clock.now(),
                      template_version=template_version, redact=self.redact)


def resend(session_factory: sessionmaker, templates: MessageTemplates, outbox_id: int, actor: str, now: datetime,
           template_version: int | None = None, redact: Redactor = withhold) -> dict:
    """Re-queue a dead letter, or a failed row waiting for its next retry (sent at once, its attempts counted
    afresh), optionally with another version of its template (after a fix). The resend, by whom, and the error
    it had are kept in `outbox_event`; the idempotency key stays, so a message that did reach the gateway before
    is not sent twice. A row that was sent, or has not failed, is refused."""
    with session_factory() as s, s.begin():
        row = s.get(Outbox, outbox_id, with_for_update=True)
        if row is None:
            raise OutboxNotFound(f"没有编号为 {outbox_id} 的通知（no such notification）")
        failed = row.status == "pending" and bool(row.last_error) and row.attempts > 0
        if row.status != "dead" and not failed:
            raise OutboxConflict(f"通知 {outbox_id} 的状态是 {row.status}，只有投递失败（dead）或失败待重试的通知可以重发"
                                 f"（only dead or failed notifications can be resent）")
        if template_version is not None:
            try:
                templates.get(row.template, template_version)
            except TemplateProblem as exc:
                raise OutboxConflict(str(exc)) from exc
        previous = {"error": row.last_error, "attempts": row.attempts, "template_version": row.template_version}
        row.status, row.attempts, row.next_attempt_at, row.last_error = "pending", 0, now, None
        if template_version is not None:
            row.template_version = int(template_version)
        s.add(OutboxEvent(outbox_id=row.id, at=now, kind="resent", actor=actor[:64],
                          detail=event_detail(previous=previous, template_version=row.template_version)))
        version = row.template_version
    log.info("notification %s re-queued by %s (was: %s)", outbox_id, actor, redact(previous["error"]))
    return {"id": outbox_id, "status": "pending", "resent_by": actor, "resent_at": now,
            "template_version": version, "previous": previous}


# ---------------------------------------------------------------- delivery reports

def record_delivery_status(session_factory: sessionmaker, *, status: str, now: datetime,
                           idempotency_key: str | None = None, provider_id: str | None = None,
                           reported_at: str | None = None, error: str | None = None,
                           actor: str = "sms-gateway") -> dict:
    """A delivery report from the gateway: delivered to the handset, or not. Repeats are recorded once, and a
    late failure report never overrides a delivery already reported."""
    kind = DELIVERY_STATES.get(status)
    if kind is None:
        raise ValueError(f"未知的送达状态 {status}（status must be one of {', '.join(DELIVERY_STATES)}）")
    with session_factory() as s, s.begin():
        row = None
        if idempotency_key:
            row = s.scalar(select(Outbox).where(Outbox.idempotency_key == idempotency_key).with_for_update())
        elif provider_id:
            outbox_id = s.scalar(select(OutboxEvent.outbox_id).where(
                OutboxEvent.provider_id == provider_id, OutboxEvent.kind == "sent").limit(1))
            row = s.get(Outbox, outbox_id, with_for_update=True) if outbox_id else None
        if row is None:
            raise OutboxNotFound("回执对应的通知不存在（no notification with this idempotency key or id）")
        reports = s.scalars(select(OutboxEvent).where(
            OutboxEvent.outbox_id == row.id, OutboxEvent.kind.in_(("delivered", "undelivered")))).all()
        outcome = {"id": row.id, "delivery_status": kind, "recorded": False}
        if any(r.kind == "delivered" for r in reports) and kind == "undelivered":
            outcome["delivery_status"] = "delivered"
            return outcome
        if any(r.kind == kind and json.loads(r.detail).get("reported_at") == reported_at for r in reports):
            return outcome
        s.add(OutboxEvent(outbox_id=row.id, at=now, kind=kind, actor=actor, provider_id=provider_id or None,
                          detail=event_detail(reported_at=reported_at, error=error, status=status)))
        outcome["recorded"] = True
        return outcome


# ---------------------------------------------------------------- emitting with versions

def templated_notify(templates: MessageTemplates):
    """The `notify` effect, checked against the catalogue at the step: an unknown template or version fails the
    step (an incident the designer sees at once), and a notification that names no version gets the newest,
    which the row then keeps. Pass as `Runtime(effect_sinks={"notify": templated_notify(catalogue)})`."""

    def sink(s: Session, payload: dict[str, Any], ctx: EffectContext) -> dict:
        payload = dict(payload)
        template = payload.get("template")
        if template:
            try:
                if "template_version" in payload:
                    templates.get(str(template), int(payload["template_version"]))
                else:
                    payload["template_version"] = templates.latest(str(template))
            except (TemplateProblem, TypeError, ValueError) as exc:
                raise EffectError(str(exc)) from exc
        outcome = notify(s, payload, ctx)
        outcome["template_version"] = payload.get("template_version", 1)
        return outcome

    return sink
