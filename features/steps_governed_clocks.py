"""Steps for governed_clocks.feature (issue #17, point 2): the extension path, the approval's clock, and the clock
acts of the API (extend, pause, correct) refused or allowed by the same rules for every role. They drive the HTTP
API; the petition steps (registration, work, time, notices, the four lists) come from steps_petition."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from pytest_bdd import parsers, then, when

from engine.clock import SHANGHAI
from features.steps_petition import _history, find_task


def _due_day(iso: str) -> str:
    return (datetime.fromisoformat(iso) - timedelta(microseconds=1)).astimezone(SHANGHAI).date().isoformat()


def _case(office) -> dict:
    return office.get("auditor", f"/api/cases/{office.case_id}").get_json()


def _deadline_key(office, label: str) -> str:
    """A running deadline by the start of its label (办理期限 → 办理期限（60日，含批准的延期）)."""
    found = [d["key"] for d in _case(office)["deadlines"] if d["label"].startswith(label)]
    assert found, [d["label"] for d in _case(office)["deadlines"]]
    return found[0]


@then(parsers.parse('别的县的领导 "{user}" 不能审批这件延期申请'))
def other_leader_cannot_approve(office, user):
    assert find_task(office, user, "审批延期申请") is None  # not in the other county leader's list
    [item] = [t for t in _case(office)["tasks"] if t["name"] == "审批延期申请"]
    r = office.post(user, f"/api/tasks/{item['id']}/complete",
                    json={"data": {"extension_approved": True, "approved_days": 20}})
    assert r.status_code in (403, 404), r.get_json()
    assert find_task(office, "leader", "审批延期申请") is not None


@then(parsers.parse('"{user}" 提交 "{name}" {data} 被拒绝，提示 "{words}"'))
def submission_refused(office, user, name, data, words):
    task = find_task(office, user, name)
    before = len(_history(office))
    r = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": json.loads(data)})
    assert r.status_code == 422, r.get_json()
    assert any(words in e["message"] for e in r.get_json()["error"]["details"]), r.get_json()
    assert len(_history(office)) == before and find_task(office, user, name) is not None  # nothing lost


@then(parsers.parse('"{user}" 可以打印 "{title}"，其中写明 "{day}" 和 "{reason}"'))
def printable_notice(office, user, title, day, reason):
    client, _ = office.client(user)
    page = client.get(f"/cases/{office.case_id}/documents/extension.html")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert title in text and day in text and reason in text and "第三十四条" in text
    pdf = client.get(f"/cases/{office.case_id}/documents/extension.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"


@then(parsers.parse('办理期限的临期提醒、督办和上交时间都以 "{due}" 为准'))
def derived_timers_follow(office, due):
    handling = [d for d in _case(office)["deadlines"] if d["label"].startswith("办理期限")]
    assert [_due_day(d["due_at"]) for d in handling] == [due]
    days = sorted(_due_day(t["due_at"]) for t in _case(office)["timers"])
    # three timers run, all computed from the new limit: its yellow reminder before it, the limit itself (then
    # supervision), and the escalation once the written report after supervision is overdue
    assert len(days) == 3 and days[0] < due == days[1] < days[2], days


@then("案件没有因逾期提请上交")
def not_escalated(office):
    events = [e for e in _history(office) if e["type"] == "task.completed"]
    assert not [e for e in events if e["data"].get("name") == "超过期限未办结，提请上交"]


@then(parsers.parse('{users} 通过接口把 "{label}" 延长 {days:d} 日都被拒绝，提示 "{words}"'))
def extension_refused_to_all(office, users, label, days, words):
    key = _deadline_key(office, label)
    office.journal_before = len(_history(office))
    for user in [u.strip('"') for u in users.split("、")]:
        r = office.post(user, f"/api/cases/{office.case_id}/deadlines/{key}/extend",
                        json={"days": days, "reason": "案情复杂"})
        assert r.status_code == 403, (user, r.get_json())
        error = r.get_json()["error"]
        assert error["code"] == "clock_governed" and words in error["message"], (user, error)


@then(parsers.parse('案件记录没有变化，"{name}" 的期限仍是 "{due}"'))
def nothing_changed(office, name, due):
    assert len(_history(office)) == office.journal_before
    task = find_task(office, "handler", name)
    assert _due_day(task["due_at"]) == due


@then(parsers.parse('"{user}" 以 "{reason}" 为由暂停计时被拒绝，提示 "{words}"'))
def pause_refused(office, user, reason, words):
    before = len(_history(office))
    r = office.post(user, f"/api/cases/{office.case_id}/pause", json={"reason": reason})
    assert r.status_code == 403, r.get_json()
    assert words in r.get_json()["error"]["message"]
    assert len(_history(office)) == before and not _case(office)["paused"]


@when(parsers.parse('"{user}" 以 "{reason}" 为由暂停计时'))
def pause(office, user, reason):
    r = office.post(user, f"/api/cases/{office.case_id}/pause", json={"reason": reason})
    assert r.status_code == 200, r.get_json()


@then(parsers.parse('暂停计时记入办理记录，依据是 "{words}"'))
def pause_journaled(office, words):
    [event] = [e for e in _history(office) if e["type"] == "deadlines.paused"]
    assert words in event["data"]["basis"] and event["data"]["reason"]
    assert _case(office)["paused"] is True


@when(parsers.parse('"{user}" 在听证结束后恢复计时'))
def resume(office, user):
    r = office.post(user, f"/api/cases/{office.case_id}/resume", json={"reason": "听证结束"})
    assert r.status_code == 200, r.get_json()


@when(parsers.parse('"{user}" 把 "{label}" 更正为 "{day}"，理由是 "{reason}"'))
def correct(office, user, label, day, reason):
    key = _deadline_key(office, label)
    office.journal_before = len(_history(office))
    office.last_response = office.post(user, f"/api/cases/{office.case_id}/deadlines/{key}/correct",
                                       json={"due_date": day, "reason": reason})


@when(parsers.parse('"{user}" 把 "{label}" 更正为 "{day}"，不写理由'))
def correct_without_reason(office, user, label, day):
    correct(office, user, label, day, "")


@then(parsers.parse("更正被拒绝，状态码 {status:d}"))
def correction_refused(office, status):
    assert office.last_response.status_code == status, office.last_response.get_json()
    assert len(_history(office)) == office.journal_before


@then(parsers.parse('案件时间线上有 "{what}"，写明 "{reason}"'))
def on_the_timeline(office, what, reason):
    client, _ = office.client("admin")
    page = client.get(f"/cases/{office.case_id}").get_data(as_text=True)
    assert what in page and reason in page
    [event] = [e for e in _history(office) if e["type"] == "deadline.corrected"]
    assert event["actor"] == "admin" and event["data"]["reason"] == reason
    assert json.dumps(event["data"]["old_due_at"]) != json.dumps(event["data"]["new_due_at"])
