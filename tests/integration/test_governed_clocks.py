"""Issue #17, point 2 (and the extension approval's clock of point 1): clocks are governed. Both databases.

- The handling limit is extended only through the process: the unit asks (reason, days), the head of the handling
  unit approves (not any leader), the petitioner gets the 延期告知书 (SMS copy in the outbox, printable document),
  and every timer derived from the limit moves: no supervision or escalation before the new deadline, both after.
- The approval has its own clock (settings.dmn `limits.extension_approval_workdays`) with a reminder.
- The API answers every role by the same rules: no statutory limit is extended through the generic endpoint, the
  assessed unit never moves its own clock, the clock stops only during a 复核 (hearing, 条例第三十六条) and is
  journaled with that basis, and only an administrator corrects a wrong deadline, with a reason, as its own act.
  Every refusal is a 403 naming the proper path and changes nothing (the journal stays as it was).
"""
from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import select

from engine.clock import SHANGHAI
from engine.deadlines import due_date_of
from engine.store import Outbox
from engine.worker import Worker
from services import four_lists
from tests.support.web import api_sign_in, office_app

DEMO_ROLES = ("registrar", "handler", "county", "leader", "bureau", "jointmeeting", "admin")
PETITIONER = {"name": "张某某", "phone": "13800001234", "id_number": "410121198001021234", "address": "东城县某村"}


@pytest.fixture
def app(container):
    return office_app(container)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def task_named(rt, case_id, name):
    found = [t for t in rt.get_case(case_id).tasks if t.name == name]
    assert found, [t.name for t in rt.get_case(case_id).tasks]
    return found[0]


def accepted_case(container) -> int:
    """Registered on Monday 2026-03-02, transferred to 东城县人社局 (county_a_hrss), signed and accepted the same
    day: the 60-day handling limit ends on 2026-05-06 (5月1日 falls in the May Day holiday)."""
    rt = container.runtime
    view = rt.start("petition_case", {
        "title": "企业拖欠工资三个月", "channel": "来信", "category": "劳动社保", "location": "county_a",
        "request": "要求支付拖欠的工资", "facts": "2025年10月起未发工资", "registering_unit": "city_bureau",
        "petitioner": dict(PETITIONER)}, actor="registrar")
    rt.complete(task_named(rt, view.id, "分流研判").id, {"route": "交办转送"}, actor="registrar")
    rt.complete(task_named(rt, view.id, "签收或提出异议").id, {"sign_decision": "签收"}, actor="handler")
    rt.complete(task_named(rt, view.id, "作出受理决定").id, {"accepted": True}, actor="handler")
    return view.id


def due_day(due_at) -> str:
    return due_date_of(due_at if isinstance(due_at, datetime) else datetime.fromisoformat(due_at)).isoformat()


def timers(rt, case_id) -> dict[str, str]:
    return {t["element_id"]: due_day(t["due_at"]) for t in rt.get_case(case_id).timers}


def fired(rt, case_id, element_id) -> bool:
    """Whether the step `element_id` ran (its service was called or its script completed)."""
    return any(e["element_id"] == element_id and e["type"] in ("service.called", "task.completed")
               for e in rt.history(case_id))


def run_worker_at(container, clock, when: str) -> None:
    clock.set(at(when))
    Worker(container.runtime, container.session_factory, clock).run_once()


def journal_length(rt, case_id) -> int:
    return len(rt.history(case_id))


# ---------------------------------------------------------------- the process path

