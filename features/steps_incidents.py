"""Steps for incident_repair.feature: a case put into incident through the engine (a co-unit the organisation does
not have), the admins' list, repair, retry and move over the JSON API, the journal and the timeline read back."""
from __future__ import annotations

import dataclasses
import json

import pytest
from pytest_bdd import given, parsers, then, when
from sqlalchemy import func, select

from engine.store import Case, Incident, JournalEvent
from services.case_timeline import timeline
from services.store.parties import Party

PETITION = {
    "channel": "来访", "title": "企业拖欠三个月工资", "category": "劳动社保", "subcategory": "拖欠工资",
    "location": "county_a", "respondent": "某某建筑公司", "facts": "2025年12月起未发工资",
    "request": "要求某某建筑公司支付拖欠的三个月工资",
    "petitioners": [{"name": "张三", "id_number": "410121199001031234", "phone": "13812345678",
                     "address": "东城县人民路1号"}],
}


@pytest.fixture
def answer():
    return {}


def _journal(office, kind):
    with office.c.session_factory() as s:
        return [(r.actor, json.loads(r.data)) for r in s.scalars(
            select(JournalEvent).where(JournalEvent.case_id == office.case_id, JournalEvent.type == kind)
            .order_by(JournalEvent.seq))]


@given(parsers.parse('一件信访事项在分流研判时把协办单位填成了 "{code}"'))
def case_with_bad_co_unit(office, code):
    r = office.post("registrar", "/api/cases", json=PETITION)
    assert r.status_code == 201, r.get_json()
    office.case_id = r.get_json()["id"]
    rt = office.c.runtime
    # through the engine: the triage form itself would refuse an unknown unit
    view = rt.complete(rt.get_case(office.case_id).tasks[0].id, {"route": "交办转送", "co_units": [code]}, "registrar")
    assert view.status == "incident"


@then(parsers.parse('案件处于故障状态，故障案件清单中它的出错环节是 "{step}"，说明含 "{words}"'))
def listed(office, step, words):
    rows = office.get("admin", "/api/admin/incidents").get_json()["incidents"]
    row = next(r for r in rows if r["case_id"] == office.case_id)
    assert row["step"] == step and words in row["plain"], row


@when(parsers.parse('"{user}" 修正数据项 "{key}" 为 「{value}」，理由 "{reason}"'))
def repair(office, answer, user, key, value, reason):
    answer["r"] = office.post(user, f"/api/admin/incidents/{office.case_id}/repair",
                              json={"key": key, "value_json": value, "reason": reason})


@when(parsers.parse('"{user}" 修正数据项 "{key}" 为 「{value}」，理由 "{reason}" 并重试'))
def repair_and_retry(office, answer, user, key, value, reason):
    answer["r"] = office.post(user, f"/api/admin/incidents/{office.case_id}/repair",
                              json={"key": key, "value_json": value, "reason": reason, "retry": True})
    assert answer["r"].status_code == 200, answer["r"].get_json()


@when(parsers.parse('"{user}" 将案件移至 "{name}"，理由 "{reason}"'))
def move(office, answer, user, name, reason):
    steps = office.get("admin", f"/api/admin/incidents/{office.case_id}").get_json()["steps"]
    target = next(st["element_id"] for st in steps if st["name"] == name)
    answer["r"] = office.post(user, f"/api/admin/incidents/{office.case_id}/move",
                              json={"element_id": target, "reason": reason})


@when(parsers.parse('"{user}" 将案件移至 "{name}"，不写理由'))
def move_without_reason(office, answer, user, name):
    move(office, answer, user, name, "")


@when(parsers.parse('"{user}" 重试故障环节'))
def retry(office, answer, user):
    answer["r"] = office.post(user, f"/api/cases/{office.case_id}/incidents/retry", json={})


@then(parsers.parse("操作被拒绝，状态码 {status:d}"))
def refused(answer, status):
    assert answer["r"].status_code == status, answer["r"].get_json()


@then(parsers.parse('操作被拒绝，状态码 {status:d}，提示含 "{words}"'))
def refused_saying(answer, status, words):
    assert answer["r"].status_code == status, answer["r"].get_json()
    assert words in answer["r"].get_json()["error"]["message"], answer["r"].get_json()


@then(parsers.parse('提示含 "{words}"'))
def message_says(answer, words):
    assert words in answer["r"].get_json()["error"]["message"]


@then(parsers.parse('案件继续办理，待办是 "{name}"'))
def goes_on(office, name):
    view = office.c.runtime.get_case(office.case_id)
    assert view.status == "waiting" and [t.name for t in view.tasks] == [name]


@then(parsers.parse('案件日志记录 "{user}" 把 "{key}" 从 「{before}」 改为 「{after}」，理由 "{reason}"'))
def journaled(office, user, key, before, after, reason):
    [(actor, data)] = _journal(office, "incident.data_repaired")
    assert (actor, data["key"], data["reason"]) == (user, key, reason)
    assert data["before"] == json.loads(before) and data["after"] == json.loads(after)


@then("重放案件日志得到与存储一致的状态")
def replays(office):
    check = office.c.runtime.verify(office.case_id)
    assert check.ok, check.reason


@then(parsers.parse('案件时间线中有 "{user}" 的记录 "{text}"，说明含 "{words}"'))
def on_timeline(office, user, text, words):
    entries = timeline(office.c.runtime.history(office.case_id))
    entry = next(e for e in entries if e.text.endswith(text))
    assert entry.actor == user and words in entry.detail


@then(parsers.parse('案件仍处于故障状态，案件日志记录 "{user}" 重试'))
def still_stuck(office, user):
    assert office.c.runtime.get_case(office.case_id).status == "incident"
    assert [actor for actor, _ in _journal(office, "incident.retried")] == [user]


@given(parsers.parse("编号处理程序出错：“{words}”"))
def broken_numbering(office, monkeypatch, words):
    registry = office.c.runtime.handlers

    def fail(arg, ctx):
        raise ValueError(words)

    monkeypatch.setitem(registry._handlers, "issue_case_number",
                        dataclasses.replace(registry.get("issue_case_number"), fn=fail))


@when(parsers.parse('"{user}" 登记一件信访事项'))
def register(office, answer, user):
    answer["r"] = office.post(user, "/api/cases", json=PETITION)


@then("系统中没有任何案件、日志或当事人记录")
def nothing_left(office):
    with office.c.session_factory() as s:
        for table in (Case, JournalEvent, Incident, Party):
            assert s.scalar(select(func.count()).select_from(table)) == 0, table.__name__
