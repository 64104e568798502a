"""Notifications end to end: a step emits them, the deliverer sends them to a real local SMTP server and a real
local HTTP SMS gateway, and we check exactly what arrived. Crashes, retries, dead letters, resends, delivery
reports and the in-app list, on SQLite and PostgreSQL."""
from __future__ import annotations

import email
import json
import logging
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from engine.definitions import SourceFile
from engine.handlers import HandlerRegistry
from engine.runtime import Runtime
from engine.store import Outbox, OutboxEvent
from infra.channels import SIGNATURE_HEADER, InAppChannel, sign
from infra.db import make_engine
from infra.delivery import Deliverer, templated_notify
from infra.delivery_worker import DeliveringWorker
from services import register_all
from services.notify_templates import TemplateCatalogue
from services.organisation import load_organisation
from tests.support import bpmn
from tests.support.db import make_container
from tests.support.fake_http import FakeJsonServer
from web.notify_setup import build_deliverer

ROOT = Path(__file__).resolve().parents[2]
SMS_SECRET = "gateway-shared-secret"
SIGNATURE = "连心信访"
PHONE = "13812340000"
MAIL = "zhang.san@example.cn"

NOTIFYING = bpmn.SERVICE.replace('id="flaky"', 'id="send_notices"').replace(
    '<spiffworkflow:parameter id="value" type="int" value="amount"/>',
    '<spiffworkflow:parameter id="case_no" type="str" value="case_no"/>')

RECEIPT = {"case_no": "X3301022026000017", "query_code": "Q7K2M9", "accept_due": "2026-03-17",
           "registered_on": "2026-03-02T09:00:00+08:00"}


@dataclass
class NoticeInput:
    case_no: str


# ---------------------------------------------------------------- a real SMTP server and a real SMS gateway

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailRecorder:
    """aiosmtpd handler: keeps every accepted message; refuses the next `fail_next` with a temporary error."""

    def __init__(self):
        self.accepted: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refused: list[email.message.EmailMessage] = []
        self.fail_next = 0

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        if self.fail_next:
            self.fail_next -= 1
            self.refused.append(message)
            return "451 4.3.0 mailbox busy, try again later"
        self.accepted.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    recorder = MailRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    recorder.url = (f"smtp://127.0.0.1:{controller.port}?"
                    + urlencode({"from": "连心信访 <noreply@lianxin.example.cn>", "timeout": "5"}))
    yield recorder
    controller.stop()


class SmsGateway(FakeJsonServer):
    """A local HTTP gateway that behaves like a real one: checks our signature, de-duplicates on the
    idempotency key (a repeat answers like the first time and sends nothing), can be told to fail."""

    def __init__(self):
        super().__init__()
        self.requests: list[dict] = []
        self.messages: dict[str, dict] = {}  # idempotency key -> what went to the handset
        self.fail_next = 0
        self.url = f"{self.base_url}/v1/sms?" + urlencode(
            {"sender": "106900001234", "signature": SIGNATURE, "secret": SMS_SECRET})

    def handle(self, http, raw: bytes) -> None:
        with self.lock:
            self.requests.append({"headers": dict(http.headers), "body": raw})
            if http.headers.get(SIGNATURE_HEADER) != sign(SMS_SECRET, raw):
                return self.reply(http, 401, {"error": "bad signature"})
            if self.fail_next:
                self.fail_next -= 1
                return self.reply(http, 503, {"error": "upstream busy"})
            body = json.loads(raw)
            key = http.headers["Idempotency-Key"]
            assert body["idempotency_key"] == key
            if key not in self.messages:
                self.messages[key] = {**body, "id": f"gw-{len(self.messages) + 1}"}
            return self.reply(http, 200, {"id": self.messages[key]["id"]})


@pytest.fixture
def sms_gateway():
    gateway = SmsGateway()
    yield gateway
    gateway.close()


# ---------------------------------------------------------------- a case whose step emits notifications

