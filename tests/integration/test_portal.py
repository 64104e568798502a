"""The petitioners' portal (web/portal/, services/portal.py) over the real app, a real local SMS gateway and the
deployed processes: sign-in by SMS code and its refusals, online submission with its receipt, one's own cases
only, documents served, rating and review within their windows, withdrawal, the rate limits, CSRF and the
separation of the portal session from the staff session."""
from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.clock import SettableClock, parse_instant
from engine.store import JournalEvent, Outbox, Setting
from engine.worker import Worker
from features.steps_petition import _do
from tests.integration.test_notifications import SmsGateway
from tests.support.db import make_container
from tests.support.web import office_app
from web.notify_setup import build_deliverer

PHONE, OTHER = "13912345678", "13787654321"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PETITION = {"name": "王某某", "title": "企业拖欠工资三个月未付", "request": "要求企业支付拖欠的三个月工资",
            "facts": "在某厂工作，2025年12月起未发工资", "category": "劳动社保", "location": "county_a"}


@pytest.fixture
def gateway():
    g = SmsGateway()
    yield g
    g.close()


class Portal:
    def __init__(self, c, gateway):
        self.c, self.gateway = c, gateway
        self.app = office_app(c)
        self.case_id = None
        self.clients: dict = {}

    def csrf(self, client, path: str = "/portal") -> str:
        return CSRF.search(client.get(path).get_data(as_text=True)).group(1)

    def ask_code(self, client, phone: str):
        return client.post("/portal/code", data={"phone": phone, "csrf_token": self.csrf(client)})

    def sms_to(self, phone: str) -> list[str]:
        build_deliverer(self.c).run_once()
        return [m["text"] for m in self.gateway.messages.values() if m["to"] == phone]

    def last_code(self, phone: str) -> str:
        return re.search(r"验证码是(\d{6})", self.sms_to(phone)[-1]).group(1)

    def sign_in(self, phone: str):
        client = self.app.test_client()
        assert self.ask_code(client, phone).status_code == 200
        r = client.post("/portal/signin", data={"phone": phone, "code": self.last_code(phone),
                                                "csrf_token": self.csrf(client)})
        assert r.status_code == 303, r.get_data(as_text=True)
        return client

    def submit(self, client, **changes):
        return client.post("/portal/submit", data={**PETITION, **changes, "csrf_token": self.csrf(client)},
                           content_type="multipart/form-data")

    def staff(self, user):  # the features' office interface, for driving the case
        if user not in self.clients:
            client = self.app.test_client()
            r = client.post("/api/session", json={"username": user, "password": "demo"})
            self.clients[user] = (client, r.get_json()["csrf_token"])
        return self.clients[user]

    def post(self, user, path, **kwargs):
        client, token = self.staff(user)
        return client.post(path, headers={"X-CSRF-Token": token}, **kwargs)

    def get(self, user, path):
        return self.staff(user)[0].get(path)

    def journal(self, case_id: int) -> list[JournalEvent]:
        with self.c.session_factory() as s:
            return s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id)
                             .order_by(JournalEvent.seq)).all()


def _portal(database_url, tmp_path, gateway, **settings):
    clock = SettableClock(parse_instant("2026-03-02T09:00:00+08:00"))
    c = make_container(database_url, clock, tmp_path, sms_gateway_url=gateway.url, **settings)
    yield Portal(c, gateway)
    c.engine.dispose()


@pytest.fixture
def portal(database_url, tmp_path, gateway):
    yield from _portal(database_url, tmp_path, gateway)


@pytest.fixture
def crowded_portal(database_url, tmp_path, gateway):
    """Many numbers behind one address (the per-address limits at their lowest)."""
    yield from _portal(database_url, tmp_path, gateway, portal_submissions_per_address=5,
                       portal_submissions_per_phone=50)


def submitted(portal, client) -> int:
    r = portal.submit(client)
    assert r.status_code == 200, r.get_data(as_text=True)
    html = r.get_data(as_text=True)
    portal.case_id = int(re.search(r"/portal/cases/(\d+)", html).group(1))
    return portal.case_id


def drive_to_reply(portal):
    """The office's side: transferred, signed, accepted, replied (served today), signed off."""
    _do(portal, "registrar", "分流研判", {"route": "交办转送"})
    _do(portal, "handler", "签收或提出异议", {"sign_decision": "签收"})
    _do(portal, "handler", "作出受理决定", {"accepted": True, "acceptance_note": "由本局办理"})
    _do(portal, "handler", "办理并拟写答复意见", {"handle_action": "答复", "outcome": "支持",
                                              "reply_text": "经核查，企业已承诺补发工资"})
    _do(portal, "bureau", "审核销号", {"signoff_approved": True})


