"""Steps for check_clocks.feature: the assigning office's check limits, the redo's own limit and the reason shown
to the unit, 13710 counted from the leader's receipt, one escalation track at a time. Registration, work items
and the clock are the steps of features/steps_petition.py."""
from __future__ import annotations

from pytest_bdd import parsers, then, when

from features.conftest import find_task


def _tasks(office, user, name):
    tasks = office.get(user, "/api/tasks?scope=unit").get_json()["tasks"]
    return [t for t in tasks if t["name"] == name and t["case_id"] == office.case_id]


@then(parsers.parse('"{user}" 的待办中只有 {n:d} 件 "{name}"'))
def only_n_tasks(office, user, n, name):
    everyone = office.get("auditor", "/api/tasks?scope=all").get_json()["tasks"]
    all_of_case = [t for t in everyone if t["name"] == name and t["case_id"] == office.case_id]
    assert len(_tasks(office, user, name)) == n, _tasks(office, user, name)
    assert len(all_of_case) == n, all_of_case


@then(parsers.parse('"{user}" 的待办 "{name}" 显示 "{words}"'))
def task_reads(office, user, name, words):
    task = find_task(office, user, name)
    assert task is not None
    page = office.get(user, "/tasks").get_data(as_text=True)
    assert words in page, page[:2000]
    form = office.get(user, f"/tasks/{task['id']}").get_data(as_text=True)
    assert words in form
    if words.startswith("已逾期"):
        n = int(words.split()[1])
        assert task["alert"] == "red" and task["overdue_workdays"] == n and task["workdays_left"] == 0
        assert "剩 0 个工作日" not in form
        case_page = office.get(user, f"/cases/{office.case_id}").get_data(as_text=True)
        assert words in case_page
        en = office.get(user, f"/tasks/{task['id']}?lang=en").get_data(as_text=True)
        assert f"{n} working days overdue" in en


@then(parsers.parse('"{user}" 的待办 "{name}" 是黄色预警'))
def task_yellow(office, user, name):
    task = find_task(office, user, name)
    assert task is not None and task["alert"] == "yellow", task


@when(parsers.parse('"{user}" 退回重办，未写退回理由'))
def send_back_without_reason(office, user):
    task = find_task(office, user, "审核销号")
    assert task is not None
    office.last_response = office.post(user, f"/api/tasks/{task['id']}/complete",
                                       json={"data": {"signoff_approved": False}})


@then(parsers.parse('提交被拒绝，提示 "{words}"'))
def refused(office, words):
    r = office.last_response
    assert r.status_code in (400, 422), (r.status_code, r.get_json())
    assert words in r.get_data(as_text=True), r.get_json()


@then(parsers.parse('"{user}" 在 "{name}" 的任务页上看到退回理由 "{reason}"'))
def reason_on_task_page(office, user, name, reason):
    task = find_task(office, user, name)
    assert task is not None
    page = office.get(user, f"/tasks/{task['id']}").get_data(as_text=True)
    assert 'id="sent-back"' in page and reason in page
    en = office.get(user, f"/tasks/{task['id']}?lang=en").get_data(as_text=True)
    assert "Sent back for redo" in en and reason in en


@then(parsers.parse('办理记录中记有 "{user}" 退回重办，理由 "{reason}"'))
def redo_journaled(office, user, reason):
    events = office.get("auditor", f"/api/cases/{office.case_id}/history").get_json()["events"]
    redo = [e for e in events if e["type"] == "task.completed" and e["actor"] == user
            and ((e["data"].get("changes") or {}).get("redo") or [None, None])[1]]
    assert redo, [e["type"] for e in events]
    assert redo[-1]["data"]["changes"]["redo"][1]["reason"] == reason