def test_the_head_of_the_handling_unit_approves_the_extension_and_every_derived_timer_moves(app, container, clock):
    rt = container.runtime
    case_id = accepted_case(container)
    assert timers(rt, case_id)["Timer_handle_limit"] == "2026-05-06"
    assert timers(rt, case_id)["Timer_handle_escalate"] == "2026-05-11"  # 3 working days after (5月9日 is 调休)
    clock.set(at("2026-04-20T10:00:00"))
    rt.complete(task_named(rt, case_id, "办理并拟写答复意见").id, {
        "handle_action": "申请延期", "extension_days": 20, "extension_reason": "需协调社保、税务多个部门"}, actor="handler")

    # the approval goes to the head of the handling unit, with its own clock and reminder
    approval = task_named(rt, case_id, "审批延期申请")
    assert (approval.role, approval.unit) == ("leader", "county_a_hrss")
    assert due_day(approval.due_at) == "2026-04-23"  # 3 working days (settings.dmn extension_approval_workdays)
    assert set(timers(rt, case_id)) == {"Timer_extension_approval_limit", "Timer_extension_approval_yellow"}
    leader_b, hb = api_sign_in(app, "leader_b")  # a leader, but of 西山县: not the head of this unit
    assert leader_b.post(f"/api/tasks/{approval.id}/complete", json={"data": {"extension_approved": True,
                                                                         "approved_days": 20}},
                         headers=hb).status_code in (403, 404)
    leader, hl = api_sign_in(app, "leader")  # 东城县副县长, head over the county's departments
    form = leader.get(f"/tasks/{approval.id}").get_data(as_text=True)  # the decision shows its facts
    assert "需协调社保、税务多个部门" in form and "至多30日" in form and "第三十四条" in form
    r = leader.post(f"/api/tasks/{approval.id}/complete",
                    json={"data": {"extension_approved": True, "approved_days": 20}}, headers=hl)
    assert r.status_code == 200, r.get_json()
    assert not r.get_json()["incidents"]

    # every timer derived from the handling limit moved by the 20 days (05-06 → 05-21 is counted from acceptance)
    moved = timers(rt, case_id)
    assert moved["Timer_handle_limit"] == "2026-05-21"
    assert moved["Timer_handle_escalate"] == "2026-05-27"
    [yellow] = [t for t in rt.get_case(case_id).timers if t["element_id"] == "Timer_handle_yellow"]
    assert yellow["due_at"] == at("2026-05-18T00:00:00")  # the reminder: the morning the limit turns yellow
    data = rt.get_case(case_id).data
    assert (data["extension_days_total"], data["handle_total_days"], data["extension_new_due"]) == \
        (20, 80, "2026-05-21")

    # the petitioner is told: the notice, its SMS copy in the outbox, and the printable 延期告知书
    notices = [e["data"]["result"] for e in rt.history(case_id)
               if e["type"] == "service.called" and e["data"].get("handler") == "notify"]
    [told] = [n for n in notices if n.get("template") == "延期告知"]
    assert "2026-05-21" in told["text"] and "需协调社保、税务多个部门" in told["text"]
    with container.session_factory() as s:
        rows = s.scalars(select(Outbox).where(Outbox.case_id == case_id, Outbox.template == "extension_notice")).all()
    assert [r.channel for r in rows] == ["sms"]
    page = leader.get(f"/cases/{case_id}/documents/extension.html")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "信访事项延期办理告知书" in text and "2026年5月21日" in text and "第三十四条" in text
    assert leader.get(f"/cases/{case_id}/documents/extension.pdf").status_code == 200

    # nothing fires before the new deadline: not on the old one, not on the old escalation day
    for when in ("2026-05-07T09:00:00", "2026-05-12T09:00:00", "2026-05-21T20:00:00"):
        run_worker_at(container, clock, when)
        assert not fired(rt, case_id, "Task_supervise_handle"), when
        assert not fired(rt, case_id, "Script_overdue_escalate"), when
    # and both fire after it: supervision the next day, escalation when the written report is overdue
    run_worker_at(container, clock, "2026-05-22T09:00:00")
    assert fired(rt, case_id, "Task_supervise_handle")
    assert not fired(rt, case_id, "Script_overdue_escalate")
    run_worker_at(container, clock, "2026-05-27T09:00:00")
    assert not fired(rt, case_id, "Script_overdue_escalate")
    run_worker_at(container, clock, "2026-05-28T09:00:00")
    assert fired(rt, case_id, "Script_overdue_escalate")
    assert task_named(rt, case_id, "报请县联席会议（1个工作日）").role == "county_office"
    assert rt.verify(case_id).ok


def test_the_approval_has_a_clock_with_a_reminder_and_supervision_of_the_head(app, container, clock):
    rt = container.runtime
    case_id = accepted_case(container)
    rt.complete(task_named(rt, case_id, "办理并拟写答复意见").id, {
        "handle_action": "申请延期", "extension_days": 10, "extension_reason": "需现场核查"}, actor="handler")
    run_worker_at(container, clock, "2026-03-03T09:00:00")
    assert fired(rt, case_id, "Task_remind_extension_approval") and not rt.get_case(case_id).incidents
    assert not fired(rt, case_id, "Task_supervise_extension_approval")
    run_worker_at(container, clock, "2026-03-06T09:00:00")
    assert fired(rt, case_id, "Task_supervise_extension_approval")
    rows = four_lists.query(four_lists.project(rt.history(case_id)), kind="督办", unit="county_a_hrss")
    [row] = [r for r in rows if r["item"] == "审批延期申请" and r["kind"] == "督办"]
    assert {"unit": "county_a_hrss", "role": "leader"} in row["notified"] and row["status"] == "待反馈"
    [reminded] = [r for r in rows if r["item"] == "审批延期申请" and r["kind"] == "催办"]
    assert reminded["notified"] == [{"unit": "county_a_hrss", "role": "leader"}]  # the head is reminded
    with container.session_factory() as s:
        dues = {json.loads(r.payload).get("due") for r in s.scalars(select(Outbox).where(
            Outbox.case_id == case_id, Outbox.template.in_(("reminder", "supervision_notice"))))}
    assert dues == {"2026-03-05"}  # both name the approval's own due day
    assert task_named(rt, case_id, "审批延期申请")  # supervision does not take the decision away from the head


