"""Steps for portal.feature (网上信访, docs/portal.md): the petitioner on the portal with an SMS code read from a local
gateway, the office on its pages; the withdrawal (services/withdrawal.py) and the service by opening online
(services/petitioner_rights.py). The office's side reuses the petition steps (features/steps_petition.py)."""
from __future__ import annotations

import json
import re

import pytest
from pytest_bdd import parsers, then, when
from sqlalchemy import select

from engine.clock import SettableClock, parse_instant
from engine.store import Timer, WorkItem
from features.conftest import ROOT, Office
from features.steps_petition import _do, _history
from services import petitioner_rights
from services.organisation import load_organisation
from tests.integration.test_notifications import SmsGateway
from tests.support.db import make_container
from tests.support.web import csrf_of, page_sign_in
from web.notify_setup import build_deliverer

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PETITION = {"name": "王某某", "request": "要求企业支付拖欠的三个月工资", "facts": "在某厂工作，2025年12月起未发工资",
            "category": "劳动社保", "location": "county_a"}


class PortalOffice(Office):
    """The office with an SMS gateway the petitioner's phone reads, and the petitioner's own portal client."""

    def __init__(self, container, gateway: SmsGateway):
        super().__init__(container)
        self.gateway = gateway
        self.phone: str | None = None
        self.portal = None
        self.refused = None

    def sms_to(self, phone: str) -> list[str]:
        build_deliverer(self.c).run_once()
        return [m["text"] for m in self.gateway.messages.values() if m["to"] == phone]

    def portal_token(self) -> str:
        return CSRF.search(self.portal.get("/portal").get_data(as_text=True)).group(1)

    def portal_post(self, path: str, data: dict):
        return self.portal.post(path, data=dict(data, csrf_token=self.portal_token()))


def make_portal_office(database_url, tmp_path, gateway: SmsGateway) -> PortalOffice:
    c = make_container(database_url, SettableClock(parse_instant("2026-03-02T09:00:00+08:00")), tmp_path,
                       sms_gateway_url=gateway.url)
    with c.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    return PortalOffice(c, gateway)


@pytest.fixture
def sms_gateway():
    gateway = SmsGateway()
    yield gateway
    gateway.close()


# ---------------------------------------------------------------- the petitioner on the portal

@when(parsers.parse('信访人用手机 "{phone}" 获取短信验证码并登录网上信访'))
def portal_sign_in(office, phone):
    office.phone, office.portal = phone, office.app.test_client()
    r = office.portal.post("/portal/code", data={"phone": phone, "csrf_token": office.portal_token()})
    assert r.status_code == 200, r.get_data(as_text=True)
    code = re.search(r"验证码是(\d{6})", office.sms_to(phone)[-1]).group(1)
    r = office.portal_post("/portal/signin", {"phone": phone, "code": code})
    assert r.status_code == 303, r.get_data(as_text=True)


@when(parsers.parse('信访人在网上提交信访事项 "{title}"'))
def portal_submit(office, title):
    r = office.portal.post("/portal/submit", data=dict(PETITION, title=title, csrf_token=office.portal_token()),
                           content_type="multipart/form-data")
    assert r.status_code == 200, r.get_data(as_text=True)
    office.case_id = int(re.search(r"/portal/cases/(\d+)", r.get_data(as_text=True)).group(1))


@then("信访人收到含编号和查询码的登记回执短信，只收到一次")
def receipt_once(office):
    case_no = office.get("auditor", f"/api/cases/{office.case_id}").get_json()["data"]["case_no"]
    receipts = [t for t in office.sms_to(office.phone) if "已登记" in t and case_no in t and "查询码" in t]
    assert len(receipts) == 1, office.sms_to(office.phone)
    assert len([t for t in office.sms_to(office.phone) if "已登记" in t]) == 1


@then(parsers.parse('信访人在网上信访看到这件事项，当前阶段是 "{stage}"'))
def portal_stage(office, stage):
    assert f"/portal/cases/{office.case_id}" in office.portal.get("/portal").get_data(as_text=True)
    page = office.portal.get(f"/portal/cases/{office.case_id}").get_data(as_text=True)
    assert re.search(r'id="stage">([^<]*)<', page).group(1) == stage