class Office:
    """One container whose process step emits `self.notices` through ctx.emit, like a real handler."""

    def __init__(self, container, notices: list[dict]):
        self.c = container
        self.notices = notices
        self.clock = container.clock

    def step(self, *notices: dict, case_no: str = RECEIPT["case_no"]):
        self.notices[:] = list(notices)
        case = self.c.runtime.start("notify_case", {"case_no": case_no}, "registrar")
        assert case.status == "waiting", case.incidents
        return case

    def deliverer(self, **options) -> Deliverer:
        return build_deliverer(self.c, **options)

    def rows(self) -> list[Outbox]:
        with self.c.session_factory() as s:
            return list(s.scalars(select(Outbox).order_by(Outbox.id)))

    def row(self) -> Outbox:
        [row] = self.rows()
        return row

    def app(self):
        from web.app import create_app

        with self.c.session_factory() as s, s.begin():
            load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
        return create_app(self.c)


@pytest.fixture
def office(database_url, clock, tmp_path, smtp_server, sms_gateway):
    made = []

    def build(smtp: bool = True, sms: bool = True) -> Office:
        notices: list[dict] = []

        def send_notices(inp: NoticeInput, ctx):
            for notice in notices:
                ctx.emit("notify", **notice)
            return {"notices": len(notices)}

        registry = register_all(HandlerRegistry())
        registry.register("send_notices", send_notices)
        c = make_container(database_url, clock, tmp_path, handlers=registry,
                           smtp_url=smtp_server.url if smtp else None,
                           sms_gateway_url=sms_gateway.url if sms else None)
        c.runtime.deploy([SourceFile("notify.bpmn", NOTIFYING.replace("svc_case", "notify_case").encode())],
                         actor="designer")
        made.append(c)
        return Office(c, notices)

    yield build
    for c in made:
        c.engine.dispose()


def receipt(channel: str, recipient: str, **data) -> dict:
    return {"channel": channel, "recipient": recipient, "template": "registration_receipt",
            "data": {**RECEIPT, **data}}


def sign_in(app, username):
    client = app.test_client()
    r = client.post("/api/session", json={"username": username, "password": "demo"})
    assert r.status_code == 201
    return client, {"X-CSRF-Token": r.get_json()["csrf_token"]}


# ---------------------------------------------------------------- e-mail and SMS as they arrive

def test_email_arrives_in_chinese_with_the_idempotency_key_as_message_id(office, smtp_server):
    o = office()
    o.step(receipt("email", MAIL))
    row = o.row()
    assert (row.status, row.template, row.template_version) == ("pending", "registration_receipt", 1)

    result = o.deliverer().run_once()
    assert result["sent"] == 1
    [(rcpt, mail)] = smtp_server.accepted
    assert rcpt == [MAIL] and mail["To"] == MAIL
    assert str(mail["Subject"]) == "信访事项登记回执（编号 X3301022026000017）"
    assert "连心信访" in str(mail["From"]) and "noreply@lianxin.example.cn" in str(mail["From"])
    body = mail.get_content()
    assert "编号 X3301022026000017，查询码 Q7K2M9" in body and "2026年3月17日前告知您是否受理" in body
    assert mail["Message-ID"] == f"<{row.idempotency_key}@lianxin.example.cn>"
    assert mail["Date"] == "Mon, 02 Mar 2026 09:00:00 +0800"  # the clock's instant, not the wall clock
    row = o.row()
    assert row.status == "sent" and row.sent_at == o.clock.now() and row.attempts == 1


def test_a_refused_email_is_retried_with_the_same_message_id(office, smtp_server):
    o = office()
    o.step(receipt("email", MAIL))
    smtp_server.fail_next = 1
    deliverer = o.deliverer()
    assert deliverer.run_once()["failed"] == 1
    row = o.row()
    assert row.status == "pending" and "451" in row.last_error and "SMTP" in row.last_error
    assert row.next_attempt_at == o.clock.now() + timedelta(seconds=30)
    o.clock.advance(timedelta(seconds=30))
    assert deliverer.run_once()["sent"] == 1
    [refused] = smtp_server.refused
    [(_, accepted)] = smtp_server.accepted
    assert refused["Message-ID"] == accepted["Message-ID"] == f"<{row.idempotency_key}@lianxin.example.cn>"
    assert o.row().last_error is None