# ---------------------------------------------------------------- the API: the same rules for every role

def test_no_role_extends_a_statutory_limit_through_the_api_and_a_refusal_changes_nothing(app, container):
    rt = container.runtime
    case_id = accepted_case(container)
    before = journal_length(rt, case_id)
    due = timers(rt, case_id)
    for user in DEMO_ROLES:
        client, headers = api_sign_in(app, user)
        for key in ("Timer_handle_limit", "Timer_handle_escalate"):
            r = client.post(f"/api/cases/{case_id}/deadlines/{key}/extend", json={"days": 30, "reason": "复杂"},
                            headers=headers)
            assert r.status_code == 403, (user, key, r.get_json())
            error = r.get_json()["error"]
            assert error["code"] == "clock_governed" and "申请延期" in error["message"], error
    assert journal_length(rt, case_id) == before and timers(rt, case_id) == due


def test_outside_a_governed_process_only_a_supervising_office_extends_never_the_assessed_unit(app, container):
    rt = container.runtime
    case = rt.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar")
    allowed = {"bureau", "jointmeeting"}
    for user in DEMO_ROLES:
        client, headers = api_sign_in(app, user)
        before = journal_length(rt, case.id)
        r = client.post(f"/api/cases/{case.id}/deadlines/Timer_sign_limit/extend",
                        json={"days": 1, "reason": "督办单位同意"}, headers=headers)
        if user in allowed:
            assert r.status_code == 200, (user, r.get_json())
            assert journal_length(rt, case.id) > before
        else:
            assert r.status_code == 403, (user, r.get_json())
            assert r.get_json()["error"]["code"] == "clock_governed"
            assert journal_length(rt, case.id) == before, user
    handler, hh = api_sign_in(app, "handler")  # the unit holding the work: its own clock
    message = handler.post(f"/api/cases/{case.id}/deadlines/Timer_sign_limit/extend",
                           json={"days": 1, "reason": "x"}, headers=hh).get_json()["error"]["message"]
    assert "本单位" in message


def test_the_clock_stops_nowhere_but_a_rereview_hearing(app, container):
    rt = container.runtime
    case_id = accepted_case(container)
    before = journal_length(rt, case_id)
    for user in DEMO_ROLES:
        client, headers = api_sign_in(app, user)
        r = client.post(f"/api/cases/{case_id}/pause", json={"reason": "等待信访人补充材料"}, headers=headers)
        assert r.status_code == 403, (user, r.get_json())
        assert r.get_json()["error"]["code"] == "clock_governed"
    assert journal_length(rt, case_id) == before and not rt.get_case(case_id).paused


def to_rereview(container, clock, case_id) -> None:
    rt = container.runtime
    rt.complete(task_named(rt, case_id, "办理并拟写答复意见").id, {
        "handle_action": "答复", "outcome": "不予支持", "reply_text": "经调查，企业已支付"}, actor="handler")
    rt.complete(task_named(rt, case_id, "审核销号").id, {"signoff_approved": True}, actor="bureau")
    rt.complete(task_named(rt, case_id, "回访并记录满意度").id, {"rating": "不满意", "rating_channel": "电话回访"},
                actor="registrar")
    clock.set(at("2026-03-20T09:00:00"))
    rt.deliver_message(case_id, "复查申请", {"review_reason": "对处理意见不服"}, "bureau")
    rt.complete(task_named(rt, case_id, "复查并出具复查意见").id, {"review_decision": "维持", "review_opinion": "维持"},
                actor="review_a")
    clock.set(at("2026-04-10T09:00:00"))
    rt.deliver_message(case_id, "复核申请", {"rereview_reason": "对复查意见不服"}, "bureau")
    assert task_named(rt, case_id, "复核并出具复核意见")