# ---------------------------------------------------------------- sign-in by SMS code

def test_a_code_signs_in_once_and_is_kept_only_as_a_keyed_digest(portal):
    client = portal.app.test_client()
    assert portal.ask_code(client, PHONE).status_code == 200
    code = portal.last_code(PHONE)
    with portal.c.session_factory() as s:
        stored = [r.value for r in s.scalars(select(Setting).where(Setting.key.like("portal_code:%")))]
    assert len(stored) == 1 and code not in stored[0] and PHONE not in stored[0]
    with portal.c.session_factory() as s:
        assert all(PHONE not in r.recipient for r in s.scalars(select(Outbox)))
    token = portal.csrf(client)
    wrong = client.post("/portal/signin", data={"phone": PHONE, "code": "000000" if code != "000000" else "111111",
                                                "csrf_token": token})
    assert wrong.status_code == 401 and "验证码不正确" in wrong.get_data(as_text=True)
    ok = client.post("/portal/signin", data={"phone": PHONE, "code": code, "csrf_token": token})
    assert ok.status_code == 303
    with portal.c.session_factory() as s:  # the sent SMS keeps no copy of a used code
        assert [json.loads(r.payload)["code"] for r in s.scalars(select(Outbox))] == ["******"]
    assert "我的信访事项" in client.get("/portal").get_data(as_text=True)
    again = portal.app.test_client()
    reused = again.post("/portal/signin", data={"phone": PHONE, "code": code, "csrf_token": portal.csrf(again)})
    assert reused.status_code == 401 and "已使用" in reused.get_data(as_text=True)


def test_an_expired_code_and_too_many_wrong_tries_are_refused(portal):
    client = portal.app.test_client()
    portal.ask_code(client, PHONE)
    code = portal.last_code(PHONE)
    portal.c.clock.advance(timedelta(minutes=portal.c.settings.portal_code_minutes, seconds=1))
    r = client.post("/portal/signin", data={"phone": PHONE, "code": code, "csrf_token": portal.csrf(client)})
    assert r.status_code == 401 and "已过期" in r.get_data(as_text=True)
    portal.ask_code(client, PHONE)
    code = portal.last_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        r = client.post("/portal/signin", data={"phone": PHONE, "code": wrong, "csrf_token": portal.csrf(client)})
    assert "错误次数过多" in r.get_data(as_text=True)
    r = client.post("/portal/signin", data={"phone": PHONE, "code": code, "csrf_token": portal.csrf(client)})
    assert r.status_code == 401  # the right code no longer opens after five wrong ones


def test_codes_are_limited_per_number_and_posts_without_the_portal_token_change_nothing(portal):
    client = portal.app.test_client()
    for _ in range(portal.c.settings.portal_codes_per_phone):
        assert portal.ask_code(client, PHONE).status_code == 200
    refused = portal.ask_code(client, PHONE)
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert portal.ask_code(client, OTHER).status_code == 200  # another number is counted apart
    forged = portal.app.test_client().post("/portal/code", data={"phone": "13600000000"})
    assert forged.status_code == 403 and "CSRF" in forged.get_data(as_text=True)
    assert portal.sms_to("13600000000") == []


def test_a_staff_session_is_no_portal_session_and_the_pages_send_the_security_headers(portal):
    client, _ = portal.staff("admin")
    page = client.get("/portal")
    assert "获取验证码" in page.get_data(as_text=True)
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"].split("style-src-attr")[0]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("lianxin_portal=") and "HttpOnly" in cookie and "Path=/portal" in cookie
    assert client.get("/portal/submit").status_code in (302, 303)
    portal_client = portal.sign_in(PHONE)
    assert portal_client.get("/api/session").status_code == 401  # and the portal cookie opens no staff API


# ---------------------------------------------------------------- submission, own cases, documents, rights

def test_a_submission_registers_the_case_with_its_receipt_sms_once_and_journals_the_channel(portal):
    client = portal.sign_in(PHONE)
    case_id = submitted(portal, client)
    case = portal.get("designer", f"/api/cases/{case_id}").get_json()
    assert not case["incidents"] and case["data"]["channel"] == "网上"
    receipts = [t for t in portal.sms_to(PHONE) if "信访事项已登记，编号" in t]
    assert len(receipts) == 1 and case["data"]["case_no"] in receipts[0] and "/portal" in receipts[0]
    build_deliverer(portal.c).run_once()
    assert len([t for t in portal.sms_to(PHONE) if "信访事项已登记，编号" in t]) == 1  # exactly once
    [start] = [e for e in portal.journal(case_id) if e.type == "portal.submitted"]
    assert start.actor == "portal:139****5678" and json.loads(start.data)["channel"] == "portal"
    code = re.search(r"查询码(\w{10})", receipts[0]).group(1)  # the public query still opens it
    public = portal.app.test_client().get(f"/api/public/cases/{case['data']['case_no']}?code={code}")
    assert public.status_code == 200 and public.get_json()["case_no"] == case["data"]["case_no"]


