"""Steps for supervision_loop.feature: a 督办 becomes the supervised unit's written-feedback task (a linked
supervision_feedback case), a missed feedback a listed supervision (挂牌督办), removed (摘牌) by the supervising
office; read through the HTTP API and pages, as the offices see them."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from pytest_bdd import given, parsers, then, when
from sqlalchemy import select

from engine.clock import SHANGHAI
from engine.store import Outbox
from features.steps_petition import _lists, clock_to, run_worker
from services import four_lists


@given(parsers.parse('承办单位逾期未签收，"{when}" 定时任务督办了承办单位及其负责人'))
def supervised_for_signing(office, when):
    clock_to(office, when)
    run_worker(office)
    rows = [r for r in four_lists.query(_lists(office), kind="督办", unit="county_a_hrss") if r["kind"] == "督办"]
    assert rows and {"unit": "county_a_hrss", "role": "leader"} in rows[0]["notified"], rows


def _feedback_tasks(office, user, name):
    """Open tasks named `name` that `user` sees, of the feedback cases linked to this scenario's case."""
    tasks = office.get(user, "/api/tasks?scope=unit").get_json()["tasks"]
    linked = {c["id"] for c in _linked(office)}
    return [t for t in tasks if t["name"] == name and t["case_id"] in linked]


def _linked(office):
    return office.get("auditor", f"/api/cases/{office.case_id}").get_json()["linked_cases"]


@then(parsers.parse('"{user}" 的待办中有督办反馈 "{name}"，期限是 "{due}"'))
def has_feedback_task(office, user, name, due):
    [task] = _feedback_tasks(office, user, name)
    due_at = datetime.fromisoformat(task["due_at"]).astimezone(SHANGHAI) - timedelta(microseconds=1)
    assert due_at.date().isoformat() == due


@then(parsers.parse('"{user}" 的待办中有督办反馈 "{name}"'))
def has_feedback_task_without_due(office, user, name):
    assert len(_feedback_tasks(office, user, name)) == 1


@then(parsers.parse('"{user}" 的待办中没有督办反馈 "{name}"'))
def no_feedback_task(office, user, name):
    assert _feedback_tasks(office, user, name) == []
    assert _feedback_tasks(office, "handler", name)  # it exists: it is only not theirs


@when(parsers.parse('"{user}" 办理督办反馈 "{name}"，填写 {data}'))
def do_feedback_task(office, user, name, data):
    [task] = _feedback_tasks(office, user, name)
    r = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": json.loads(data)})
    assert r.status_code == 200, r.get_json()
    assert not r.get_json()["incidents"], r.get_json()["incidents"]


def _rows(office, kind, unit, item):
    r = office.get("bureau", "/api/registers/supervision")
    assert r.status_code == 200, r.get_json()
    return [row for row in r.get_json()["rows"] if row["case_id"] == office.case_id and row["unit"] == unit
            and row["data"]["kind"] == kind and row["data"]["item"] == item]


@then(parsers.parse('督办清单中单位 "{unit}" 对 "{item}" 的 "{kind}" 是 "{status}"，督办单位 "{by}"'))
def supervision_row_by(office, unit, item, kind, status, by):
    [row] = _rows(office, kind, unit, item)
    assert row["data"]["status"] == status and row["data"]["by"] == by, row
    assert row["status"] == "open", row


@then(parsers.parse('督办清单中单位 "{unit}" 对 "{item}" 的 "{kind}" 是 "{status}"'))
def supervision_row(office, unit, item, kind, status):
    [row] = _rows(office, kind, unit, item)
    assert row["data"]["status"] == status, row


@then(parsers.parse('督办清单中单位 "{unit}" 对 "{item}" 的 "{kind}" 是 "{status}"，反馈于 "{day}"，内容有 "{words}"'))
def supervision_row_filed(office, unit, item, kind, status, day, words):
    [row] = _rows(office, kind, unit, item)
    data = row["data"]
    assert data["status"] == status and words in data["feedback"], row
    assert datetime.fromisoformat(data["feedback_at"]).astimezone(SHANGHAI).date().isoformat() == day
    assert row["status"] == "closed"  # 已反馈 leaves the open list


@then(parsers.parse('督办清单中单位 "{unit}" 对 "{item}" 的 "{kind}" 是 "{status}"，理由 "{words}"，由 "{user}" 摘牌'))
def supervision_row_delisted(office, unit, item, kind, status, words, user):
    [row] = _rows(office, kind, unit, item)
    data = row["data"]
    assert data["status"] == status and words in data["delist_reason"] and data["delisted_by"] == user, row
    assert row["status"] == "closed"


@then(parsers.parse('督办清单中没有单位 "{unit}" 的 "{kind}"'))
def no_supervision_row(office, unit, kind):
    r = office.get("bureau", "/api/registers/supervision")
    assert not [row for row in r.get_json()["rows"] if row["unit"] == unit and row["data"]["kind"] == kind]


@then("案件页列出关联的督办反馈")
def case_page_links(office):
    [linked] = _linked(office)
    assert linked["process_key"] == "supervision_feedback" and linked["status"] == "waiting"
    page = office.get("bureau", f"/cases/{office.case_id}")
    assert page.status_code == 200
    assert f'/cases/{linked["id"]}' in page.get_data(as_text=True)


@then(parsers.parse('关联的督办反馈给 {users} 发了站内通知 "{template}"，事项是 "{label}"'))
def office_inbox_any_case(office, users, template, label):
    linked = {c["id"] for c in _linked(office)} | {office.case_id}
    with office.c.session_factory() as s:
        rows = [r for r in s.scalars(select(Outbox).where(Outbox.template == template, Outbox.channel == "inapp"))
                if r.case_id in linked and label in r.payload]
    assert sorted({r.recipient for r in rows}) == sorted(json.loads(users)), [(r.recipient, r.payload) for r in rows]


@then(parsers.parse('四个清单页面的督办清单列出 "{kind}"'))
def lists_page(office, kind):
    page = office.get("bureau", "/lists?register=supervision&status=open")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = html.split('id="list-rows"')[1]
    assert f"<td>{kind}</td>" in rows and "东城县人力资源和社会保障局" in rows and "<td>市信访局</td>" in rows, rows


def _delist_task(office):
    [task] = _feedback_tasks(office, "bureau", "摘牌（写明理由）")
    return task


@then(parsers.parse('"{user}" 摘牌被拒绝'))
def delist_refused(office, user):
    task = _delist_task(office)
    assert not _feedback_tasks(office, user, "摘牌（写明理由）")
    r = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": {"delist_reason": "本单位已整改"}})
    assert r.status_code == 403, r.get_json()
    assert _delist_task(office)["id"] == task["id"]  # still open, nothing recorded


@then(parsers.parse('"{user}" 不写理由摘牌被拒绝'))
def delist_without_reason(office, user):
    task = _delist_task(office)
    r = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": {"delist_reason": ""}})
    assert r.status_code == 422, r.get_json()
    assert "摘牌理由" in json.dumps(r.get_json(), ensure_ascii=False)


@then(parsers.parse('督办反馈的办理记录中有 "{user}" 的摘牌理由 "{words}"'))
def delist_journaled(office, user, words):
    [linked] = _linked(office)
    events = office.get("auditor", f"/api/cases/{linked['id']}/history").get_json()["events"]
    assert any(e["type"] == "task.submitted" and e["actor"] == user and words in e["data"]["data"]["delist_reason"]
               for e in events), events
