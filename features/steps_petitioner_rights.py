"""Steps for petitioner_rights.feature: service dates, the review and re-review windows, requests taken before the
office's sign-off, redo after 撤销/变更, the 不再受理 and escalation notices. They reuse the petition steps."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from pytest_bdd import parsers, then, when

from engine.clock import SHANGHAI
from features.steps_petition import *  # noqa: F401,F403  (the petition steps this feature builds on)
from features.steps_petition import _history, find_task, run_worker


@pytest.fixture
def refusal():
    """The last refused request or form: {"response": ...}."""
    return {}


def _case(office) -> dict:
    return office.get("auditor", f"/api/cases/{office.case_id}").get_json()


@then(parsers.parse('答复意见书的送达记录是 "{day}"，送达方式 "{method}"'))
def reply_service(office, day, method):
    service = _case(office)["data"]["reply_notice"]["service"]
    assert (service["served_on"], service["method"]) == (day, method), service
    assert datetime.fromisoformat(service["served_at"]).astimezone(SHANGHAI).date().isoformat() == day


@then("复查请求已接收，等待流程转入")
def review_request_queued(office):
    queued = [e for e in _history(office) if e["type"] == "message.queued"]
    assert queued and queued[-1]["data"]["name"] == "复查申请", [e["type"] for e in _history(office)]
    assert "review_org" not in _case(office)["data"]


@then("复查请求已转入流程")
def review_request_taken(office):
    history = _history(office)
    queued = [e for e in history if e["type"] == "message.queued"][-1]
    bodies = [e["data"]["result"] for e in history if e["type"] == "service.called"
              and isinstance(e["data"].get("result"), dict) and e["data"]["result"].get("stage") == "复查"]
    # the review body's 30 days run from the moment the request was taken, not from the sign-off
    assert bodies and bodies[-1]["requested_at"] == queued["data"]["payload"]["review_requested_at"], bodies
    assert queued["seq"] < [e for e in history if e["type"] == "task.submitted"][-1]["seq"]


def _taken(office) -> int:
    return len([e for e in _history(office) if e["type"] in ("message.queued", "message.delivered")])


def _request(office, refusal, user, kind):
    refusal["taken_before"] = _taken(office)
    r = office.post(user, f"/api/cases/{office.case_id}/messages/{kind}申请",
                    json={"payload": {"review_reason": "对处理意见不服"}})
    refusal["response"] = r


@when(parsers.parse('信访人再次请求复查，由 "{user}" 登记'))
def request_again(office, refusal, user):
    _request(office, refusal, user, "复查")


@then(parsers.parse('"{user}" 无权登记复查请求'))
def request_not_allowed(office, refusal, user):
    _request(office, refusal, user, "复查")
    assert refusal["response"].status_code == 403, refusal["response"].get_json()
    assert _taken(office) == refusal["taken_before"]


@when(parsers.parse('信访人在答复送达前请求复查，由 "{user}" 登记'))
def request_before_service(office, refusal, user):
    _request(office, refusal, user, "复查")


@when(parsers.parse('信访人在期限外请求复查，由 "{user}" 登记'))
def request_too_late(office, refusal, user):
    _request(office, refusal, user, "复查")


@then(parsers.parse('请求被拒绝，理由提到 "{words}"'))
def request_refused(office, refusal, words):
    r = refusal["response"]
    assert r.status_code == 409, r.get_json()
    assert words in r.get_json()["error"]["message"], r.get_json()
    assert _taken(office) == refusal["taken_before"]  # nothing was taken


@then(parsers.parse('案件的期限 "{key}" 自 "{start}" 起算，到期日是 "{due}"'))
def deadline_from(office, key, start, due):
    [deadline] = [d for d in _case(office)["deadlines"] if d["key"] == key]
    assert datetime.fromisoformat(deadline["start"]).astimezone(SHANGHAI).date().isoformat() == start, deadline
    due_day = (datetime.fromisoformat(deadline["due_at"]) - timedelta(microseconds=1)).astimezone(SHANGHAI).date()
    assert due_day.isoformat() == due, deadline


@when("定时任务处理到期事项")
def worker_runs(office):
    run_worker(office)


@when(parsers.parse('"{user}" 提交 "{name}"，填写 {data}'))
def submit_form(office, refusal, user, name, data):
    task = find_task(office, user, name)
    assert task is not None
    refusal["response"] = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": json.loads(data)})


@then(parsers.parse('表单被拒绝，"{field}" 的提示是 "{words}"'))
def form_refused(office, refusal, field, words):
    r = refusal["response"]
    assert r.status_code == 422, r.get_json()
    hits = [d for d in r.get_json()["error"]["details"] if d["field"] == field]
    assert hits and words in hits[0]["message"], r.get_json()
    assert "reply_notice" not in _case(office)["data"]  # nothing was saved or served


@then(parsers.parse('"{user}" 打开 "{name}" 看到 "{words}"'))
def task_page_shows(office, user, name, words):
    task = find_task(office, user, name)
    assert task is not None
    page = office.get(user, f"/tasks/{task['id']}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="review-basis"' in text and words in text
