"""Issue #18, point 3: the case page offers its actions (pause for a hearing, resume, retry, correct a deadline,
督办, hand over, where to request an extension) only to the roles the rules allow; each opens a confirmation page
that says what it will do; the confirmed form does it through the same rules and journals it; every other role
neither sees the button nor can post (403), and a refusal changes nothing. Both databases.
"""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from engine.store import Case, CaseRegister, JournalEvent
from tests.integration.test_governed_clocks import accepted_case, at, task_named, to_rereview
from tests.integration.test_incident_repair import bad_co_unit_case
from tests.support.accounts import add_user
from tests.support.web import api_sign_in, csrf_of, office_app, page_sign_in

USERS = ("registrar", "handler", "county", "leader", "bureau", "jointmeeting", "admin", "auditor", "prov_bureau")


@pytest.fixture
def app(container):
    return office_app(container)


@pytest.fixture
def clients(app):
    made: dict = {}

    def client(user):
        if user not in made:
            made[user] = api_sign_in(app, user)
        return made[user]
    return client


def journal(container, case_id, kind):
    with container.session_factory() as s:
        rows = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id, JournalEvent.type == kind)
                         .order_by(JournalEvent.seq)).all()
        return [(r.actor, json.loads(r.data)) for r in rows]


def length(container, case_id) -> int:
    return len(container.runtime.history(case_id))


def offered(app, user, case_id) -> set[str]:
    html = page_sign_in(app, user).get(f"/cases/{case_id}").get_data(as_text=True)
    return set(re.findall(r'id="action-(\w+)"', html))


def confirm_and_post(app, user, case_id, action, form):
    """Open the confirmation page, then post its form with the page's CSRF token: (confirmation html, response)."""
    page = page_sign_in(app, user)
    r = page.get(f"/cases/{case_id}/actions/{action}")
    assert r.status_code == 200, (user, action, r.status_code)
    html = r.get_data(as_text=True)
    return html, page.post(f"/cases/{case_id}/actions/{action}", data=dict(form, csrf_token=csrf_of(html)))


def refused_post(app, user, case_id, action, form) -> int:
    """A user without the action posts it anyway (with a valid token of another page): the status."""
    page = page_sign_in(app, user)
    token = csrf_of(page.get(f"/cases/{case_id}").get_data(as_text=True))
    assert page.get(f"/cases/{case_id}/actions/{action}").status_code == 403
    return page.post(f"/cases/{case_id}/actions/{action}", data=dict(form, csrf_token=token)).status_code


# ---------------------------------------------------------------- 督办

