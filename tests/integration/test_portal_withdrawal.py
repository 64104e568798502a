"""撤回 (services/withdrawal.py, docs/portal.md): the petitioner asks on the portal (or tells the office by letter,
in person or by phone); the registering office confirms it on the case page, and the process ends on its
withdrawal path (告知信访人终止办理, 已撤回，终止办理: open work and timers gone, the petitioner told once by SMS,
the case shown as withdrawn in the portal and the staff pages), or declines it with a reason (the petitioner told,
the case goes on). Who decides is web/visibility.py `may_decide_withdrawal`; a case past its reply refuses. Both
databases."""
from __future__ import annotations

import json

from sqlalchemy import select

from engine.store import Outbox, Timer, WorkItem
from features.steps_petition import _do
from tests.integration.test_case_actions import confirm_and_post, offered, refused_post
from tests.integration.test_portal import PHONE, drive_to_reply, gateway, portal, submitted  # noqa: F401  (fixtures)
from tests.support.web import page_sign_in
from web.notify_setup import build_deliverer

# the city bureau registered the portal's cases: its registrar and bureau decide; the others do not
DECIDE, NOT_DECIDE = ("registrar", "bureau"), ("handler", "county", "leader", "admin", "auditor")


def _ask(portal, client, case_id, reason="问题已与单位协商解决"):  # noqa: F811
    token = portal.csrf(client)
    return client.post(f"/portal/cases/{case_id}/withdraw", data={"reason": reason, "csrf_token": token})


def _open_rows(portal, case_id):  # noqa: F811
    with portal.c.session_factory() as s:
        items = s.scalars(select(WorkItem).where(WorkItem.case_id == case_id, WorkItem.state == "open")).all()
        timers = s.scalars(select(Timer).where(Timer.case_id == case_id, Timer.status == "pending")).all()
        return len(items), len(timers)


def _sms(portal, words):  # noqa: F811
    return [t for t in portal.sms_to(PHONE) if words in t]


def test_an_online_withdrawal_confirmed_by_the_registering_office_ends_the_case_and_tells_the_petitioner_once(
        portal):  # noqa: F811
    client = portal.sign_in(PHONE)
    case_id = submitted(portal, client)
    _do(portal, "registrar", "分流研判", {"route": "交办转送"})
    _do(portal, "handler", "签收或提出异议", {"sign_decision": "签收"})  # now at 受理告知, its clock running
    assert _open_rows(portal, case_id)[0] and _open_rows(portal, case_id)[1]
    assert _ask(portal, client, case_id).status_code == 303
    assert "等待信访工作机构确认" in client.get(f"/portal/cases/{case_id}").get_data(as_text=True)
    for user in DECIDE:
        assert "withdraw" in offered(portal.app, user, case_id), user
    for user in NOT_DECIDE:  # the assessed unit, the county office, the leader, the administrator, the auditor
        assert "withdraw" not in offered(portal.app, user, case_id), user
    for user in ("handler", "county", "admin"):
        assert refused_post(portal.app, user, case_id, "withdraw", {"channel": "portal"}) == 403, user
    assert _open_rows(portal, case_id)[0]  # the refusals changed nothing
    html, r = confirm_and_post(portal.app, "registrar", case_id, "withdraw", {"channel": "portal"})
    assert "问题已与单位协商解决" in html and r.status_code == 302
    view = portal.c.runtime.get_case(case_id)
    assert view.status == "completed" and view.data["withdrawal"]["channel"] == "网上"
    assert _open_rows(portal, case_id) == (0, 0)  # no work item, no timer left
    [delivered] = [e for e in portal.journal(case_id) if e.type == "message.delivered"]
    assert delivered.actor == "registrar" and json.loads(delivered.data)["payload"]["channel"] == "网上"
    told = _sms(portal, "经确认已于")
    assert len(told) == 1 and view.data["case_no"] in told[0]
    build_deliverer(portal.c).run_once()
    assert len(_sms(portal, "经确认已于")) == 1  # exactly once
    page = client.get(f"/portal/cases/{case_id}").get_data(as_text=True)
    assert "已撤回（终止办理）" in page and "终止办理" in page and 'id="withdraw"' not in page
    assert "已撤回（终止办理）" in client.get("/portal").get_data(as_text=True)
    staff = page_sign_in(portal.app, "registrar")
    assert "已撤回（终止办理）" in staff.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "确认信访人撤回（网上），终止办理" in staff.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "已撤回" in staff.get(f"/cases?q={view.data['case_no']}").get_data(as_text=True)
    assert _ask(portal, client, case_id).status_code == 409  # nothing left to withdraw