def test_during_a_rereview_the_clock_stops_for_the_hearing_with_its_basis(app, container, clock):
    rt = container.runtime
    case_id = accepted_case(container)
    to_rereview(container, clock, case_id)
    for user in DEMO_ROLES:  # the re-review body itself is tested below through the bureau's and admin's rule
        client, headers = api_sign_in(app, user)
        before = journal_length(rt, case_id)
        r = client.post(f"/api/cases/{case_id}/pause", json={"reason": "举行听证"}, headers=headers)
        if user in ("bureau", "admin"):
            assert r.status_code == 200, (user, r.get_json())
            assert client.post(f"/api/cases/{case_id}/resume", json={"reason": "听证结束"},
                               headers=headers).status_code == 200
            continue
        assert r.status_code == 403, (user, r.status_code)  # not theirs to stop
        assert r.get_json()["error"]["code"] == "clock_governed"
        assert client.post(f"/api/cases/{case_id}/resume", json={"reason": "x"}, headers=headers).status_code == 403
        assert journal_length(rt, case_id) == before, user
    review, hr = api_sign_in(app, "review_city")  # the re-review body holding the hearing
    assert review.post(f"/api/cases/{case_id}/pause", json={"reason": "举行听证"}, headers=hr).status_code == 200
    assert review.post(f"/api/cases/{case_id}/resume", json={"reason": "听证结束"}, headers=hr).status_code == 200
    timeline_before = [e for e in rt.history(case_id) if e["type"] == "deadlines.paused"]
    bureau, hb = api_sign_in(app, "bureau")
    assert bureau.post(f"/api/cases/{case_id}/pause", json={"reason": ""}, headers=hb).status_code == 422
    r = bureau.post(f"/api/cases/{case_id}/pause", json={"reason": "复核举行听证"}, headers=hb)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["paused"] is True
    [event] = [e for e in rt.history(case_id) if e["type"] == "deadlines.paused"][len(timeline_before):]
    assert "第三十六条" in event["data"]["basis"] and event["actor"] == "bureau"
    assert [d["element_id"] for d in event["data"]["deadlines"]] == ["Timer_rereview_limit"]
    clock.set(at("2026-04-14T09:00:00"))
    r = bureau.post(f"/api/cases/{case_id}/resume", json={"reason": "听证结束"}, headers=hb)
    assert r.status_code == 200, r.get_json()
    assert timers(rt, case_id)["Timer_rereview_limit"] == "2026-05-15"  # 30 days from 04-10, 4 of them stopped
    timeline = bureau.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "第三十六条" in timeline
    assert rt.verify(case_id).ok


# ---------------------------------------------------------------- the administrator's correction

def test_only_an_admin_corrects_a_deadline_with_a_reason_as_a_journaled_act(app, container):
    rt = container.runtime
    case_id = accepted_case(container)
    before = journal_length(rt, case_id)
    body = {"due_date": "2026-05-08", "reason": "受理日期录入错误，按送达回证更正"}
    for user in DEMO_ROLES[:-1]:
        client, headers = api_sign_in(app, user)
        r = client.post(f"/api/cases/{case_id}/deadlines/Timer_handle_limit/correct", json=body, headers=headers)
        assert r.status_code == 403, (user, r.get_json())
    admin, ha = api_sign_in(app, "admin")
    for bad in ({"due_date": "2026-05-08", "reason": " "}, {"due_date": "5月8日", "reason": "录入错误"}):
        r = admin.post(f"/api/cases/{case_id}/deadlines/Timer_handle_limit/correct", json=bad, headers=ha)
        assert r.status_code == 422, r.get_json()
    assert journal_length(rt, case_id) == before and timers(rt, case_id)["Timer_handle_limit"] == "2026-05-06"

    r = admin.post(f"/api/cases/{case_id}/deadlines/Timer_handle_limit/correct", json=body, headers=ha)
    assert r.status_code == 200, r.get_json()
    assert timers(rt, case_id)["Timer_handle_limit"] == "2026-05-08"
    assert due_day(task_named(rt, case_id, "办理并拟写答复意见").due_at) == "2026-05-08"  # the work item follows
    [event] = [e for e in rt.history(case_id) if e["type"] == "deadline.corrected"]
    assert event["actor"] == "admin" and event["element_id"] == "Timer_handle_limit"
    assert event["data"]["reason"] == body["reason"]
    assert (due_day(event["data"]["old_due_at"]), due_day(event["data"]["new_due_at"])) == ("2026-05-06", "2026-05-08")
    page = admin.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "更正时限" in page and body["reason"] in page
    assert rt.verify(case_id).ok
