"""The inbox (收件箱) and the outbox page, on SQLite and PostgreSQL: a real 催办 produced by the reminder timer of a
real case reaches the handler's inbox with a link to the task; filters by unread, kind and period; read and unread
one by one and all at once; nobody sees or marks another user's notice (404); the bell counts what is unread. The
admins' outbox page lists what was sent with petitioners' phones masked, says in plain words why a row failed,
and resends a failed or dead row (recorded with the admin's name, in the security log too), never a sent one;
others are refused the page and the resend."""
from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from sqlalchemy import select, text

from engine.clock import SHANGHAI
from engine.store import Outbox, OutboxEvent
from engine.worker import Worker
from infra import security_log
from infra.db import make_engine
from infra.migrate import upgrade
from services.store.inbox import InboxRead
from tests.support.db import first_case_id
from tests.support.web import api_sign_in, csrf_of, office_app, page_sign_in
from web.notify_setup import build_deliverer

FORM = {"channel": "来访", "title": "企业拖欠三个月工资", "category": "劳动社保", "subcategory": "拖欠工资",
        "location": "county_a", "respondent": "某某建筑公司", "request": "要求支付拖欠的三个月工资",
        "petitioners-0-name": "张三", "petitioners-0-id_number": "410121199001031234",
        "petitioners-0-phone": "13812345678", "petitioners-0-address": "东城县人民路1号"}
SIGN = "签收或提出异议"
PHONE = "13812345678"


@pytest.fixture
def app(container):
    return office_app(container)


@pytest.fixture
def reminded(app, container):
    """A case dispatched on Monday 2026-12-07 to 东城县人社局; on Friday 11 December its sign-off (due Monday 14th)
    turns yellow, the timer sends the 催办 and the worker delivers it."""
    container.clock.set(datetime(2026, 12, 7, 10, 0, tzinfo=SHANGHAI))
    c = page_sign_in(app, "registrar")
    page = c.get("/register").get_data(as_text=True)
    c.post("/register", data=dict(FORM, csrf_token=csrf_of(page), action="check"))
    case_id = first_case_id(container)
    view = container.runtime.get_case(case_id)
    container.runtime.complete(view.tasks[0].id, {"route": "交办转送"}, actor="registrar")
    container.clock.set(datetime(2026, 12, 11, 10, 0, tzinfo=SHANGHAI))
    Worker(container.runtime, container.session_factory, container.clock).run_once()
    build_deliverer(container).run_once()
    return case_id


def _reminders(container, username: str) -> list[Outbox]:
    with container.session_factory() as s:
        return list(s.scalars(select(Outbox).where(Outbox.recipient == username, Outbox.template == "reminder")))


def test_a_timer_reminder_reaches_the_handlers_inbox_with_a_link_to_the_task(app, container, reminded):
    [row] = _reminders(container, "handler")
    assert row.case_id == reminded and row.status == "sent" and row.channel == "inapp"
    client, headers = api_sign_in(app, "handler")
    found = client.get("/api/inbox").get_json()
    [notice] = [n for n in found["notifications"] if n["id"] == row.id]
    assert notice["kind"] == "reminder" and notice["kind_label"] == "催办" and not notice["read"]
    assert notice["title"].startswith("【催办】") and notice["case_id"] == reminded
    task = next(t for t in container.runtime.get_case(reminded).tasks if t.name == SIGN)
    assert notice["task_name"] == SIGN and notice["link"] == f"/tasks/{notice['task_id']}"
    assert found["unread"] >= 1 and found["unread_by_kind"]["reminder"] == 1
    assert task.id  # the task the notice names is open
    page = page_sign_in(app, "handler").get("/inbox").get_data(as_text=True)
    assert f'href="/inbox/{row.id}/open"' in page and f"打开待办：{SIGN}" in page
    assert re.search(r'id="inbox-bell"[^>]*>.*?<span class="count">(\d+)</span>', page, re.S).group(1) == \
        str(found["unread"])


