"""Steps for triage_override.feature: the registrar reads the routing table's suggestion on the triage form,
chooses units by name through the same endpoint the form's unit picker calls (GET /api/units), and bad units are
refused at submission."""
from __future__ import annotations

import json
import re

from pytest_bdd import parsers, then, when

from features.steps_petition import _history, find_task


def _page_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _unit_by_name(office, user, task_id, typed, name):
    """What the page's unit picker does: search by the typed part of the name, take the unit with that name."""
    r = office.get(user, f"/api/units?scope=routable&task={task_id}&q={typed}")
    assert r.status_code == 200, r.get_json()
    found = [u for u in r.get_json()["units"] if u["name"] == name]
    assert found, f"{name} not offered for {typed!r}: {r.get_json()['units']}"
    return found[0]["code"]


@then(parsers.parse('"{user}" 打开分流研判，看到建议的责任单位 "{unit}"，"{dispatch}"，依据提到 "{words}"'))
def sees_suggestion(office, user, unit, dispatch, words):
    task = find_task(office, user, "分流研判")
    assert task is not None
    r = office.get(user, f"/tasks/{task['id']}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    block = _page_text(html.split('id="routing-suggestion"', 1)[1].split("</div>", 1)[0])
    assert unit in block and dispatch in block and words in block, block
    assert 'data-unit-picker="routable"' in html


@when(parsers.parse('"{user}" 分流研判为交办转送，责任单位按名称选 "{typed}" 中的 "{name}"，协办单位按名称选 "{co_name}"'))
def triage_by_name(office, user, typed, name, co_name):
    task = find_task(office, user, "分流研判")
    unit = _unit_by_name(office, user, task["id"], typed, name)
    co_unit = _unit_by_name(office, user, task["id"], co_name[:4], co_name)
    data = {"route": "交办转送", "responsible_unit": unit, "co_units": [co_unit]}
    r = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.get_json()


@when(parsers.parse('"{user}" 提交 "{name}"，填写 {data}'))
def submit(office, user, name, data):
    task = find_task(office, user, name)
    assert task is not None, f"{user} has no {name}"
    office.last_response = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": json.loads(data)})


@then(parsers.parse('提交被拒绝，提示提到 "{words}"'))
def refused(office, words):
    r = office.last_response
    assert r.status_code == 422, r.get_json()
    assert words in json.dumps(r.get_json(), ensure_ascii=False), r.get_json()


@then(parsers.parse('提交被拒绝，提示提到 "{words}"，可选单位中有 "{listed}"，没有 "{unlisted}"'))
def refused_with_units(office, words, listed, unlisted):
    refused(office, words)
    details = office.last_response.get_json()["error"]["details"]
    valid = [u["name"] for d in details for u in d.get("valid_units", [])]
    assert listed in valid and unlisted not in valid, valid
    assert all("code" in u for d in details for u in d.get("valid_units", []))


@then(parsers.parse('办理记录中核定的责任单位是登记员选定的 "{unit}"，方式是 "{dispatch}"，决策表建议的是 "{suggested}"'))
def journaled_choice(office, unit, dispatch, suggested):
    results = [e["data"].get("result") for e in _history(office) if e["type"] == "service.called"]
    chosen = [r for r in results if isinstance(r, dict) and r.get("lead_unit") == unit]
    assert chosen, results
    assert chosen[0]["dispatch_type"] == dispatch and chosen[0]["chosen_by_registrar"] is True
    assert chosen[0]["suggested"]["unit"] == suggested
    completed = [e for e in _history(office) if e["data"].get("data", {}).get("responsible_unit") == unit]
    assert completed and completed[0].get("actor") == "registrar", completed


@then(parsers.parse('"{user}" 打开 "{name}"，看到办结报告 "{report}"'))
def sees_report(office, user, name, report):
    task = find_task(office, user, name)
    assert task is not None, f"{user} has no {name}"
    html = office.get(user, f"/tasks/{task['id']}").get_data(as_text=True)
    assert 'id="completion-report"' in html
    assert report in _page_text(html.split('id="completion-report"', 1)[1].split("</div>", 1)[0])


@then(parsers.parse('案件页面上写明 "{dispatch}"'))
def case_page_dispatch(office, dispatch):
    html = office.get("bureau", f"/cases/{office.case_id}").get_data(as_text=True)
    assert 'id="dispatch-type"' in html
    assert _page_text(html.split('id="dispatch-type"', 1)[1].split("</dd>", 1)[0]).strip(" >").startswith(dispatch)