def test_the_office_may_decline_with_a_reason_the_petitioner_is_told_and_may_ask_again(portal):  # noqa: F811
    client = portal.sign_in(PHONE)
    case_id = submitted(portal, client)
    assert refused_post(portal.app, "handler", case_id, "decline_withdrawal", {"reason": "x"}) in (403, 404)
    assert "decline_withdrawal" not in offered(portal.app, "registrar", case_id)  # nothing asked yet
    assert _ask(portal, client, case_id).status_code == 303
    assert "decline_withdrawal" in offered(portal.app, "registrar", case_id)
    _, r = confirm_and_post(portal.app, "registrar", case_id, "decline_withdrawal", {"reason": ""})
    assert r.status_code == 302 and not [e for e in portal.journal(case_id) if e.type == "withdrawal.declined"]
    _, r = confirm_and_post(portal.app, "bureau", case_id, "decline_withdrawal",
                            {"reason": "所反映问题涉及其他职工权益，须依法办结"})
    assert r.status_code == 302
    [event] = [e for e in portal.journal(case_id) if e.type == "withdrawal.declined"]
    assert event.actor == "bureau" and json.loads(event.data)["reason"].startswith("所反映问题")
    assert len(_sms(portal, "未同意撤回")) == 1
    build_deliverer(portal.c).run_once()
    assert len(_sms(portal, "未同意撤回")) == 1  # exactly once
    view = portal.c.runtime.get_case(case_id)
    assert view.status != "completed" and [t.name for t in view.tasks] == ["分流研判"]  # handling goes on
    page = client.get(f"/portal/cases/{case_id}").get_data(as_text=True)
    assert "未同意撤回" in page and "涉及其他职工权益" in page and 'id="withdraw"' in page
    assert _ask(portal, client, case_id, "再次申请撤回").status_code == 303  # a new request after a declined one
    assert "decline_withdrawal" in offered(portal.app, "registrar", case_id)


def test_a_withdrawal_told_at_the_desk_is_the_same_confirmation_with_its_channel(portal):  # noqa: F811
    client = portal.sign_in(PHONE)
    case_id = submitted(portal, client)
    _, r = confirm_and_post(portal.app, "registrar", case_id, "withdraw", {"channel": "portal"})
    assert r.status_code == 302 and portal.c.runtime.get_case(case_id).status != "completed"  # no online request
    _, r = confirm_and_post(portal.app, "registrar", case_id, "withdraw", {"channel": "visit", "statement": ""})
    assert portal.c.runtime.get_case(case_id).status != "completed"  # what the petitioner said is required
    _, r = confirm_and_post(portal.app, "registrar", case_id, "withdraw",
                            {"channel": "visit", "statement": "信访人来访当面表示不再反映，签字确认"})
    view = portal.c.runtime.get_case(case_id)
    assert view.status == "completed" and view.data["withdrawal"]["channel"] == "来访"
    assert view.data["withdrawal"]["reason"] == "信访人来访当面表示不再反映，签字确认"
    assert len(_sms(portal, "经确认已于")) == 1


def test_a_case_past_its_reply_refuses_withdrawal_and_the_message_api_does_not_bypass_the_office(portal):  # noqa: F811
    client = portal.sign_in(PHONE)
    case_id = submitted(portal, client)
    r = portal.post("registrar", f"/api/cases/{case_id}/messages/撤回", json={"payload": {}})
    assert r.status_code == 409 and portal.c.runtime.get_case(case_id).status != "completed"
    drive_to_reply(portal)  # 答复 served, signed off: 办结
    assert "withdraw" not in offered(portal.app, "registrar", case_id)
    r = _ask(portal, client, case_id)
    assert r.status_code == 409 and "不能再撤回" in r.get_data(as_text=True)
    assert 'id="withdraw"' not in client.get(f"/portal/cases/{case_id}").get_data(as_text=True)
    page = page_sign_in(portal.app, "registrar")
    assert page.get(f"/cases/{case_id}/actions/withdraw").status_code == 403
    with portal.c.session_factory() as s:
        assert not s.scalars(select(Outbox).where(Outbox.template == "withdrawal_confirmed")).all()


def test_a_leaders_visit_withdrawn_ends_its_13710_branch_too(portal):  # noqa: F811
    form = {"channel": "领导接访", "title": "拆迁安置房迟迟未交付", "request": "要求依法处理", "category": "住房保障",
            "location": "county_a", "is_group_or_policy": True,
            "petitioners": [{"name": "王某某", "phone": PHONE}]}
    r = portal.post("registrar", "/api/cases", json=form)
    assert r.status_code == 201, r.get_json()
    portal.case_id = case_id = r.get_json()["id"]
    _do(portal, "registrar", "分流研判", {"route": "交办转送"})
    _do(portal, "handler_housing", "签收或提出异议", {"sign_decision": "签收"})  # 受理告知 and 13710 T1 in parallel
    assert _open_rows(portal, case_id)[0] == 2
    _, r = confirm_and_post(portal.app, "registrar", case_id, "withdraw",
                            {"channel": "phone", "statement": "信访人来电表示问题已解决，不再反映"})
    assert r.status_code == 302
    assert portal.c.runtime.get_case(case_id).status == "completed"
    assert _open_rows(portal, case_id) == (0, 0)
