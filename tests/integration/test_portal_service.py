"""Service by opening on the portal (services/petitioner_rights.py `online_service`, docs/portal.md): a reply served
电子送达 without a date of service entered is served on the day the petitioner first opens it on the portal, and
the 复查 window (30 days, 《信访工作条例》第三十五条) counts from that day, in the portal, in the staff registration
of a request and in the process's own timer; a date of service staff entered that is earlier wins. Both databases."""
from __future__ import annotations

from datetime import timedelta

from features.steps_petition import _do
from services import petitioner_rights
from tests.integration.test_portal import PHONE, gateway, portal, submitted  # noqa: F401  (fixtures)

REPLY = {"handle_action": "答复", "outcome": "支持", "reply_text": "经核查，企业已承诺补发工资"}


def _replied(portal, **service) -> int:  # noqa: F811
    client = portal.sign_in(PHONE)
    case_id = submitted(portal, client)
    _do(portal, "registrar", "分流研判", {"route": "交办转送"})
    _do(portal, "handler", "签收或提出异议", {"sign_decision": "签收"})
    _do(portal, "handler", "作出受理决定", {"accepted": True, "acceptance_note": "由本局办理"})
    _do(portal, "handler", "办理并拟写答复意见", dict(REPLY, **service))  # served on 2026-03-02
    _do(portal, "bureau", "审核销号", {"signoff_approved": True})
    return case_id


def _open_reply_on(portal, case_id, day: str):  # noqa: F811
    portal.c.clock.set(portal.c.clock.now().replace(year=2026, month=int(day[5:7]), day=int(day[8:10])))
    client = portal.sign_in(PHONE)
    assert client.get(f"/portal/cases/{case_id}/documents/reply").status_code == 200
    return client


def _window(portal, case_id):  # noqa: F811
    view = portal.c.runtime.get_case(case_id)
    span = petitioner_rights.window(portal.c.runtime, view.data, petitioner_rights.RIGHTS["复查申请"], case_id)
    [timer] = [t for t in view.timers if t.get("element_id") == "Timer_review_request"] or [None]
    return span, timer


def test_a_reply_served_electronically_counts_from_its_first_opening_online(portal):  # noqa: F811
    case_id = _replied(portal, service_method="电子送达")
    span, _ = _window(portal, case_id)
    assert span["served_on"] == "2026-03-02" and span["last_day"].isoformat() == "2026-04-01"
    client = _open_reply_on(portal, case_id, "2026-03-10")  # opened online on day X = 10 March
    span, timer = _window(portal, case_id)
    assert (span["served_on"], span["method"]) == ("2026-03-10", "电子送达")
    assert span["last_day"].isoformat() == "2026-04-09"  # X + 30 days
    assert timer is not None and timer["due_at"].isoformat().startswith("2026-04-09T16:00")  # the process waits as long
    page = client.get(f"/portal/cases/{case_id}").get_data(as_text=True)
    assert "2026-04-09" in page  # the portal shows the same last day
    _open_reply_on(portal, case_id, "2026-03-20")  # a later opening changes nothing
    assert _window(portal, case_id)[0]["served_on"] == "2026-03-10"
    assert len([e for e in portal.journal(case_id) if e.type == "message.delivered"]) == 1
    portal.c.clock.set(portal.c.clock.now() + timedelta(days=19))  # 8 April: still within X + 30
    client = portal.sign_in(PHONE)
    r = client.post(f"/portal/cases/{case_id}/review", data={"message": "复查申请", "reason": "对处理意见不服",
                                                             "csrf_token": portal.csrf(client)})
    assert r.status_code == 303, r.get_data(as_text=True)


def test_a_service_date_entered_by_staff_wins_over_a_later_opening(portal):  # noqa: F811
    case_id = _replied(portal, service_method="电子送达", served_on="2026-03-02")
    _open_reply_on(portal, case_id, "2026-03-10")
    span, timer = _window(portal, case_id)
    assert span["served_on"] == "2026-03-02" and span["last_day"].isoformat() == "2026-04-01"
    assert timer["due_at"].isoformat().startswith("2026-04-01T16:00")
    assert not [e for e in portal.journal(case_id) if e.type.startswith("message.")]
    served = [e for e in portal.journal(case_id) if e.type == "portal.document_served"]
    assert len(served) == 1  # the opening is journaled all the same


def test_a_reply_served_in_person_is_not_moved_by_an_opening_online(portal):  # noqa: F811
    case_id = _replied(portal)  # 直接送达, today
    _open_reply_on(portal, case_id, "2026-03-10")
    assert _window(portal, case_id)[0]["served_on"] == "2026-03-02"
