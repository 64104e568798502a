"""Steps for deadlines.feature: they read deadlines and task lists through the HTTP API."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from pytest_bdd import parsers, then, when

from engine.clock import SHANGHAI


def _deadline(office, key):
    case = office.get("designer", f"/api/cases/{office.case_id}").get_json()
    found = [d for d in case["deadlines"] if d["key"] == key]
    assert found, f"no deadline {key} in {case['deadlines']}"
    return found[0]


def _date(iso: str) -> str:
    return (datetime.fromisoformat(iso) - timedelta(microseconds=1)).astimezone(SHANGHAI).date().isoformat()


@then(parsers.parse('案件的期限 "{key}" 是 "{due}"，说明中提到 "{words}"'))
def deadline_is(office, key, due, words):
    d = _deadline(office, key)
    assert _date(d["due_at"]) == due
    assert words in d["explanation"], d["explanation"]


@then(parsers.parse('案件的期限 "{key}" 为 "{state}"'))
def deadline_state(office, key, state):
    assert _deadline(office, key)["state"] == state


@then(parsers.parse('"{user}" 的待办 "{name}" 显示为 "{alert}"，剩余 {left:d} 个工作日'))
def task_alert(office, user, name, alert, left):
    tasks = office.get(user, "/api/tasks?scope=unit").get_json()["tasks"]
    [task] = [t for t in tasks if t["name"] == name and t["case_id"] == office.case_id]
    assert (task["alert"], task["workdays_left"]) == (alert, left)


def _task_row(office, user, name) -> tuple[dict, str]:
    """The work item as the API lists it, and its row on the user's task list page as text."""
    tasks = office.get(user, "/api/tasks?scope=unit").get_json()["tasks"]
    [task] = [t for t in tasks if t["name"] == name and t["case_id"] == office.case_id]
    page = office.get(user, "/tasks?scope=unit").get_data(as_text=True)
    task_id = task["id"]
    row = re.search(rf'<tr data-task="{task_id}">.*?</tr>', page, re.DOTALL).group(0)
    return task, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))


@then(parsers.parse('"{user}" 在待办列表中看到 "{name}" 的到期日是 "{day}"'))
def task_due_day(office, user, name, day):
    task, row = _task_row(office, user, name)
    assert day in row, row
    y, m, d = (int(x) for x in re.findall(r"\d+", day))
    assert task["due_date"] == f"{y:04d}-{m:02d}-{d:02d}"


@then(parsers.parse('"{user}" 在待办列表中看到 "{name}" 剩 {n:d} 个工作日'))
def task_days_left(office, user, name, n):
    task, row = _task_row(office, user, name)
    assert f"剩 {n} 个工作日" in row and "已逾期" not in row, row
    assert (task["workdays_left"], task["overdue_workdays"]) == (n, 0)


@then(parsers.parse('"{user}" 在待办列表中看到 "{name}" 已逾期 {n:d} 个工作日'))
def task_days_overdue(office, user, name, n):
    task, row = _task_row(office, user, name)
    assert f"已逾期 {n} 个工作日" in row and "剩 " not in row, row
    assert task["overdue"] and task["overdue_workdays"] == n


@then(parsers.parse('"{user}" 看到单位 "{unit}" 有 {n:d} 件逾期'))
def overdue_list(office, user, unit, n):
    units = office.get(user, "/api/reports/overdue").get_json()["units"]
    assert {"unit": unit, "overdue": n} in units


@when(parsers.parse('"{user}" 暂停计时，理由是 "{reason}"'))
def pause(office, user, reason):
    r = office.post(user, f"/api/cases/{office.case_id}/pause", json={"reason": reason})
    assert r.status_code == 200, r.get_json()


@when(parsers.parse('"{user}" 恢复计时'))
def resume(office, user):
    r = office.post(user, f"/api/cases/{office.case_id}/resume", json={"reason": "材料已补齐"})
    assert r.status_code == 200, r.get_json()


@then("案件记录中没有催办")
def no_reminder(office):
    events = office.get("designer", f"/api/cases/{office.case_id}/history").get_json()["events"]
    assert not [e for e in events if e["type"] == "service.called" and e["data"]["handler"] == "remind"]


@when(parsers.parse('"{user}" 批准期限 "{key}" 延期 {days:d} 日，理由是 "{reason}"'))
def extend(office, user, key, days, reason):
    office.last_response = office.post(user, f"/api/cases/{office.case_id}/deadlines/{key}/extend",
                                       json={"days": days, "reason": reason})


@then(parsers.parse('延期被拒绝，提示不得超过 "{limit}" 日'))
def extension_refused(office, limit):
    r = office.last_response
    assert r.status_code == 422
    assert limit in r.get_json()["error"]["message"]