def test_a_submission_is_checked_like_a_registration_and_attachments_like_staff_uploads(portal):
    client = portal.sign_in(PHONE)
    r = portal.submit(client, title="短", location="nowhere")
    assert r.status_code == 422 and "请从列表中选择问题发生地" in r.get_data(as_text=True)
    r = client.post("/portal/submit", data={**PETITION, "csrf_token": portal.csrf(client),
                                            "files": (io.BytesIO(b"MZ\x90"), "a.exe", "application/x-msdownload")},
                    content_type="multipart/form-data")
    assert r.status_code == 422 and "不接受此类文件" in r.get_data(as_text=True)
    r = client.post("/portal/submit", data={**PETITION, "csrf_token": portal.csrf(client),
                                            "files": (io.BytesIO(b"%PDF-1.4 proof"), "proof.pdf", "application/pdf")},
                    content_type="multipart/form-data")
    assert r.status_code == 200
    files = portal.get("handler", "/api/cases").status_code  # the staff side is unaffected
    assert files in (200, 400)


def test_submissions_are_limited_per_number(portal):
    client = portal.sign_in(PHONE)
    for _ in range(portal.c.settings.portal_submissions_per_phone):
        assert portal.submit(client, title="短").status_code == 422  # every post counts, valid or not
    assert portal.submit(client).status_code == 429


def test_submissions_are_limited_per_address_across_numbers(crowded_portal):
    portal = crowded_portal
    first, second = portal.sign_in(PHONE), portal.sign_in(OTHER)
    for _ in range(5):
        assert portal.submit(first, title="短").status_code == 422
    refused = portal.submit(second)
    assert refused.status_code == 429 and "尝试次数过多" in refused.get_data(as_text=True)


def test_the_portal_never_shows_another_persons_case(portal):
    mine = portal.sign_in(PHONE)
    case_id = submitted(portal, mine)
    theirs = portal.sign_in(OTHER)
    assert PETITION["title"] not in theirs.get("/portal").get_data(as_text=True)
    for path in (f"/portal/cases/{case_id}", f"/portal/cases/{case_id}/documents/receipt",
                 f"/portal/cases/{case_id}/documents/receipt/pdf"):
        assert theirs.get(path).status_code == 404
    token = portal.csrf(theirs)
    for action, form in (("rating", {"rating": "满意"}), ("review", {"message": "复查申请", "reason": "不服处理意见"}),
                         ("withdraw", {"reason": "不想办了"})):
        assert theirs.post(f"/portal/cases/{case_id}/{action}", data={**form, "csrf_token": token}).status_code == 404
    assert not any(e.type == "portal.withdrawal_requested" for e in portal.journal(case_id))
    assert PETITION["title"] in mine.get("/portal").get_data(as_text=True)