def test_only_the_supervising_office_issues_a_supervision_and_it_starts_the_feedback_case(app, container, clients):
    case_id = accepted_case(container)  # 东城县人社局 handles it, assigned by the 市信访局
    for user in USERS:
        assert ("supervise" in offered(app, user, case_id)) == (user == "bureau"), user
    before = length(container, case_id)
    for user in ("handler", "county", "leader", "admin", "prov_bureau"):
        assert refused_post(app, user, case_id, "supervise", {"reason": "进展缓慢"}) == 403, user
        c, h = clients(user)
        r = c.post(f"/api/cases/{case_id}/supervise", json={"reason": "进展缓慢"}, headers=h)
        assert r.status_code == 403, (user, r.get_json())
    assert length(container, case_id) == before

    html, r = confirm_and_post(app, "bureau", case_id, "supervise", {"reason": "  "})
    assert "将以市信访局名义督办东城县人力资源和社会保障局办理「办理并拟写答复意见」" in html and "理由必填" in html
    assert r.status_code == 302 and length(container, case_id) == before  # no reason: nothing done
    _html, r = confirm_and_post(app, "bureau", case_id, "supervise", {"reason": "信访人多次来电反映进展缓慢"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/cases/{case_id}#timeline")

    [(actor, event)] = journal(container, case_id, "case.supervised")
    assert actor == "bureau" and event["unit"] == "county_a_hrss" and event["office"] == "city_bureau"
    assert event["reason"] == "信访人多次来电反映进展缓慢"
    with container.session_factory() as s:
        feedback = s.get(Case, event["feedback_case_id"])
        assert feedback.parent_case_id == case_id and feedback.process_key == "supervision_feedback"
        row = s.scalars(select(CaseRegister).where(CaseRegister.case_id == case_id,
                                                   CaseRegister.key == event["key"])).one()
        assert row.register == "supervision" and row.unit == "county_a_hrss" and row.status == "open"
    page = page_sign_in(app, "bureau").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "督办东城县人力资源和社会保障局办理「办理并拟写答复意见」" in page and "信访人多次来电反映进展缓慢" in page
    assert 'id="linked-cases"' in page

    # the API does the same, with its own reason check; a second 督办 gets a row of its own
    c, h = clients("bureau")
    assert c.post(f"/api/cases/{case_id}/supervise", json={"reason": ""}, headers=h).status_code == 422
    r = c.post(f"/api/cases/{case_id}/supervise", json={"reason": "再次督办"}, headers=h)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["key"] != event["key"]
    assert len(journal(container, case_id, "case.supervised")) == 2
    assert container.runtime.verify(case_id).ok


# ---------------------------------------------------------------- pause and resume (复核 hearing)

def test_pause_for_a_hearing_is_offered_during_a_rereview_to_the_bureau_and_the_rereview_body(app, container, clock):
    case_id = accepted_case(container)
    for user in USERS:  # before the 复核: nobody may stop the clock
        assert "pause" not in offered(app, user, case_id), user
    to_rereview(container, clock, case_id)
    for user in USERS + ("review_city",):
        assert ("pause" in offered(app, user, case_id)) == (user in ("bureau", "admin", "review_city")), user
    before = length(container, case_id)
    for user in ("handler", "county", "leader", "registrar"):
        assert refused_post(app, user, case_id, "pause", {"reason": "举行听证"}) == 403, user
    assert length(container, case_id) == before and not container.runtime.get_case(case_id).paused

    html, r = confirm_and_post(app, "review_city", case_id, "pause", {"reason": ""})
    assert "将暂停以下期限" in html and "第三十六条" in html and "理由必填" in html
    assert not container.runtime.get_case(case_id).paused
    html, r = confirm_and_post(app, "review_city", case_id, "pause", {"reason": "4月13日举行听证"})
    assert r.status_code == 302 and container.runtime.get_case(case_id).paused
    [(actor, event)] = journal(container, case_id, "deadlines.paused")
    assert actor == "review_city" and event["reason"] == "4月13日举行听证" and "第三十六条" in event["basis"]

    assert "resume" in offered(app, "bureau", case_id) and "resume" not in offered(app, "handler", case_id)
    assert refused_post(app, "handler", case_id, "resume", {"reason": "x"}) == 403
    clock.set(at("2026-04-14T09:00:00"))
    _html, r = confirm_and_post(app, "bureau", case_id, "resume", {"reason": "听证结束"})
    assert r.status_code == 302 and not container.runtime.get_case(case_id).paused
    assert [a for a, _ in journal(container, case_id, "deadlines.resumed")] == ["bureau"]


# ---------------------------------------------------------------- retry, and the admin's repair link

def test_retry_is_offered_to_admins_and_the_bureau_and_admins_get_the_repair_link(app, container, clients):
    case_id = bad_co_unit_case(clients, container)
    for user in ("registrar", "handler", "county", "leader", "jointmeeting", "auditor"):
        assert "retry" not in offered(app, user, case_id), user
    assert "retry" in offered(app, "bureau", case_id) and "retry" in offered(app, "admin", case_id)
    before = length(container, case_id)
    assert refused_post(app, "registrar", case_id, "retry", {}) == 403
    assert length(container, case_id) == before

    html, r = confirm_and_post(app, "bureau", case_id, "retry", {})
    assert "将重新执行以下出错的环节" in html and "no_such_unit" in html
    assert f"/admin/incidents/{case_id}" not in html  # the repair page is the admins'
    assert r.status_code == 302
    assert [a for a, _ in journal(container, case_id, "incident.retried")] == ["bureau"]
    admin_html = page_sign_in(app, "admin").get(f"/cases/{case_id}/actions/retry").get_data(as_text=True)
    assert f"/admin/incidents/{case_id}" in admin_html


# ---------------------------------------------------------------- correct a deadline

def test_only_an_admin_corrects_a_deadline_from_the_case_page_with_a_reason(app, container):
    case_id = accepted_case(container)
    for user in USERS:
        assert ("correct" in offered(app, user, case_id)) == (user == "admin"), user
    assert refused_post(app, "bureau", case_id, "correct", {"key": "Timer_handle_limit", "due_date": "2026-05-08",
                                                            "reason": "录入错误"}) == 403
    html, r = confirm_and_post(app, "admin", case_id, "correct",
                               {"key": "Timer_handle_limit", "due_date": "2026-05-08", "reason": ""})
    assert "原到期日和理由记入办理过程" in html and not journal(container, case_id, "deadline.corrected")
    _html, r = confirm_and_post(app, "admin", case_id, "correct", {"key": "Timer_handle_limit",
                                                                   "due_date": "2026-05-08",
                                                                   "reason": "受理日期录入错误"})
    assert r.status_code == 302
    [(actor, event)] = journal(container, case_id, "deadline.corrected")
    assert actor == "admin" and event["reason"] == "受理日期录入错误"


# ---------------------------------------------------------------- hand over, and where the extension is asked

def test_the_claimer_hands_over_from_the_case_page_and_the_unit_handler_is_pointed_to_the_extension(app, container):
    add_user(container, "handler2", "unit_handler", "county_a_hrss")
    case_id = accepted_case(container)
    rt = container.runtime
    item = task_named(rt, case_id, "办理并拟写答复意见")
    assert "handover" not in offered(app, "handler", case_id)  # nothing claimed yet
    rt.claim(item.id, "handler")
    for user in ("registrar", "jointmeeting", "auditor", "prov_bureau", "handler_b"):
        assert "handover" not in offered(app, user, case_id), user
        page = page_sign_in(app, user)
        assert page.get(f"/cases/{case_id}/actions/handover").status_code == 403, user
    assert "handover" in offered(app, "handler", case_id)
    assert "handover" in offered(app, "county", case_id)  # a supervising office of the unit (visibility.may_hand_over)
    page = page_sign_in(app, "handler")
    html = page.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-action="extension"' in html and f"/tasks/{item.id}" in html  # 申请延期 in the task's form
    other = page_sign_in(app, "bureau").get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-action="extension-note"' in other and 'data-action="extension"' not in other

    html = page.get(f"/cases/{case_id}/actions/handover").get_data(as_text=True)
    assert "现由 handler 办理" in html and 'value="handler2"' in html
    r = page.post(f"/tasks/{item.id}/delegate", data={"to": "handler2", "note": "出差一周",
                                                      "next": f"/cases/{case_id}", "csrf_token": csrf_of(html)})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/cases/{case_id}")
    assert task_named(rt, case_id, "办理并拟写答复意见").assignee == "handler2"
    [(actor, event)] = journal(container, case_id, "work_item.delegated")
    assert actor == "handler"