def test_sms_goes_to_the_gateway_signed_with_the_signature_and_idempotency_key(office, sms_gateway):
    o = office()
    o.step(receipt("sms", PHONE))
    assert o.deliverer().run_once()["sent"] == 1
    [request] = sms_gateway.requests
    body = json.loads(request["body"])
    key = o.row().idempotency_key
    assert request["headers"]["Idempotency-Key"] == key and body["idempotency_key"] == key
    assert body["to"] == PHONE and body["sender"] == "106900001234"
    assert body["text"] == ("【连心信访】您的信访事项已登记，编号X3301022026000017，查询码Q7K2M9，将于2026年3月17日前"
                            "告知是否受理。凭编号和查询码可查询进度，请勿将查询码告知他人。")
    with o.c.session_factory() as s:
        sent = s.scalar(select(OutboxEvent).where(OutboxEvent.kind == "sent"))
        assert sent.provider_id == "gw-1" and json.loads(sent.detail)["text"] == body["text"][len("【连心信访】"):]


# ---------------------------------------------------------------- crashes, backoff, dead letters, resend

def test_a_crash_after_sending_is_retried_after_the_lease_and_the_gateway_sends_once(office, sms_gateway):
    o = office()
    o.step(receipt("sms", PHONE))
    deliverer = o.deliverer()
    really_mark_sent = deliverer._mark_sent
    crashes = []

    def crash_once(*args):
        if not crashes:
            crashes.append(1)
            raise ConnectionError("worker lost its database connection before recording the send")
        return really_mark_sent(*args)

    deliverer._mark_sent = crash_once
    assert deliverer.run_once()["interrupted"] == 1
    assert o.row().status == "sending" and len(sms_gateway.messages) == 1

    o.clock.advance(timedelta(minutes=4))  # within the lease: nobody claims it again
    assert deliverer.run_once()["sent"] == 0 and len(sms_gateway.requests) == 1

    o.clock.advance(timedelta(minutes=1, seconds=1))  # lease over: another round (or worker) takes it
    assert o.deliverer().run_once()["sent"] == 1
    assert len(sms_gateway.requests) == 2  # sent again with the same key ...
    assert len(sms_gateway.messages) == 1  # ... and the gateway recognised the repeat: one SMS to the handset
    row = o.row()
    assert row.status == "sent" and row.attempts == 2
    keys = {r["headers"]["Idempotency-Key"] for r in sms_gateway.requests}
    assert keys == {row.idempotency_key}


def test_failures_back_off_exponentially_then_dead_letter_with_the_error(office, sms_gateway):
    o = office()
    o.step(receipt("sms", PHONE))
    sms_gateway.fail_next = 99
    deliverer = o.deliverer(max_attempts=4)
    waits = []
    for attempt in range(1, 5):
        assert deliverer.run_once()["failed" if attempt < 4 else "dead"] == 1
        row = o.row()
        assert row.attempts == attempt and "HTTP 503" in row.last_error and "upstream busy" in row.last_error
        if attempt < 4:
            waits.append(row.next_attempt_at - o.clock.now())
            o.clock.advance(waits[-1] - timedelta(seconds=1))
            assert deliverer.run_once()["failed"] == 0  # not due yet
            o.clock.advance(timedelta(seconds=1))
    assert waits == [timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2)]
    row = o.row()
    assert row.status == "dead" and row.next_attempt_at is None and "短信网关拒绝" in row.last_error
    o.clock.advance(timedelta(days=1))
    assert deliverer.run_once()["failed"] == 0 and len(sms_gateway.requests) == 4  # the dead stay dead


