"""Steps for rating_and_revisit.feature: the petitioner's rating window, 未评价, and the assigning office's
follow-up (回访) of a 不满意, through the HTTP API and the task page, as the office works."""
from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from features.steps_petition import PETITIONER, _do, _history, _open_tasks, find_task


@given("这件事项已书面答复并审核销号")
@when("这件事项已书面答复并审核销号")
def replied_and_signed_off(office):
    _do(office, "handler", "办理并拟写答复意见", {"handle_action": "答复", "outcome": "不予支持",
                                              "reply_text": "经调查，企业已按最低工资标准支付"})
    _do(office, "bureau", "审核销号", {"signoff_approved": True})


@then(parsers.parse('案件数据中的评价是 "{rating}"'))
def rating_in_data(office, rating):
    assert office.get("auditor", f"/api/cases/{office.case_id}").get_json()["data"].get("rating") == rating


@then(parsers.parse('"{user}" 不能办理 "{name}"'))
def refused_task(office, user, name):
    task = find_task(office, "bureau", name)
    assert task is not None, [t["name"] for t in _open_tasks(office, "bureau")]
    r = office.post(user, f"/api/tasks/{task['id']}/complete",
                    json={"data": {"revisit_decision": "解释说明", "revisit_note": "由承办单位自行解释"}})
    assert r.status_code == 403, r.get_json()
    assert find_task(office, "bureau", name) is not None  # nothing was lost


@then(parsers.parse('"{user}" 打开 "{name}" 的待办，看到理由 "{words}"'))
def task_page_shows(office, user, name, words):
    task = find_task(office, user, name)
    assert task is not None
    page = office.get(user, f"/tasks/{task['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="decision-facts"' in html and words in html


@then(parsers.parse('办理记录中有 "{user}" 对 "{name}" 的回访决定 "{decision}"'))
def revisit_journaled(office, user, name, decision):
    revisit = find_task_name_elements(office, name)
    events = [e for e in _history(office) if e["type"] == "task.submitted" and e["actor"] == user
              and e["element_id"] in revisit]
    assert [e["data"]["data"]["revisit_decision"] for e in events] == [decision], events
    assert events[0]["data"]["data"]["revisit_note"]


def find_task_name_elements(office, name) -> set[str]:
    """The elements named `name` that ran in this case (the journal names elements, the office names tasks)."""
    return {e["element_id"] for e in _history(office) if e["type"] == "task.completed"
            and (e["data"] or {}).get("name") == name}


def _kpi(office, period, key):
    r = office.get("bureau", f"/api/stats?period={period}&live=1")
    assert r.status_code == 200, r.get_json()
    [kpi] = [k for k in r.get_json()["kpis"] if k["key"] == key]
    return kpi


@then(parsers.parse('"{period}" 的参评率是 {rated:d}/{eligible:d}，满意率是 {satisfied:d}/{ratings:d}'))
def rating_kpis(office, period, rated, eligible, satisfied, ratings):
    participation = _kpi(office, period, "participation_rate")
    assert (participation["numerator"], participation["denominator"]) == (rated, eligible), participation
    satisfaction = _kpi(office, period, "satisfaction_rate")
    assert (satisfaction["numerator"], satisfaction["denominator"]) == (satisfied, ratings), satisfaction


@then(parsers.parse('"{user}" 在 "{name}" 的待办中看到信访人的完整电话，"{other}" 看到的是脱敏的'))
def contact_in_full(office, user, name, other):
    task = find_task(office, user, name)
    assert task is not None
    assert PETITIONER["phone"] in office.get(user, f"/tasks/{task['id']}").get_data(as_text=True)
    case = office.get(other, f"/cases/{office.case_id}").get_data(as_text=True)
    assert PETITIONER["phone"] not in case  # the rule is the holder's, not the office's
