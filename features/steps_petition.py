"""Steps for petition_case.feature: they register cases, do work items, move the clock and read the journal
through the HTTP API, as the office would."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from pytest_bdd import given, parsers, then, when

from engine.clock import SHANGHAI, parse_instant
from engine.worker import Worker
from services import four_lists, parties

PETITIONER = {"name": "张某某", "id_number": "410121198001021234", "phone": "13800001234", "address": "东城县某村"}


@pytest.fixture
def registered():
    """Case numbers registered in this scenario, oldest first."""
    return []


def _register(office, registered, channel, category, location, **extra):
    data = {"channel": channel, "title": "企业拖欠工资三个月", "request": "要求支付拖欠的工资",
            "facts": "在某厂工作，2025年10月起未发工资", "category": category, "location": location,
            "petitioner": dict(PETITIONER), **extra}
    r = office.post("designer", "/api/process-definitions/petition_case/instances", json={"data": data})
    assert r.status_code == 201, r.get_json()
    office.case_id = r.get_json()["id"]
    case = office.get("auditor", f"/api/cases/{office.case_id}").get_json()
    assert not case["incidents"], case["incidents"]
    registered.append(case["data"]["case_no"])
    return case


# ---------------------------------------------------------------- reading the journal

def _history(office):
    return office.get("auditor", f"/api/cases/{office.case_id}/history").get_json()["events"]


def _notices(office) -> list[dict]:
    """Every notice the case's handlers sent, found in their journaled results."""
    found = []

    def walk(value):
        if isinstance(value, dict):
            if "template" in value and "to" in value and "text" in value:
                found.append(value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for event in _history(office):
        if event["type"] == "service.called":
            walk(event["data"].get("result"))
    return found


def _to_petitioner(notice):
    return {"party": "petitioner"} in notice["to"]


def _lists(office):
    return four_lists.project(_history(office))


def _ends(office):
    return [e["data"]["name"] for e in _history(office)
            if e["type"] == "task.completed" and e["data"].get("type") == "EndEvent"]


def _open_tasks(office, user):
    return [t for t in office.get(user, "/api/tasks?scope=unit").get_json()["tasks"]
            if t["case_id"] == office.case_id]


def find_task(office, user, name):
    found = [t for t in _open_tasks(office, user) if t["name"] == name]
    return found[0] if found else None


def _do(office, user, name, data):
    task = find_task(office, user, name)
    assert task is not None, f"{user} has no {name}: {[t['name'] for t in _open_tasks(office, user)]}"
    r = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.get_json()
    assert not r.get_json()["incidents"], r.get_json()["incidents"]


def run_worker(office):
    c = office.c
    Worker(c.runtime, c.session_factory, c.clock).run_once()


# ---------------------------------------------------------------- registration and triage

@when(parsers.parse('登记员登记一件信访事项：信访形式 "{channel}"，内容分类 "{category}"，问题发生地 "{location}"'))
def register(office, registered, channel, category, location):
    _register(office, registered, channel, category, location)


@when(parsers.parse('登记员登记一件群体性、政策性信访事项：信访形式 "{channel}"，内容分类 "{category}"，'
                    '问题发生地 "{location}"'))
def register_group(office, registered, channel, category, location):
    _register(office, registered, channel, category, location, is_group_or_policy=True)


@when(parsers.parse('"{user}" 把它作为重复信访并入上一件，原件承办单位 "{unit}"'))
def triage_repeat(office, registered, user, unit):
    assert len(registered) >= 2, "register the original first"
    _do(office, user, "分流研判", {"route": "重复信访", "original_case_no": registered[-2], "original_unit": unit})


@given(parsers.parse('已有一件 "{category}" 事项交办到 "{unit}"'))
def an_earlier_case(office, registered, category, unit):
    _register(office, registered, "来信", category, "county_a")
    _do(office, "registrar", "分流研判", {"route": "交办转送"})
    assert any(t["unit"] == unit for t in office.get("auditor", "/api/tasks?scope=all").get_json()["tasks"]
               if t["case_id"] == office.case_id)


@given(parsers.parse('一件 "{category}" 事项已由 "{user}" 签收并受理'))
def accepted_case(office, registered, category, user):
    _register(office, registered, "来信", category, "county_a")
    _do(office, "registrar", "分流研判", {"route": "交办转送"})
    _do(office, user, "签收或提出异议", {"sign_decision": "签收"})
    _do(office, user, "作出受理决定", {"accepted": True, "acceptance_note": "依法受理"})


@given(parsers.parse('一件 "{category}" 事项已由 "{user}" 签收并受理，研判时指定协办单位 {co_units}'))
def accepted_case_with_co_units(office, registered, category, user, co_units):
    _register(office, registered, "来信", category, "county_a")
    _do(office, "registrar", "分流研判", {"route": "交办转送", "co_units": json.loads(co_units)})
    _do(office, user, "签收或提出异议", {"sign_decision": "签收"})
    _do(office, user, "作出受理决定", {"accepted": True, "acceptance_note": "依法受理"})


@then(parsers.parse('案件的协办意见中有 "{unit}" 的意见 "{words}"'))
def co_opinion_recorded(office, unit, words):
    data = office.get("auditor", f"/api/cases/{office.case_id}").get_json()["data"]
    assert any(o["unit"] == unit and words in o["opinion"] for o in data["co_opinions"]), data.get("co_opinions")


@given(parsers.parse('这件事项已书面答复、审核销号并回访，处理意见为 "{outcome}"'))
def replied_and_closed(office, outcome):
    _do(office, "handler", "办理并拟写答复意见", {"handle_action": "答复", "outcome": outcome,
                                              "reply_text": "经调查，企业已按最低工资标准支付"})
    _do(office, "bureau", "审核销号", {"signoff_approved": True})
    _do(office, "registrar", "回访并记录满意度", {"rating": "不满意", "rating_channel": "电话回访"})
    _do(office, "bureau", "不满意回访（解释说明或重新办理）",  # the assigning office's follow-up of a 不满意
        {"revisit_decision": "解释说明", "revisit_note": "已向信访人解释处理意见的依据，并告知可以请求复查"})


# ---------------------------------------------------------------- what the petitioner and the offices receive

@then(parsers.parse('信访件编号以 "{prefix}" 开头，不含信访人的证件号码和电话'))
def case_number(office, registered, prefix):
    case_no = registered[-1]
    assert case_no.startswith(prefix) and len(case_no) == len("XF4101212026030201000001"), case_no
    for digits in (PETITIONER["id_number"], PETITIONER["phone"], PETITIONER["id_number"][-6:],
                   PETITIONER["phone"][-4:]):
        assert digits not in case_no


@then(parsers.parse('信访人收到 "{template}"'))
def petitioner_notified(office, template):
    notices = [n for n in _notices(office) if n["template"] == template and _to_petitioner(n)]
    assert notices, [(n["template"], n["to"]) for n in _notices(office)]
    assert "{" not in notices[-1]["text"], notices[-1]["text"]  # every field of the template was filled


def _outbox(office) -> list[dict]:
    """The case's rows in the outbox (what the delivery worker will send), oldest first."""
    from sqlalchemy import select

    from engine.store import Outbox

    with office.c.session_factory() as s:
        rows = s.scalars(select(Outbox).where(Outbox.case_id == office.case_id).order_by(Outbox.id)).all()
        # a petitioner's row names the party; the phone is opened as the delivery opens it (issue #23)
        return [{"channel": r.channel, "recipient": parties.contact_phone(s, office.c.extras["vault"], r.recipient),
                 "stored_recipient": r.recipient, "template": r.template,
                 "data": json.loads(r.payload), "status": r.status} for r in rows]


@then(parsers.parse('信访人的短信副本 "{template}" 已写入发件箱，文中没有证件号码'))
def petitioner_sms_in_outbox(office, template):
    effects = [e["data"] for e in _history(office) if e["type"] == "effect.notify"]
    hits = [e for e in effects if e["payload"]["template"] == template and e["payload"]["channel"] == "sms"]
    assert hits, effects
    assert PETITIONER["phone"] not in json.dumps(hits[-1], ensure_ascii=False)  # the journal shows it masked
    rows = [r for r in _outbox(office) if r["template"] == template and r["channel"] == "sms"]
    assert rows and rows[-1]["recipient"] == PETITIONER["phone"], rows
    assert PETITIONER["id_number"] not in json.dumps(rows[-1]["data"], ensure_ascii=False)


@then(parsers.parse('发件箱中有给 {users} 的站内通知 "{template}"，事项是 "{label}"'))
def office_inbox(office, users, template, label):
    """Reminders and supervision notices reach the users holding the role in the unit (and its head)."""
    rows = [r for r in _outbox(office) if r["template"] == template and r["channel"] == "inapp"
            and label in json.dumps(r["data"], ensure_ascii=False)]
    assert sorted({r["recipient"] for r in rows}) == sorted(json.loads(users)), _outbox(office)
    templates = office.c.extras["notification_templates"]
    for r in rows:  # every field the template needs is there: the worker will not dead-letter it
        text = templates.render(template, templates.latest(template), r["data"]).body
        assert label in text and "{" not in text, text


@then(parsers.parse('发件箱中的 "{template}" 写明到期日 "{due}"'))
def outbox_due(office, template, due):
    rows = [r for r in _outbox(office) if r["template"] == template]
    assert rows and rows[-1]["data"]["due"] == due, rows


@then(parsers.parse('发件箱中没有 "{template}"'))
def outbox_without(office, template):
    assert not [r for r in _outbox(office) if r["template"] == template], _outbox(office)


@then(parsers.parse('信访人没有收到 "{template}"'))
def petitioner_not_notified(office, template):
    assert not [n for n in _notices(office) if n["template"] == template and _to_petitioner(n)]


@then(parsers.parse('单位 "{unit}" 收到 "{template}"'))
def unit_notified(office, unit, template):
    notices = [n for n in _notices(office) if n["template"] == template
               and any(to.get("unit") == unit for to in n["to"])]
    assert notices, [(n["template"], n["to"]) for n in _notices(office)]


@then(parsers.parse('单位 "{unit}" 收到对 "{task}" 的 "{kind}"'))
def unit_supervised(office, unit, task, kind):
    rows = four_lists.query(_lists(office), kind="督办", unit=unit)
    hits = [r for r in rows if r["kind"] == kind and r["item"] == task]
    assert hits, rows
    assert {"unit": unit, "role": "unit_handler"} in hits[0]["notified"] or \
        any(to["unit"] == unit for to in hits[0]["notified"])


@then(parsers.parse('单位 "{unit}" 及其负责人收到对 "{task}" 的 "{kind}"'))
def unit_and_head_supervised(office, unit, task, kind):
    rows = four_lists.query(_lists(office), kind="督办", unit=unit)
    hits = [r for r in rows if r["kind"] == kind and r["item"] == task]
    assert hits, rows
    assert {"unit": unit, "role": "leader"} in hits[0]["notified"], hits[0]["notified"]
    # a 督办 awaits the unit's written feedback; a joint meeting's 挂牌督办 is listed until the office removes it
    assert hits[0]["status"] == ("挂牌督办" if kind == "挂牌督办" else "待反馈")


@then("案件记录中没有督办")
def no_supervision(office):
    assert not [r for r in _lists(office) if r["list"] == "督办" and r["kind"] == "督办"]


# ---------------------------------------------------------------- the four lists

@then(parsers.parse('化解责任清单中有单位 "{unit}" 的一件 "{status}" 事项'))
def resolution_row(office, unit, status):
    rows = four_lists.query(_lists(office), kind="化解", unit=unit, status=status)
    assert len(rows) == 1, _lists(office)


@then(parsers.parse('督办责任清单中有单位 "{unit}" 的 {n:d} 条 "{kind}" 记录'))
def supervision_rows(office, unit, n, kind):
    rows = [r for r in four_lists.query(_lists(office), kind="督办", unit=unit) if r["kind"] == kind]
    assert len(rows) == n, rows


@then(parsers.parse('领导包案清单中有领导 "{leader}" 包案的事项，化解专班 {members}'))
def leader_row(office, leader, members):
    [row] = four_lists.query(_lists(office), kind="包案", leader=leader)
    assert row["task_force"] == json.loads(members) and row["open"]


@then(parsers.parse('领导包案清单中领导 "{leader}" 的事项已销号'))
def leader_row_closed(office, leader):
    [row] = four_lists.query(_lists(office), kind="包案", leader=leader)
    assert row["status"] == "已化解" and not row["open"]


@then(parsers.parse('稳控责任清单中记录单位 "{unit}" 和领导 "{leader}" 的责任，不含信访人的任何信息'))
def stabilisation_row(office, unit, leader):
    [row] = four_lists.query(_lists(office), kind="稳控", unit=unit, leader=leader)
    text = json.dumps(row, ensure_ascii=False)
    for value in PETITIONER.values():
        assert value not in text
    assert not four_lists.FORBIDDEN_FIELDS & set(row)


@then("没有转送交办任何单位")
def nothing_dispatched(office):
    assert not [r for r in _lists(office) if r["list"] == "化解"]
    assert not office.get("auditor", f"/api/cases/{office.case_id}").get_json()["tasks"]


# ---------------------------------------------------------------- tasks, clock, messages, outcome

@then(parsers.parse('"{user}" 的待办中没有 "{name}"'))
def has_no_task(office, user, name):
    assert find_task(office, user, name) is None


@then(parsers.parse('"{user}" 的待办中有 "{name}"，无期限'))
def has_task_without_due(office, user, name):
    task = find_task(office, user, name)
    assert task is not None and task["due_at"] is None


@when(parsers.parse('时间来到 "{when}"'))
def clock_to(office, when):
    r = office.post("designer", "/api/clock", json={"now": parse_instant(when).isoformat()})
    assert r.status_code == 200, r.get_json()


@when(parsers.parse('时间来到 "{when}"，定时任务处理到期事项'))
def clock_to_and_run(office, when):
    clock_to(office, when)
    run_worker(office)


@when(parsers.parse('信访人请求{kind}，由 "{user}" 登记'))
def petitioner_requests(office, kind, user):
    r = office.post(user, f"/api/cases/{office.case_id}/messages/{kind}申请",
                    json={"payload": {f"{'review' if kind == '复查' else 'rereview'}_reason": "对处理意见不服"}})
    assert r.status_code == 200, r.get_json()


@then(parsers.parse('案件结束于 "{end}"'))
def ended_at(office, end):
    assert end in _ends(office), _ends(office)


@then(parsers.parse('案件仍在办理，未结束于 "{end}"'))
def not_ended_at(office, end):
    assert end not in _ends(office)
    assert office.get("auditor", f"/api/cases/{office.case_id}").get_json()["status"] == "waiting"


@then("案件没有故障")
def no_incident(office):
    case = office.get("auditor", f"/api/cases/{office.case_id}").get_json()
    assert not case["incidents"], case["incidents"]


def _due_date(iso: str) -> str:
    return (datetime.fromisoformat(iso) - timedelta(microseconds=1)).astimezone(SHANGHAI).date().isoformat()


@then(parsers.parse('"{user}" 的待办 "{name}" 期限仍是 "{due}"'))
def task_due_still(office, user, name, due):
    task = find_task(office, user, name)
    assert task is not None and _due_date(task["due_at"]) == due, task


@then(parsers.parse('案件状态是 "{status}"'))
def case_status_seen_by_auditor(office, status):
    """Read as the auditor: a case on the confidential discipline track is hidden even from designers."""
    assert office.get("auditor", f"/api/cases/{office.case_id}").get_json()["status"] == status


@then(parsers.parse('案件的主办单位是 "{lead}"，协办单位是 {co_units}'))
def lead_and_co_units(office, lead, co_units):
    data = office.get("auditor", f"/api/cases/{office.case_id}").get_json()["data"]
    assignment = data["assignment"]
    assert (assignment["unit"], assignment["lead_unit"]) == (lead, lead)
    assert [c["unit"] for c in assignment["co_units"]] == json.loads(co_units)
    assert resolution_rows_for(office, lead)


def resolution_rows_for(office, unit):
    return four_lists.query(_lists(office), kind="化解", unit=unit)


@then(parsers.parse('案件有故障，原因提到 "{words}"'))
def incident_mentions(office, words):
    case = office.get("auditor", f"/api/cases/{office.case_id}").get_json()
    assert case["incidents"] and any(words in json.dumps(i, ensure_ascii=False) for i in case["incidents"]), case



@then(parsers.parse('"{user}" 的待办中又有 "{name}"'))
def has_task_again(office, user, name):
    """The work comes back (after the joint meetings' decision): say what is open instead if it does not."""
    if find_task(office, user, name) is None:
        case = office.get("auditor", f"/api/cases/{office.case_id}").get_json()
        pytest.fail(f"{user} has no {name}; open: {[(t['name'], t['unit']) for t in case['tasks']]}; "
                    f"ended: {_ends(office)}; incidents: {case['incidents']}")