def test_admins_list_dead_letters_masked_and_resend_them(office, sms_gateway):
    o = office()
    o.step(receipt("sms", PHONE), receipt("email", MAIL))
    sms_gateway.fail_next = 99
    o.deliverer(max_attempts=1).run_once()
    app = o.app()

    client, headers = sign_in(app, "handler")
    assert client.get("/api/admin/outbox?status=dead").status_code == 403
    client, headers = sign_in(app, "admin")
    listing = client.get("/api/admin/outbox?status=dead").get_json()
    [item] = listing["items"]
    assert item["recipient"] == "138****0000" and item["channel"] == "sms"
    assert "HTTP 503" in item["last_error"] and item["attempts"] == 1
    assert listing["counts"]["dead"] == 1 and listing["counts"]["sent"] == 1
    everything = client.get("/api/admin/outbox").get_json()["items"]
    assert {i["recipient"] for i in everything} == {"138****0000", "z***@example.cn"}
    assert PHONE not in json.dumps(everything) and MAIL not in json.dumps(everything)

    templates = client.get("/api/admin/notification-templates").get_json()["templates"]
    assert {"name": "满意度评价邀请", "template": "satisfaction_invitation", "versions": [1],
            "fields": ["case_no", "query_code"]} in templates

    sent_id = next(i["id"] for i in everything if i["channel"] == "email")
    r = client.post(f"/api/admin/outbox/{sent_id}/resend", headers=headers)
    assert r.status_code == 409 and "dead" in r.get_json()["error"]["message"]
    assert client.post("/api/admin/outbox/99999/resend", headers=headers).status_code == 404

    sms_gateway.fail_next = 0
    r = client.post(f"/api/admin/outbox/{item['id']}/resend", headers=headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "pending" and "HTTP 503" in r.get_json()["previous"]["error"]
    assert o.deliverer().run_once()["sent"] == 1
    assert len(sms_gateway.messages) == 1
    [again] = [i for i in client.get("/api/admin/outbox").get_json()["items"] if i["id"] == item["id"]]
    assert again["status"] == "sent" and again["resends"][0]["by"] == "admin"
    assert "HTTP 503" in again["resends"][0]["previous_error"]


def test_a_template_missing_a_field_fails_clearly_and_dead_letters(office):
    o = office()
    o.step({"channel": "inapp", "recipient": "handler", "template": "reminder",
            "data": {"case_no": "X1", "title": "噪声扰民", "unit": "甲县住建局", "deadline_label": "办理期限",
                     "workdays_left": 3}})  # no `due`
    deliverer = o.deliverer(max_attempts=2)
    assert deliverer.run_once()["failed"] == 1
    assert "缺少字段 'due'" in o.row().last_error and "reminder v1" in o.row().last_error
    o.clock.advance(timedelta(minutes=1))
    assert deliverer.run_once()["dead"] == 1
    row = o.row()
    assert row.status == "dead" and row.last_error.startswith("通知模板 reminder v1 的 subject 无法生成：缺少字段 'due'")


def test_rows_for_an_unconfigured_channel_wait_with_a_clear_error(office, sms_gateway):
    o = office(sms=False)
    o.step(receipt("sms", PHONE), receipt("inapp", "handler"))
    result = o.deliverer().run_once()
    assert result["sent"] == 1  # the in-app one
    sms = next(r for r in o.rows() if r.channel == "sms")
    assert sms.status == "pending" and sms.attempts == 0 and "LIANXIN_SMS_GATEWAY_URL" in sms.last_error
    o.clock.advance(timedelta(days=2))
    assert o.deliverer().run_once()["dead"] == 0
    configured = office(sms=True)  # the same database, now with the gateway configured
    assert configured.deliverer().run_once()["sent"] == 1
    assert [m["to"] for m in sms_gateway.messages.values()] == [PHONE]


# ---------------------------------------------------------------- delivery reports from the gateway

def test_status_reports_need_the_gateway_signature(office, sms_gateway, caplog):
    o = office()
    o.step(receipt("sms", PHONE))
    o.deliverer().run_once()
    key = o.row().idempotency_key
    client = o.app().test_client()
    report = json.dumps({"idempotency_key": key, "id": "gw-1", "status": "delivered",
                         "at": "2026-03-02T09:00:05+08:00"}).encode()

    with caplog.at_level(logging.WARNING, logger="lianxin.notifications"):
        forged = client.post("/api/sms/status", data=report, content_type="application/json",
                             headers={SIGNATURE_HEADER: sign("not-the-secret", report)})
        missing = client.post("/api/sms/status", data=report, content_type="application/json")
    assert forged.status_code == 401 and forged.get_json()["error"]["code"] == "bad_signature"
    assert missing.status_code == 401
    assert sum("bad or missing" in r.getMessage() for r in caplog.records) == 2

    ok = client.post("/api/sms/status", data=report, content_type="application/json",
                     headers={SIGNATURE_HEADER: sign(SMS_SECRET, report)})
    assert ok.status_code == 200 and ok.get_json() == {"id": o.row().id, "delivery_status": "delivered",
                                                       "recorded": True}
    late = json.dumps({"id": "gw-1", "status": "failed", "at": "2026-03-02T09:10:00+08:00"}).encode()
    r = client.post("/api/sms/status", data=late, content_type="application/json",
                    headers={SIGNATURE_HEADER: sign(SMS_SECRET, late)})
    assert r.get_json()["recorded"] is False  # a late failure never overrides a delivery
    admin, _ = sign_in(o.app(), "admin")
    [item] = admin.get("/api/admin/outbox").get_json()["items"]
    assert item["delivery_status"] == "delivered" and item["provider_id"] == "gw-1"


# ---------------------------------------------------------------- in-app

def test_in_app_notifications_newest_first_with_unread_count(office):
    o = office()
    o.step({"channel": "inapp", "recipient": "handler", "template": "assignment_notice",
            "data": {"case_no": "X1", "title": "噪声扰民", "unit": "甲县住建局", "from_unit": "甲县信访局",
                     "accept_due": "2026-03-17", "due": "2026-05-29"}},
           {"channel": "inapp", "recipient": "county", "template": "registration_receipt", "data": RECEIPT})
    o.deliverer().run_once()
    o.clock.advance(timedelta(hours=1))
    o.step({"channel": "inapp", "recipient": "handler", "template": "reminder",
            "data": {"case_no": "X2", "title": "拖欠工资", "unit": "甲县住建局", "deadline_label": "办理期限",
                     "workdays_left": 3, "due": "2026-03-05"}}, case_no="X2")
    client, headers = sign_in(o.app(), "handler")
    assert client.get("/api/notifications").get_json()["total"] == 1  # the reminder is not delivered yet
    o.deliverer().run_once()

    listing = client.get("/api/notifications").get_json()
    assert listing["unread"] == 2 and listing["total"] == 2
    newest, older = listing["notifications"]
    assert newest["title"] == "【催办】信访事项 X2 将于2026年3月5日到期" and "剩余 3 个工作日" in newest["text"]
    assert older["title"] == "【交办】信访事项 X1：噪声扰民" and "2026年5月29日前办结" in older["text"]
    assert not newest["read"]

    assert client.post(f"/api/notifications/{older['id']}/read").status_code == 403  # no CSRF header
    r = client.post(f"/api/notifications/{older['id']}/read", headers=headers)
    assert r.status_code == 200 and r.get_json()["read"] is True
    listing = client.get("/api/notifications").get_json()
    assert listing["unread"] == 1 and [n["read"] for n in listing["notifications"]] == [False, True]
    assert [n["id"] for n in client.get("/api/notifications?unread=1").get_json()["notifications"]] == [newest["id"]]

    county_row = next(r for r in o.rows() if r.recipient == "county")
    assert client.post(f"/api/notifications/{county_row.id}/read", headers=headers).status_code == 404
    assert sign_in(o.app(), "county")[0].get("/api/notifications").get_json()["unread"] == 1
    assert client.get("/api/notifications?limit=0").status_code == 400


# ---------------------------------------------------------------- several deliverers, the worker, versions

def test_two_deliverers_at_once_send_every_message_once(office, sms_gateway):
    o = office()
    o.step(*[receipt("sms", f"1390000{i:04d}") for i in range(12)])
    deliverers = [o.deliverer(name=f"d{i}", batch=3) for i in range(2)]
    results, errors = [], []

    def run(d):
        try:
            results.append(d.run_once())
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(d,)) for d in deliverers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(r["sent"] for r in results) == 12
    assert len(sms_gateway.requests) == 12  # each row claimed by exactly one deliverer
    assert all(r.status == "sent" and r.attempts == 1 for r in o.rows())


