"""What the deliverer writes to the log about a failed message: infra imports no masking rules, so the composition
root hands its redactor in (web/notify_setup.py); a deliverer built without one withholds the details."""
from __future__ import annotations

import json
import logging

from sqlalchemy import select

from engine.store import Outbox, OutboxEvent
from infra.delivery import Deliverer
from web.notify_setup import build_deliverer, templates_of

PHONE = "13812340000"
MAIL = "zhang.san@example.cn"
RECEIPT = {"case_no": "X3301022026000017", "query_code": "Q7K2M9", "accept_due": "2026-03-17",
           "registered_on": "2026-03-02T09:00:00+08:00"}


class RefusingChannel:
    """A gateway that refuses every message and quotes the recipient in its error, as real ones do."""

    def send(self, message) -> str:
        raise RuntimeError(f"recipient {message.recipient} refused (cc {MAIL})")


def _queue(container, key: str) -> None:
    now = container.clock.now()
    with container.session_factory() as s, s.begin():
        s.add(Outbox(idempotency_key=key, channel="sms", recipient=PHONE, template="registration_receipt",
                     template_version=1, payload=json.dumps(RECEIPT), status="pending", attempts=0,
                     next_attempt_at=now, created_at=now))


def _failure_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "lianxin.delivery" and "failed" in r.getMessage()]


def test_the_apps_deliverer_logs_failures_with_contact_data_masked(container, caplog):
    _queue(container, "log-1")
    deliverer = build_deliverer(container)
    deliverer.channels = {"sms": RefusingChannel()}
    with caplog.at_level(logging.WARNING, logger="lianxin.delivery"):
        assert deliverer.run_once()["failed"] == 1
    [line] = _failure_lines(caplog)
    assert "138****0000" in line and "z***@example.cn" in line
    assert PHONE not in line and MAIL not in line
    with container.session_factory() as s:  # the row keeps the whole error for the admins' (masked) listing
        assert PHONE in s.scalars(select(OutboxEvent.detail).where(OutboxEvent.kind == "failed")).one()


def test_a_deliverer_without_a_redactor_withholds_the_details(container, caplog):
    _queue(container, "log-2")
    deliverer = Deliverer(container.session_factory, container.clock, {"sms": RefusingChannel()},
                          templates_of(container))
    with caplog.at_level(logging.WARNING, logger="lianxin.delivery"):
        assert deliverer.run_once()["failed"] == 1
    [line] = _failure_lines(caplog)
    assert "details withheld" in line and "138" not in line and "example.cn" not in line