@when(parsers.parse('信访局和承办单位办理到答复，送达方式 "{method}"，不填送达日期'))
def office_replies(office, method):
    _do(office, "registrar", "分流研判", {"route": "交办转送"})
    _do(office, "handler", "签收或提出异议", {"sign_decision": "签收"})
    _do(office, "handler", "作出受理决定", {"accepted": True, "acceptance_note": "由本局办理"})
    _do(office, "handler", "办理并拟写答复意见", {"handle_action": "答复", "outcome": "支持",
                                              "reply_text": "经核查，企业已承诺补发工资", "service_method": method})
    _do(office, "bureau", "审核销号", {"signoff_approved": True})


@when("信访人重新登录网上信访")
def portal_sign_in_again(office):
    portal_sign_in(office, office.phone)


@when(parsers.parse('信访人在网上信访查阅 "{title}"'))
def portal_read(office, title):
    page = office.portal.get(f"/portal/cases/{office.case_id}").get_data(as_text=True)
    link = re.search(r'href="(/portal/cases/\d+/documents/\w+)">[^<]*' + re.escape(title), page)
    assert link, page
    r = office.portal.get(link.group(1))
    assert r.status_code == 200 and title in r.get_data(as_text=True)


@then(parsers.parse('复查申请期限自 "{served}" 起算，最后一日是 "{last}"'))
def review_window(office, served, last):
    view = office.c.runtime.get_case(office.case_id)
    span = petitioner_rights.window(office.c.runtime, view.data, petitioner_rights.RIGHTS["复查申请"], office.case_id)
    assert (span["served_on"], span["last_day"].isoformat()) == (served, last), span
    assert last in office.portal.get(f"/portal/cases/{office.case_id}").get_data(as_text=True)


@when(parsers.parse('信访人在网上评价 "{rating}"'))
def portal_rate(office, rating):
    r = office.portal_post(f"/portal/cases/{office.case_id}/rating", {"rating": rating})
    assert r.status_code == 303, r.get_data(as_text=True)


@when(parsers.parse('信访人在网上请求复查，理由 "{reason}"'))
def portal_review(office, reason):
    r = office.portal_post(f"/portal/cases/{office.case_id}/review", {"message": "复查申请", "reason": reason})
    assert r.status_code == 303, r.get_data(as_text=True)


@then(parsers.parse('案件的评价是 "{rating}"，评价方式 "{channel}"'))
def rated(office, rating, channel):
    data = office.get("auditor", f"/api/cases/{office.case_id}").get_json()["data"]
    assert (data["rating"], data["rating_channel"]) == (rating, channel)


@then(parsers.parse('办理记录中信访人的操作都记为 "{actor}"，渠道 "{channel}"'))
def portal_actor(office, actor, channel):
    mine = [e for e in _history(office) if e["actor"].startswith("portal:")]
    assert mine and {e["actor"] for e in mine} == {actor}
    kinds = {e["type"] for e in mine}
    assert {"portal.submitted", "portal.document_served", "task.submitted", "message.delivered"} <= kinds, kinds
    assert all(e["data"].get("channel") == channel for e in mine if e["type"].startswith("portal."))


# ---------------------------------------------------------------- withdrawal

@when(parsers.parse('信访人在网上申请撤回，理由 "{reason}"'))
def portal_withdraw(office, reason):
    office.refused = office.portal_post(f"/portal/cases/{office.case_id}/withdraw", {"reason": reason})


@then(parsers.parse('撤回申请已提交，"{user}" 在案件页面看到撤回申请'))
def withdrawal_seen(office, user):
    assert office.refused.status_code == 303
    page = page_sign_in(office.app, user).get(f"/cases/{office.case_id}").get_data(as_text=True)
    assert 'id="withdrawal-pending"' in page and "通过网上信访申请撤回" in page