def test_the_worker_delivers_in_the_same_round(office, sms_gateway):
    o = office()
    o.step(receipt("sms", PHONE))
    worker = DeliveringWorker(o.deliverer(), o.c.runtime, o.c.session_factory, o.clock, name="w")
    result = worker.run_once()
    assert result["notifications"]["sent"] == 1 and len(sms_gateway.messages) == 1


def test_a_new_template_version_is_used_for_new_notices_and_old_rows_keep_theirs(office):
    o = office()
    v1 = "t:\n  name: 测试\n  versions:\n    1: {subject: '旧标题 {{ n }}', body: '旧正文'}\n"
    v2 = v1 + "    2: {subject: '新标题 {{ n }}', body: '新正文'}\n"
    c = o.c

    def runtime_with(catalogue):
        return Runtime(c.session_factory, c.clock, c.handlers, calendar=c.calendar,
                       effect_sinks={"notify": templated_notify(catalogue)})

    notice = {"channel": "inapp", "recipient": "handler", "template": "t", "data": {"n": 1}}
    o.notices[:] = [notice]
    runtime_with(TemplateCatalogue.from_sources({"t.yaml": v1})).start("notify_case", {"case_no": "A"}, "registrar")
    runtime_with(TemplateCatalogue.from_sources({"t.yaml": v2})).start("notify_case", {"case_no": "B"}, "registrar")
    o.notices[:] = [{**notice, "template": "no_such_template"}]
    refused = runtime_with(TemplateCatalogue.from_sources({"t.yaml": v2})).start(
        "notify_case", {"case_no": "C"}, "registrar")
    assert refused.status == "incident" and "no_such_template" in refused.incidents[0].message
    assert [r.template_version for r in o.rows()] == [1, 2]

    Deliverer(c.session_factory, c.clock, {"inapp": InAppChannel()},
              TemplateCatalogue.from_sources({"t.yaml": v2})).run_once()
    client, _ = sign_in(o.app(), "handler")
    titles = [n["title"] for n in client.get("/api/notifications").get_json()["notifications"]]
    assert sorted(titles) == ["新标题 1", "旧标题 1"]


