"""Steps for second_assignment.feature (二次交办 and the chain of assignment): through the HTTP API and the case
page, as the county petition office and the handling unit would."""
from __future__ import annotations

from datetime import datetime, timedelta

from pytest_bdd import parsers, then, when

from engine.clock import SHANGHAI

SECOND_TASK = "自办或二次交办"


def _tasks(office, user):
    return [t for t in office.get(user, "/api/tasks?scope=unit").get_json()["tasks"] if t["case_id"] == office.case_id]


def _task(office, user, name):
    found = [t for t in _tasks(office, user) if t["name"] == name]
    assert found, f"{user} has no {name}: {[t['name'] for t in _tasks(office, user)]}"
    return found[0]


def _case(office):
    return office.get("auditor", f"/api/cases/{office.case_id}").get_json()


def _day(iso: str) -> str:
    """The due day a due instant names (it is stored as 00:00 of the next day)."""
    return (datetime.fromisoformat(iso).astimezone(SHANGHAI) - timedelta(microseconds=1)).date().isoformat()


@when(parsers.parse('"{user}" 把事项二次交办给 "{unit}"，交办意见 "{note}"'))
def pass_on_with_note(office, user, unit, note):
    task = _task(office, user, SECOND_TASK)
    r = office.post(user, f"/api/tasks/{task['id']}/complete",
                    json={"data": {"second_decision": "二次交办", "second_unit": unit, "second_note": note}})
    assert r.status_code == 200, r.get_json()
    assert not r.get_json()["incidents"], r.get_json()["incidents"]


@when(parsers.parse('"{user}" 把事项二次交办给 "{unit}"'))
def pass_on(office, user, unit):
    task = _task(office, user, SECOND_TASK)
    office.last_response = office.post(user, f"/api/tasks/{task['id']}/complete",
                                       json={"data": {"second_decision": "二次交办", "second_unit": unit}})


@then(parsers.parse('提交被拒绝（422），提示 "{words}"，可选单位有 "{a}" 和 "{b}"，没有 "{absent}"'))
def refused_with_units(office, words, a, b, absent):
    r = office.last_response
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    [field] = [d for d in error["details"] if d["field"] == "second_unit"]
    assert words in field["message"], field
    codes = {u["code"] for u in field["units"]}
    names = {u["name"] for u in field["units"]}
    assert {a, b} <= codes and absent not in codes, codes
    assert "东城县人力资源和社会保障局" in names and all(u["name"] for u in field["units"])
    assert a in field["message"]  # the message itself names the valid units (name and code)


@then(parsers.parse('"{other}" 不能办理 "{user}" 的待办 "{name}"'))
def other_refused(office, other, user, name):
    task = _task(office, user, name)
    assert not [t for t in _tasks(office, other) if t["id"] == task["id"]]
    r = office.post(other, f"/api/tasks/{task['id']}/complete",
                    json={"data": {"second_decision": "二次交办", "second_unit": "county_a_hrss"}})
    assert r.status_code == 403, r.get_json()


@then(parsers.parse('案件的期限中有 "{label}"，{days:d} 日，自 "{start}" 起，到期日 "{due}"'))
def deadline_listed(office, label, days, start, due):
    found = [d for d in _case(office)["deadlines"] if d["label"] == label]
    assert found, [d["label"] for d in _case(office)["deadlines"]]
    d = found[0]
    assert d["days"] == days and d["day_type"] == "days", d
    assert datetime.fromisoformat(d["start"]).astimezone(SHANGHAI).date().isoformat() == start
    assert _day(d["due_at"]) == due


@then(parsers.parse('案件的交办链是 "{text}"'))
def chain_is(office, text):
    chain = _case(office)["assignment_chain"]
    shown, previous = "", None
    for link in chain:  # a link that does not start where the last one ended starts a new segment
        if previous is None or link["from"] != previous:
            shown += ("；" if shown else "") + link["from_name"]
        shown += f" -{link['type']}-> {link['to_name']}"
        previous = link["to"]
    assert shown == text, chain
    assert all(link["at"] for link in chain)
    history = office.get("auditor", f"/api/cases/{office.case_id}/history").get_json()["events"]
    dispatched = [e for e in history if e["type"] == "service.called" and e["data"]["handler"] == "dispatch_case"]
    assert len(dispatched) == len(chain)  # the chain is the journal's, link for link


@then(parsers.parse('案件页的交办链卡片列出 "{a}" 和 "{b}"，方式 "{kind}"'))
def chain_card(office, a, b, kind):
    html = office.get("county", f"/cases/{office.case_id}").get_data(as_text=True)
    start = html.index('id="assignment-chain"')
    card = html[start:html.index("</section>", start)]
    assert "交办链" in card and a in card and b in card and f'data-type="{kind}"' in card, card
    assert card.index(a) < card.rindex(b)