@then(parsers.parse('"{user}" 不能确认撤回'))
def may_not_confirm(office, user):
    page = page_sign_in(office.app, user)
    html = page.get(f"/cases/{office.case_id}").get_data(as_text=True)
    assert 'id="action-withdraw"' not in html
    assert page.get(f"/cases/{office.case_id}/actions/withdraw").status_code in (403, 404)
    before = office.get("auditor", f"/api/cases/{office.case_id}").get_json()
    page.post(f"/cases/{office.case_id}/actions/withdraw", data={"channel": "portal", "csrf_token": csrf_of(html)})
    after = office.get("auditor", f"/api/cases/{office.case_id}").get_json()
    assert (after["status"], after["version"]) == (before["status"], before["version"])  # nothing changed
    assert not [e for e in _history(office) if e["type"] == "message.delivered" and e["data"]["name"] == "撤回"]


def _decide(office, user, action, form):
    page = page_sign_in(office.app, user)
    html = page.get(f"/cases/{office.case_id}/actions/{action}").get_data(as_text=True)
    r = page.post(f"/cases/{office.case_id}/actions/{action}", data=dict(form, csrf_token=csrf_of(html)))
    assert r.status_code == 302


@when(parsers.parse('"{user}" 确认撤回'))
def confirm(office, user):
    _decide(office, user, "withdraw", {"channel": "portal"})


@when(parsers.parse('"{user}" 确认信访人{channel}撤回，记录 "{statement}"'))
def confirm_told(office, user, channel, statement):
    code = {"来信": "letter", "来访": "visit", "电话": "phone"}[channel]
    _decide(office, user, "withdraw", {"channel": code, "statement": statement})


@when(parsers.parse('"{user}" 不同意撤回，理由 "{reason}"'))
def decline(office, user, reason):
    _decide(office, user, "decline_withdrawal", {"reason": reason})


@then("案件没有待办和计时")
def nothing_open(office):
    with office.c.session_factory() as s:
        assert not s.scalars(select(WorkItem).where(WorkItem.case_id == office.case_id,
                                                    WorkItem.state == "open")).all()
        assert not s.scalars(select(Timer).where(Timer.case_id == office.case_id, Timer.status == "pending")).all()


@then(parsers.parse('信访人收到写明 "{words}" 的短信，只收到一次'))
def sms_once(office, words):
    assert len([t for t in office.sms_to(office.phone) if words in t]) == 1, office.sms_to(office.phone)
    assert len([t for t in office.sms_to(office.phone) if words in t]) == 1  # the worker again: still once


@then(parsers.parse('信访人在网上信访看到 "{words}"'))
def portal_shows(office, words):
    assert words in office.portal.get(f"/portal/cases/{office.case_id}").get_data(as_text=True)


@then(parsers.parse('撤回记为 "{channel}"，由 "{user}" 确认'))
def withdrawal_recorded(office, channel, user):
    [event] = [e for e in _history(office) if e["type"] == "message.delivered" and e["data"]["name"] == "撤回"]
    assert event["actor"] == user and event["data"]["payload"]["channel"] == channel


@then(parsers.parse('撤回被拒绝，理由提到 "{words}"'))
def withdrawal_refused(office, words):
    assert office.refused.status_code == 409 and words in office.refused.get_data(as_text=True)


# ---------------------------------------------------------------- another person's case

@then("信访人看不到这件事项，打开、查阅、评价、请求复查和撤回都答复“未找到”")
def not_theirs(office):
    case_id = office.case_id
    assert f"/portal/cases/{case_id}" not in office.portal.get("/portal").get_data(as_text=True)
    for path in (f"/portal/cases/{case_id}", f"/portal/cases/{case_id}/documents/receipt"):
        assert office.portal.get(path).status_code == 404
    for action, form in (("rating", {"rating": "满意"}), ("review", {"message": "复查申请", "reason": "不服处理意见"}),
                         ("withdraw", {"reason": "不想办了"})):
        assert office.portal_post(f"/portal/cases/{case_id}/{action}", form).status_code == 404
    assert not [e for e in _history(office) if e["type"] == "portal.withdrawal_requested"]
    assert json.dumps(_history(office), ensure_ascii=False).count("portal:137") == 0