def test_cli_lists_templates_and_delivers(tmp_path):
    from click.testing import CliRunner

    from web.cli.main import main
    from web.cli.notify import notify

    env = {"LIANXIN_VAR_DIR": str(tmp_path / "var"), "LIANXIN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    assert CliRunner().invoke(main, ["init"], env=env).exit_code == 0
    listed = CliRunner().invoke(notify, ["templates"], env=env)
    assert listed.exit_code == 0 and "satisfaction_invitation\tv1\t满意度评价邀请\tcase_no, query_code" in listed.output

    engine = make_engine(env["LIANXIN_DATABASE_URL"])
    from engine.clock import parse_instant
    from infra.db import make_session_factory

    at = parse_instant("2026-03-02T09:00:00+08:00")
    with make_session_factory(engine)() as s, s.begin():
        s.add(Outbox(idempotency_key="cli-1", channel="inapp", recipient="handler", template="registration_receipt",
                     template_version=1, payload=json.dumps(RECEIPT), status="pending", attempts=0,
                     next_attempt_at=at, created_at=at))
        s.add(Outbox(idempotency_key="cli-2", channel="sms", recipient=PHONE, template="registration_receipt",
                     template_version=1, payload=json.dumps(RECEIPT), status="pending", attempts=0,
                     next_attempt_at=at, created_at=at))
    engine.dispose()
    early = CliRunner().invoke(notify, ["deliver", "--once", "--now", "2026-03-02T08:59:00+08:00"], env=env)
    assert json.loads(early.output)["sent"] == 0
    result = CliRunner().invoke(notify, ["deliver", "--once", "--now", "2026-03-02T09:00:00+08:00"], env=env)
    assert result.exit_code == 0 and json.loads(result.output)["sent"] == 1
    waiting = CliRunner().invoke(notify, ["outbox", "--status", "pending"], env=env)
    assert "138****0000" in waiting.output and "LIANXIN_SMS_GATEWAY_URL" in waiting.output
    assert PHONE not in waiting.output