def test_follow_read_the_reply_rate_and_request_review_within_their_windows(portal):
    client = portal.sign_in(PHONE)
    case_id = submitted(portal, client)
    token = portal.csrf(client)
    early = client.post(f"/portal/cases/{case_id}/rating", data={"rating": "满意", "csrf_token": token})
    assert early.status_code == 409 and "不在评价期内" in early.get_data(as_text=True)
    early = client.post(f"/portal/cases/{case_id}/review", data={"message": "复查申请", "reason": "对处理意见不服",
                                                                 "csrf_token": token})
    assert early.status_code == 409 and "尚未送达" in early.get_data(as_text=True)
    drive_to_reply(portal)
    page = client.get(f"/portal/cases/{case_id}").get_data(as_text=True)
    assert "documents/reply" in page and "评价办理结果" in page and "请求复查" in page
    english = client.get(f"/portal/cases/{case_id}?lang=en").get_data(as_text=True)
    assert "Request a review" in english and "Rate the outcome" in english
    client.get("/portal?lang=zh_Hans_CN")
    assert "处理意见书" in client.get(f"/portal/cases/{case_id}/documents/reply").get_data(as_text=True)
    assert "documents/assignment" not in page  # the offices' own 交办 notice is not the petitioner's
    assert client.get(f"/portal/cases/{case_id}/documents/assignment").status_code == 404
    pdf = client.get(f"/portal/cases/{case_id}/documents/reply/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    served = [json.loads(e.data) for e in portal.journal(case_id) if e.type == "portal.document_served"]
    assert [(d["kind"], d["method"], d["served_on"]) for d in served] == [("reply", "电子送达", "2026-03-02")]
    r = client.post(f"/portal/cases/{case_id}/rating", data={"rating": "不满意", "csrf_token": token})
    assert r.status_code == 303
    data = portal.get("designer", f"/api/cases/{case_id}").get_json()["data"]
    assert (data["rating"], data["rating_channel"]) == ("不满意", "网上")
    again = client.post(f"/portal/cases/{case_id}/rating", data={"rating": "满意", "csrf_token": token})
    assert again.status_code == 409
    r = client.post(f"/portal/cases/{case_id}/review", data={"message": "复查申请", "reason": "对处理意见不服",
                                                             "csrf_token": token})
    assert r.status_code == 303, r.get_data(as_text=True)
    history = portal.get("auditor", f"/api/cases/{case_id}/history").get_json()["events"]
    assert any(e["actor"] == "portal:139****5678" and "复查" in json.dumps(e, ensure_ascii=False)
               for e in history if e["type"].startswith("message"))
    twice = client.post(f"/portal/cases/{case_id}/review", data={"message": "复查申请", "reason": "对处理意见不服",
                                                                 "csrf_token": token})
    assert twice.status_code == 409


def test_rating_and_review_after_their_windows_are_refused(portal):
    client = portal.sign_in(PHONE)
    case_id = submitted(portal, client)
    drive_to_reply(portal)
    portal.c.clock.advance(timedelta(days=31))
    Worker(portal.c.runtime, portal.c.session_factory, portal.c.clock).run_once()  # the windows' timers fire
    client = portal.sign_in(PHONE)  # the portal session has expired meanwhile
    token = portal.csrf(client)
    r = client.post(f"/portal/cases/{case_id}/rating", data={"rating": "满意", "csrf_token": token})
    assert r.status_code == 409 and "评价" in r.get_data(as_text=True)
    r = client.post(f"/portal/cases/{case_id}/review", data={"message": "复查申请", "reason": "对处理意见不服",
                                                             "csrf_token": token})
    assert r.status_code == 409


def test_a_withdrawal_is_journaled_once_with_the_portal_channel(portal):
    client = portal.sign_in(PHONE)
    case_id = submitted(portal, client)
    token = portal.csrf(client)
    r = client.post(f"/portal/cases/{case_id}/withdraw", data={"reason": "问题已私下解决", "csrf_token": token})
    assert r.status_code == 303
    [event] = [e for e in portal.journal(case_id) if e.type == "portal.withdrawal_requested"]
    assert json.loads(event.data) == {"reason": "问题已私下解决", "channel": "portal"}
    with portal.c.session_factory() as s:  # the holders of the open work (分流研判 at the city bureau) are told
        told = s.scalars(select(Outbox).where(Outbox.template == "withdrawal_requested")).all()
    assert {r.recipient for r in told} >= {"registrar"} and {r.channel for r in told} == {"inapp"}
    page = portal.get("registrar", f"/cases/{case_id}").get_data(as_text=True)  # the office sees it on the case page
    assert "通过网上信访申请撤回" in page and "问题已私下解决" in page
    again = client.post(f"/portal/cases/{case_id}/withdraw", data={"reason": "问题已私下解决", "csrf_token": token})
    assert again.status_code == 409


def test_a_desk_registration_sends_its_receipt_with_the_query_code_and_the_portal_to_the_mobile_once(portal):
    form = {"channel": "来访", "title": "企业拖欠工资三个月未付", "request": "要求企业支付拖欠的工资",
            "category": "劳动社保", "location": "county_a",
            "petitioners": [{"name": "王某某", "phone": PHONE}]}
    r = portal.post("registrar", "/api/cases", json=form)
    assert r.status_code == 201, r.get_json()
    done = r.get_json()
    [receipt] = portal.sms_to(PHONE)
    assert done["case_no"] in receipt and done["query_code"] in receipt and "/portal" in receipt
    assert portal.sms_to(PHONE) == [receipt]  # delivered once
    r = portal.post("registrar", "/api/cases", json={**form, "petitioners": [{"name": "李某", "phone": "0571-8888888"}]})
    assert r.status_code == 201 and portal.sms_to(PHONE) == [receipt]  # a landline gets no SMS
    mine = portal.sign_in(PHONE)
    assert done["case_no"] in mine.get("/portal").get_data(as_text=True)  # and the portal shows the desk's case