def test_filters_read_state_and_the_bell(app, container, reminded):
    [row] = _reminders(container, "handler")
    client, headers = api_sign_in(app, "handler")
    unread = client.get("/api/inbox").get_json()["unread"]
    assert [n["id"] for n in client.get("/api/inbox?kind=reminder").get_json()["notifications"]] == [row.id]
    assert client.get("/api/inbox?kind=supervision").get_json()["notifications"] == []
    assert row.id in [n["id"] for n in client.get("/api/inbox?from=2026-12-11&to=2026-12-11").get_json()["notifications"]]
    assert client.get("/api/inbox?from=2026-12-12").get_json()["notifications"] == []
    assert client.get("/api/inbox?kind=nonsense").status_code == 400
    assert client.get("/api/inbox?from=12/11").status_code == 400
    assert client.get("/api/inbox?from=2026-12-12&to=2026-12-11").status_code == 400

    assert client.post(f"/api/inbox/{row.id}/read").status_code == 403  # no CSRF header
    r = client.post(f"/api/inbox/{row.id}/read", headers=headers)
    assert r.status_code == 200 and r.get_json()["read"] is True
    listing = client.get("/api/inbox").get_json()
    assert listing["unread"] == unread - 1
    assert row.id not in [n["id"] for n in client.get("/api/inbox?unread=1").get_json()["notifications"]]
    r = client.post(f"/api/inbox/{row.id}/unread", headers=headers)
    assert r.status_code == 200 and r.get_json()["read"] is False
    assert client.get("/api/inbox").get_json()["unread"] == unread
    r = client.post("/api/inbox/read-all", headers=headers)
    assert r.status_code == 200 and r.get_json()["marked"] == unread
    assert client.get("/api/inbox").get_json()["unread"] == 0
    with container.session_factory() as s:  # stored per user, in its own table; the case journal is untouched
        assert s.scalar(select(InboxRead).where(InboxRead.outbox_id == row.id)).username == "handler"
    history = api_sign_in(app, "designer")[0].get(f"/api/cases/{reminded}/history").get_json()["events"]
    assert not any("inbox" in json.dumps(e, ensure_ascii=False) for e in history)

    # the page: mark unread through its form, the bell follows
    pc = page_sign_in(app, "handler")
    page = pc.get("/inbox").get_data(as_text=True)
    assert 'class="count zero">0<' in page
    r = pc.post(f"/inbox/{row.id}/unread", data={"csrf_token": csrf_of(page), "next": "/inbox?show=unread"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/inbox?show=unread")
    page = pc.get("/inbox?show=unread").get_data(as_text=True)
    assert 'class="count">1<' in page and f'data-id="{row.id}"' in page
    r = pc.get(f"/inbox/{row.id}/open")
    task_link = client.get("/api/inbox").get_json()["notifications"][0]["link"]
    assert r.status_code == 302 and r.headers["Location"].endswith(task_link)
    assert client.get("/api/inbox").get_json()["unread"] == 0


def test_nobody_sees_or_marks_another_users_notice(app, container, reminded):
    [row] = _reminders(container, "handler")
    client, headers = api_sign_in(app, "handler_b")
    assert row.id not in [n["id"] for n in client.get("/api/inbox").get_json()["notifications"]]
    for action in ("read", "unread"):
        r = client.post(f"/api/inbox/{row.id}/{action}", headers=headers)
        assert r.status_code == 404, r.get_json()
    assert client.post("/api/inbox/99999/read", headers=headers).status_code == 404
    client.post("/api/inbox/read-all", headers=headers)
    pc = page_sign_in(app, "handler_b")
    page = pc.get("/inbox").get_data(as_text=True)
    assert f'data-id="{row.id}"' not in page
    assert pc.get(f"/inbox/{row.id}/open").status_code == 404
    assert pc.post(f"/inbox/{row.id}/read", data={"csrf_token": csrf_of(page)}).status_code == 404
    with container.session_factory() as s:
        assert s.scalars(select(InboxRead).where(InboxRead.outbox_id == row.id)).all() == []
    assert api_sign_in(app, "handler")[0].get("/api/inbox?unread=1").get_json()["unread"] >= 1
    assert app.test_client().get("/api/inbox").status_code == 401
    assert app.test_client().get("/inbox").status_code == 302  # to the sign-in page


# ---------------------------------------------------------------- the outbox page

def _sms_row(container, case_id: int, status: str, *, error: str | None, attempts: int) -> int:
    with container.session_factory() as s, s.begin():
        row = Outbox(case_id=case_id, idempotency_key=f"test-{status}-{attempts}", channel="sms", recipient=PHONE,
                     template="transfer_notice", template_version=1,
                     payload=json.dumps({"case_no": "X1", "transferred_on": "2026-12-07", "action": "转送",
                                         "to_unit": "东城县人社局"}),
                     status=status, attempts=attempts, last_error=error, created_at=container.clock.now(),
                     next_attempt_at=None)
        s.add(row)
        s.flush()
        return row.id


def test_admins_see_the_outbox_masked_with_failures_in_plain_words_and_resend(app, container, reminded):
    dead = _sms_row(container, reminded, "dead", error="RuntimeError: HTTP 503 from the gateway", attempts=5)
    failed = _sms_row(container, reminded, "pending", error="RuntimeError: HTTP 503 from the gateway", attempts=2)
    [sent] = _reminders(container, "handler")

    for who in ("handler", "auditor", "registrar"):
        assert page_sign_in(app, who).get("/admin/outbox").status_code == 403
    pc = page_sign_in(app, "admin")
    page = pc.get("/admin/outbox").get_data(as_text=True)
    assert PHONE not in page and "138****5678" in page
    assert "短信网关暂时不可用" in page and 'data-status="failed"' in page and 'data-status="dead"' in page
    only_dead = pc.get("/admin/outbox?status=dead&channel=sms").get_data(as_text=True)
    assert f'data-id="{dead}"' in only_dead and f'data-id="{failed}"' not in only_dead
    only_failed = pc.get("/admin/outbox?status=failed").get_data(as_text=True)
    assert f'data-id="{failed}"' in only_failed and f'data-id="{dead}"' not in only_failed
    assert f'data-id="{sent.id}"' in pc.get(f"/admin/outbox?channel=inapp&case_id={reminded}").get_data(as_text=True)
    assert f'data-id="{sent.id}"' not in pc.get("/admin/outbox?from=2026-12-12").get_data(as_text=True)
    assert pc.get("/admin/outbox?status=lost").status_code == 400
    token = csrf_of(page)

    # others may not resend, neither through the page nor the API
    hp = page_sign_in(app, "handler")
    assert hp.post(f"/admin/outbox/{dead}/resend", data={"csrf_token": csrf_of(hp.get("/inbox").get_data(
        as_text=True))}).status_code == 403
    client, headers = api_sign_in(app, "auditor")
    assert client.post(f"/api/admin/outbox/{dead}/resend", headers=headers).status_code == 403

    # a sent row is refused; a dead and a failed row are re-queued, with the admin's name
    assert pc.post(f"/admin/outbox/{sent.id}/resend", data={"csrf_token": token}).status_code == 409
    for row_id in (dead, failed):
        r = pc.post(f"/admin/outbox/{row_id}/resend", data={"csrf_token": token})
        assert r.status_code == 302, r.get_data(as_text=True)
    with container.session_factory() as s:
        for row_id in (dead, failed):
            row = s.get(Outbox, row_id)
            assert row.status == "pending" and row.attempts == 0 and row.last_error is None
            [event] = s.scalars(select(OutboxEvent).where(OutboxEvent.outbox_id == row_id,
                                                          OutboxEvent.kind == "resent")).all()
            assert event.actor == "admin"
        logged = [e for e in security_log.search(s, security_log.Query(kind="notification_resend"))[0]]
    assert len(logged) == 2 and {e["actor"] for e in logged} == {"admin"}
    again = pc.get(f"/admin/outbox?case_id={reminded}&channel=sms").get_data(as_text=True)
    assert "admin 于" in again

    # the API: the same filters, and the refusal of a sent row
    client, headers = api_sign_in(app, "admin")
    assert client.get("/api/admin/outbox?status=failed").get_json()["items"] == []  # both re-queued
    assert client.get("/api/admin/outbox?from=2026-12-12").get_json()["total"] == 0
    assert client.get(f"/api/admin/outbox?from=2026-12-11&to=2026-12-11&case_id={reminded}").get_json()["total"] >= 3
    assert client.get("/api/admin/outbox?from=tomorrow").status_code == 400
    r = client.post(f"/api/admin/outbox/{sent.id}/resend", headers=headers)
    assert r.status_code == 409


def test_reads_kept_as_outbox_events_before_the_inbox_table_are_carried_over(tmp_path):
    """0017_inbox_read_state moves the reads recorded before (a `read` event of the outbox) into `inbox_read`."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(engine, "0016_erasure")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO outbox (id, idempotency_key, channel, recipient, template, template_version, payload, "
                "status, attempts, created_at, sent_at) VALUES (7, 'k7', 'inapp', 'handler', 'reminder', 1, '{}', "
                "'sent', 1, '2026-03-02 09:00:00+00:00', '2026-03-02 09:00:00+00:00')"))
            for at in ("2026-03-03 08:00:00+00:00", "2026-03-04 08:00:00+00:00"):  # read twice: the first counts
                conn.execute(text("INSERT INTO outbox_event (outbox_id, at, kind, actor, detail) "
                                  "VALUES (7, :at, 'read', 'handler', '{}')"), {"at": at})
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT outbox_id, username, read_at FROM inbox_read")).all()
        assert [(r[0], r[1]) for r in rows] == [(7, "handler")] and str(rows[0][2]).startswith("2026-03-03 08:00")
    finally:
        engine.dispose()


def test_a_co_handling_notice_carries_its_case_and_leads_to_the_co_units_work(app, container):
    """协办: triage names 东城县住建局 as co-unit; its handler's inbox gets the notice, of kind 协办, carrying the case,
    and leading to the co-unit's own task once that is open."""
    container.clock.set(datetime(2026, 12, 7, 10, 0, tzinfo=SHANGHAI))
    c = page_sign_in(app, "registrar")
    page = c.get("/register").get_data(as_text=True)
    c.post("/register", data=dict(FORM, csrf_token=csrf_of(page), action="check"))
    case_id = first_case_id(container)
    view = container.runtime.get_case(case_id)
    container.runtime.complete(view.tasks[0].id, {"route": "交办转送", "co_units": ["county_a_housing"]},
                               actor="registrar")
    build_deliverer(container).run_once()
    client, headers = api_sign_in(app, "handler_housing")
    [notice] = client.get("/api/inbox?kind=co_handling").get_json()["notifications"]
    assert notice["case_id"] == case_id and notice["kind_label"] == "协办" and notice["title"].startswith("【协办】")
    assert notice["link"] is None  # the co-unit has no task yet and does not see the case: no link to nowhere
    for name, data in (("签收或提出异议", {"sign_decision": "签收"}),
                       ("作出受理决定", {"accepted": True, "acceptance_note": "依法受理"})):
        task = next(t for t in container.runtime.get_case(case_id).tasks if t.name == name)
        container.runtime.complete(task.id, data, actor="handler")
    [co_task] = [t for t in client.get("/api/tasks").get_json()["tasks"] if t["case_id"] == case_id]
    [notice] = client.get("/api/inbox?kind=co_handling").get_json()["notifications"]
    assert notice["task_id"] == co_task["id"] and notice["link"] == f"/tasks/{co_task['id']}"
    assert api_sign_in(app, "handler")[0].get("/api/inbox?kind=co_handling").get_json()["notifications"] == []
