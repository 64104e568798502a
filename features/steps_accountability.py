"""Steps for accountability.feature: 问责 recorded on a case through the HTTP API by the supervising office, the
unit's written feedback (a linked accountability_feedback case), the reminder, the escalation of a missed
feedback, the four-lists page and the annual per-unit report; and the refusals."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from pytest_bdd import parsers, then, when
from sqlalchemy import select

from engine.clock import SHANGHAI
from engine.store import Outbox


def _record(office, user, unit, kind="约谈", reason="办理不力", person="", limit=None):
    payload = {"unit": unit, "kind": kind, "reason": reason, "person": person}
    if limit is not None:
        payload["limit_days"] = limit
    return office.post(user, f"/api/cases/{office.case_id}/accountability", json=payload)


@when(parsers.parse('"{user}" 对 "{unit}" 记录 "{kind}"，事由 "{reason}"'))
def record(office, user, unit, kind, reason):
    r = _record(office, user, unit, kind, reason)
    assert r.status_code == 201, r.get_json()


@when(parsers.parse('"{user}" 对 "{unit}" 的工作人员 "{person}" 记录 "{kind}"，期限 {days:d} 日，事由 "{reason}"'))
def record_person(office, user, unit, person, kind, days, reason):
    r = _record(office, user, unit, kind, reason, person, days)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["person"] == person


def _records(office):
    r = office.get("bureau", f"/api/cases/{office.case_id}/accountability")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["records"]


def _one(office, unit, kind):
    [row] = [r for r in _records(office) if r["unit"] == unit and r["data"]["kind"] == kind]
    return row


@then(parsers.parse('问责记录中单位 "{unit}" 的 "{kind}" 是 "{status}"，问责单位 "{by}"，由 "{user}" 记录'))
def record_row(office, unit, kind, status, by, user):
    row = _one(office, unit, kind)
    assert row["data"]["status"] == status and row["data"]["by"] == by and row["data"]["recorded_by"] == user, row
    assert row["status"] == "open" and row["data"]["reason"]


@then(parsers.parse('问责记录中单位 "{unit}" 的 "{kind}" 是 "{status}"，反馈于 "{day}"，{timing}'))
def record_filed(office, unit, kind, status, day, timing):
    row = _one(office, unit, kind)
    data = row["data"]
    assert data["status"] == status and data["feedback"], row
    assert datetime.fromisoformat(data["feedback_at"]).astimezone(SHANGHAI).date().isoformat() == day
    assert data["feedback_late"] is (timing == "逾期"), row
    assert row["status"] == "closed"


@then(parsers.parse('问责记录中单位 "{unit}" 的 "{kind}" 是 "{status}"'))
def record_status(office, unit, kind, status):
    row = _one(office, unit, kind)
    assert row["data"]["status"] == status, row
    assert row["status"] == "open"


@then(parsers.parse('案件的办理记录中有 "{user}" 记录的问责 "{kind}"'))
def journaled(office, user, kind):
    events = office.get("auditor", f"/api/cases/{office.case_id}/history").get_json()["events"]
    hits = [e for e in events if e["type"] == "case.accountability_recorded" and e["actor"] == user
            and e["data"]["kind"] == kind]
    assert hits and hits[0]["at"], events[-3:]


def _linked(office):
    return [c for c in office.get("auditor", f"/api/cases/{office.case_id}").get_json()["linked_cases"]
            if c["process_key"] == "accountability_feedback"]


def _feedback_tasks(office, user, name):
    tasks = office.get(user, "/api/tasks?scope=unit").get_json()["tasks"]
    linked = {c["id"] for c in _linked(office)}
    return [t for t in tasks if t["name"] == name and t["case_id"] in linked]


@then(parsers.parse('"{user}" 的待办中有问责反馈 "{name}"，期限是 "{due}"'))
def has_feedback_task(office, user, name, due):
    [task] = _feedback_tasks(office, user, name)
    due_at = datetime.fromisoformat(task["due_at"]).astimezone(SHANGHAI) - timedelta(microseconds=1)
    assert due_at.date().isoformat() == due


@then(parsers.parse('"{user}" 的待办中没有问责反馈 "{name}"'))
def no_feedback_task(office, user, name):
    assert _feedback_tasks(office, user, name) == []
    assert _feedback_tasks(office, "handler", name)  # it exists: it is only not theirs


@when(parsers.parse('"{user}" 办理问责反馈 "{name}"，填写 {data}'))
def do_feedback(office, user, name, data):
    [task] = _feedback_tasks(office, user, name)
    r = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": json.loads(data)})
    assert r.status_code == 200, r.get_json()
    assert not r.get_json()["incidents"], r.get_json()["incidents"]


@then(parsers.parse('问责反馈给 "{user}" 发了站内通知 "{template}"'))
def notified(office, user, template):
    linked = {c["id"] for c in _linked(office)}
    with office.c.session_factory() as s:
        rows = [r for r in s.scalars(select(Outbox).where(Outbox.template == template, Outbox.channel == "inapp"))
                if r.case_id in linked]
    assert user in {r.recipient for r in rows}, [(r.recipient, r.payload) for r in rows]


@then(parsers.parse('四个清单页面的问责记录列出 "{kind}"'))
def lists_page(office, kind):
    page = office.get("bureau", "/lists?register=accountability")
    assert page.status_code == 200
    rows = page.get_data(as_text=True).split('id="list-rows"')[1]
    assert f"<td>{kind}</td>" in rows and "东城县人力资源和社会保障局" in rows, rows


@then(parsers.parse('{year:d} 年问责情况中 "{unit}" 有 "{kind}" {n:d} 件，按期反馈 {on_time:d} 件，逾期反馈 {late:d} 件，'
                    '未反馈 {missing:d} 件'))
def report(office, year, unit, kind, n, on_time, late, missing):
    r = office.get("bureau", f"/api/accountability/report?year={year}")
    assert r.status_code == 200, r.get_json()
    [row] = [u for u in r.get_json()["units"] if u["unit"] == unit]
    assert (row[kind], row["on_time"], row["late"], row["missing"]) == (n, on_time, late, missing), row
    assert row["cases"]
    page = office.get("bureau", f"/lists/accountability?year={year}")
    assert page.status_code == 200 and "东城县人力资源和社会保障局" in page.get_data(as_text=True)
    sheet = office.get("bureau", f"/lists/accountability.xlsx?year={year}")
    assert sheet.status_code == 200 and sheet.data[:2] == b"PK"


@then(parsers.parse('"{user}" 对 "{unit}" 记录问责被拒绝，因为无权'))
def refused(office, user, unit):
    r = _record(office, user, unit)
    assert r.status_code == 403, r.get_json()
    sees_case = office.get(user, f"/api/cases/{office.case_id}").status_code == 200
    if sees_case:  # outside the case's units the case itself is refused first
        assert "不能" in r.get_json()["error"]["message"], r.get_json()


@then(parsers.parse('"{user}" 对 "{unit}" 记录问责被拒绝，提示 "{words}"'))
def refused_unit(office, user, unit, words):
    r = _record(office, user, unit)
    assert r.status_code == 422 and words in r.get_json()["error"]["message"], r.get_json()


@then(parsers.parse('"{user}" 对 "{unit}" 不写事由记录问责被拒绝，提示 "{words}"'))
def refused_reason(office, user, unit, words):
    r = _record(office, user, unit, reason="  ")
    assert r.status_code == 422 and words in r.get_json()["error"]["message"], r.get_json()


@then(parsers.parse('"{user}" 对 "{unit}" 记录 "{kind}" 期限 {days:d} 日被拒绝，提示 "{words}"'))
def refused_limit(office, user, unit, kind, days, words):
    r = _record(office, user, unit, kind, limit=days)
    assert r.status_code == 422 and words in r.get_json()["error"]["message"], r.get_json()


@then(parsers.parse('"{user}" 记录问责时把 "{person}" 当作 "{unit}" 的工作人员被拒绝，提示 "{words}"'))
def refused_person(office, user, person, unit, words):
    r = _record(office, user, unit, person=person)
    assert r.status_code == 422 and words in r.get_json()["error"]["message"], r.get_json()


@then("本件没有问责记录")
def no_records(office):
    assert _records(office) == []
    assert _linked(office) == []
