"""Steps for route_outs.feature: 诉访分离 to a channel of the route-out list (at triage and at acceptance) with its
告知书 and the figures, the later petition recognised at registration, and 越级访 sent to the competent office.
Through the HTTP API and the pages, as the office would."""
from __future__ import annotations

import json
import re

from pytest_bdd import parsers, then, when

from features.steps_petition import PETITIONER, find_task
from services import documents

READER = "bureau"  # the city bureau: sees the cases of the city's units and their figures


@then(parsers.parse('案件的 "{title}" 写明 "{first}" 和 "{second}"'))
def document_says(office, title, first, second):
    kind = next(k for k, t in documents.kinds().items() if t == title)
    r = office.get(READER, f"/cases/{office.case_id}/documents/{kind}.html")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    text = r.get_data(as_text=True)
    assert first in text and second in text, text[-2000:]


def _kpis(office) -> dict:
    r = office.get(READER, "/api/stats?period=2026-03&live=1")
    assert r.status_code == 200, r.get_json()
    return {k["key"]: k for k in r.get_json()["kpis"]}


@then(parsers.parse('本月统计中 "{key}" 是 {n:d} 件，"{other}" 是 {m:d} 件'))
def figures(office, key, n, other, m):
    kpis = _kpis(office)
    assert kpis[key]["numerator"] == n and kpis[key]["definition"], kpis[key]
    assert kpis[other]["numerator"] == m, kpis[other]
    if n:  # the case of the scenario is the one behind the figure
        assert office.case_id in kpis[key]["case_ids"], kpis[key]


@when("同一信访人就同一事项再次来访，登记前查重")
def check_repeats(office):
    form = {"channel": "来访", "title": "企业拖欠工资三个月", "request": "要求支付拖欠的工资",
            "facts": "在某厂工作，2025年10月起未发工资", "category": "劳动社保", "location": "county_a",
            "petitioner": dict(PETITIONER)}
    r = office.post("registrar", "/api/cases/repeats", json=form)
    assert r.status_code == 200, r.get_json()
    office.last_response = r.get_json()["repeats"]


@then(parsers.parse('查重结果提示原件已导入 "{channel}" 途径，再次告知信访人向 "{body}" 提出'))
def repeat_names_route_out(office, registered, channel, body):
    hits = [c for c in office.last_response if c["case_no"] == registered[-1]]
    assert hits, office.last_response
    assert hits[0]["routed_out"]["channel_name"] == channel and hits[0]["routed_out"]["unit_name"] == body, hits
    assert any(body in why and "再次告知" in why for why in hits[0]["reasons"]), hits[0]["reasons"]


@then(parsers.parse('"{user}" 提交 "{name}" {data} 被拒绝，提示 "{words}"'))
def submission_refused(office, user, name, data, words):
    task = find_task(office, user, name)
    assert task is not None, f"{user} has no {name}"
    r = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": json.loads(data)})
    assert r.status_code == 422, r.get_json()
    assert words in json.dumps(r.get_json(), ensure_ascii=False), r.get_json()
    assert find_task(office, user, name) is not None  # still to do


@then(parsers.parse('"{user}" 的 "{name}" 表单上写明越级访提示 "{words}"'))
def form_shows_skip_level(office, user, name, words):
    task = find_task(office, user, name)
    assert task is not None, f"{user} has no {name}"
    r = office.get(user, f"/tasks/{task['id']}")
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "越级访提示" in text and words in text and "第二十条" in text, text[-3000:]


@then(parsers.parse('"{user}" 不能以 {data} 办理登记员的 "{name}"'))
def not_theirs(office, user, data, name):
    task = find_task(office, "registrar", name)
    assert task is not None and find_task(office, user, name) is None
    r = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": json.loads(data)})
    assert r.status_code in (403, 404), r.get_json()
    assert find_task(office, "registrar", name) is not None  # untouched: the registrar still decides


@then(parsers.parse('案件页面的 "{label}" 写明 "{words}"'))
def case_page_says(office, label, words):
    r = office.get(READER, f"/cases/{office.case_id}")
    text = r.get_data(as_text=True)
    found = re.search(rf"<dt>{re.escape(label)}</dt><dd[^>]*>(.*?)</dd>", text, re.DOTALL)
    assert r.status_code == 200 and found and words in found.group(1), found.group(0) if found else text[:3000]
