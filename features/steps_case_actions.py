"""Steps for case_actions.feature: the case page's actions (督办, 重试, 更正时限) through the pages a handler uses,
their confirmation pages, the refusals, and the journal entries they leave."""
from __future__ import annotations

import re

from pytest_bdd import given, parsers, then, when

from features.steps_petition import _register
from tests.support.web import csrf_of

ACTIONS = {"督办": "supervise", "重试": "retry", "更正时限": "correct", "暂停计时": "pause", "移交": "handover"}
JOURNALED = {"督办": "case.supervised", "重试": "incident.retried"}


def _offered(office, user) -> set[str]:
    client, _ = office.client(user)
    html = client.get(f"/cases/{office.case_id}").get_data(as_text=True)
    return set(re.findall(r'id="action-(\w+)"', html))


def _history(office) -> list[dict]:
    return office.get("auditor", f"/api/cases/{office.case_id}/history").get_json()["events"]


@given("一件事项在核定责任单位时因协办单位不在组织机构中而故障")
def case_in_incident(office, registered):
    _register(office, registered, "来信", "劳动社保", "county_a")
    task = next(t for t in office.get("registrar", "/api/tasks").get_json()["tasks"]
                if t["case_id"] == office.case_id and t["name"] == "分流研判")
    # the engine takes what the form would refuse: a co-unit the organisation does not have
    office.c.runtime.complete(task["id"], {"route": "交办转送", "co_units": ["no_such_unit"]}, "registrar")
    assert office.c.runtime.get_case(office.case_id).status == "incident"


@then(parsers.parse('案件页为 "{user}" 提供 "{action}"'))
def offered(office, user, action):
    assert ACTIONS[action] in _offered(office, user)


@then(parsers.parse('案件页不为 "{user}" 提供 "{action}"'))
def not_offered(office, user, action):
    assert ACTIONS[action] not in _offered(office, user)
    client, _ = office.client(user)
    assert client.get(f"/cases/{office.case_id}/actions/{ACTIONS[action]}").status_code == 403


@when(parsers.parse('"{user}" 在案件页打开 "{action}"'))
def open_confirmation(office, user, action):
    client, _ = office.client(user)
    r = client.get(f"/cases/{office.case_id}/actions/{ACTIONS[action]}")
    assert r.status_code == 200, r.status_code
    office.confirmation = (user, ACTIONS[action], r.get_data(as_text=True))
    office.history_before = len(_history(office))


@then(parsers.parse('确认页写明 "{words}"'))
def confirmation_says(office, words):
    assert words in office.confirmation[2]
    assert len(_history(office)) == office.history_before  # opening it did nothing


@when(parsers.parse('"{user}" 确认，理由 "{reason}"'))
def confirm(office, user, reason):
    who, action, html = office.confirmation
    assert who == user
    client, _ = office.client(user)
    r = client.post(f"/cases/{office.case_id}/actions/{action}", data={"reason": reason, "csrf_token": csrf_of(html)})
    assert r.status_code == 302 and r.headers["Location"].endswith("#timeline"), r.status_code


@when(parsers.parse('"{user}" 直接提交 "{action}"，理由 "{reason}"'))
def post_anyway(office, user, action, reason):
    client, _ = office.client(user)
    token = csrf_of(client.get(f"/cases/{office.case_id}").get_data(as_text=True))
    office.history_before = len(_history(office))
    office.last_response = client.post(f"/cases/{office.case_id}/actions/{ACTIONS[action]}",
                                       data={"reason": reason, "csrf_token": token, "key": "handling",
                                             "due_date": "2026-04-30"})


@then("操作被拒绝，案件的办理记录不变")
def refused(office):
    assert office.last_response.status_code == 403, office.last_response.status_code
    assert len(_history(office)) == office.history_before


@then(parsers.parse('督办清单中有本件对 "{unit}" 的督办，状态为 "{status}"'))
def in_supervision_register(office, unit, status):
    rows = office.get("bureau", f"/api/registers/supervision?unit={unit}").get_json()["rows"]
    mine = [r for r in rows if r["case_id"] == office.case_id]
    assert len(mine) == 1 and mine[0]["data"]["status"] == status and mine[0]["status"] == "open", rows


def _journaled(office, user, action) -> list[dict]:
    found = [e for e in _history(office) if e["type"] == JOURNALED[action] and e["actor"] == user]
    assert found, [e["type"] for e in _history(office)]
    return found


@then(parsers.parse('办理记录中记有 "{user}" 的 "{action}"，理由 "{reason}"'))
def journaled_with_reason(office, user, action, reason):
    assert _journaled(office, user, action)[-1]["data"].get("reason") == reason


@then(parsers.parse('办理记录中记有 "{user}" 的 "{action}"'))
def journaled(office, user, action):
    _journaled(office, user, action)

