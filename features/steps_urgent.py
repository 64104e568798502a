"""Steps for urgent_matters.feature: flagging a case as an urgent matter, its reporting case's tasks (first report,
written follow-up), the reminder and the 督办 when the hours pass, the board and the figures, through the HTTP
API as the offices use them."""
from __future__ import annotations

import json
from datetime import datetime

from pytest_bdd import parsers, then, when
from sqlalchemy import select

from engine.clock import SHANGHAI
from engine.store import Outbox
from features.steps_stats import _kpi


def _flag(office, user, kind, reason):
    return office.post(user, f"/api/cases/{office.case_id}/urgent", json={"kind": kind, "reason": reason})


def _report_cases(office):
    linked = office.get("auditor", f"/api/cases/{office.case_id}").get_json()["linked_cases"]
    return [c["id"] for c in linked if c["process_key"] == "urgent_report"]


def _tasks(office, user, name):
    ids = set(_report_cases(office))
    tasks = office.get(user, "/api/tasks?scope=unit").get_json()["tasks"]
    return [t for t in tasks if t["name"] == name and t["case_id"] in ids]


def _board_row(office, user):
    r = office.get(user, "/api/urgent")
    assert r.status_code == 200, r.get_json()
    return [m for m in r.get_json()["matters"] if m["case_id"] == office.case_id]


@when(parsers.parse('"{user}" 把本件标记为重大紧急事项，类别 "{kind}"，理由 "{reason}"'))
def flag_case(office, user, kind, reason):
    r = _flag(office, user, kind, reason)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["office"] == "county_a_office" and r.get_json()["up_office"] == "city_bureau"


@then(parsers.parse('办理记录中记有 "{user}" 标记重大紧急事项，类别 "{kind}"'))
def flag_journaled(office, user, kind):
    events = office.get("auditor", f"/api/cases/{office.case_id}/history").get_json()["events"]
    [e] = [e for e in events if e["type"] == "case.flagged_urgent"]
    assert e["actor"] == user and e["data"]["kind"] == kind and e["data"]["reason"] and e["at"]
    page = office.get("bureau", f"/cases/{office.case_id}").get_data(as_text=True)
    assert f"标记为重大紧急事项（{kind}），由东城县信访局报告" in page


@then(parsers.parse('"{user}" 的待办中有重大紧急事项的 "{name}"，时限是 "{due}"'))
def has_task(office, user, name, due):
    [task] = _tasks(office, user, name)
    at = datetime.fromisoformat(task["due_at"]).astimezone(SHANGHAI)
    assert at.strftime("%Y-%m-%d %H:%M") == due, task
    deadlines = office.get(user, f"/api/cases/{task['case_id']}").get_json()["deadlines"]
    if datetime.fromisoformat(task["due_at"]) > office.c.clock.now():  # a passed limit has fired: no longer running
        assert [d["day_type"] for d in deadlines] == ["hours"] and deadlines[0]["hours_left"] > 0, deadlines
        page = office.get(user, f"/cases/{task['case_id']}").get_data(as_text=True)
        assert "规则：2小时" in page and "剩 2.0 小时" in page


@when(parsers.parse('"{user}" 办理重大紧急事项的 "{name}"，填写 {data}'))
def do_task(office, user, name, data):
    [task] = _tasks(office, user, name)
    r = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": json.loads(data)})
    assert r.status_code == 200, r.get_json()
    assert not r.get_json()["incidents"], r.get_json()["incidents"]


@then(parsers.parse('"{user}" 在重大紧急事项看板上看到本件：类别 "{kind}"，"{reported}"，剩 {hours:f} 小时'))
def on_board(office, user, kind, reported, hours):
    [row] = _board_row(office, user)
    assert row["kind"] == kind and row["reported"] == (reported == "已首报"), row
    assert row["hours_left"] == hours and row["state"] != "red" and row["reason"], row
    assert row["unit"] == "county_a_hrss" and row["office"] == "county_a_office"
    page = office.get(user, "/urgent")
    assert page.status_code == 200 and f'data-case="{office.case_id}"' in page.get_data(as_text=True)


@then(parsers.parse('"{user}" 在重大紧急事项看板上看到本件标红：超时 {hours:f} 小时，"已督办"'))
def red_on_board(office, user, hours):
    [row] = _board_row(office, user)
    assert row["state"] == "red" and row["hours_left"] == -hours and not row["reported"] and row["supervised"], row
    page = office.get(user, "/urgent").get_data(as_text=True)
    assert f'data-case="{office.case_id}" data-state="red"' in page


@then("重大紧急事项看板上没有本件")
def off_board(office):
    assert _board_row(office, "bureau") == []


@then("重大紧急事项没有被督办")
def not_supervised(office):
    [row] = _board_row(office, "bureau")
    assert not row["supervised"], row


@then(parsers.parse('县信访局的 "{user}" 收到重大紧急事项提醒'))
def reminded(office, user):
    ids = set(_report_cases(office))
    with office.c.session_factory() as s:
        rows = [r for r in s.scalars(select(Outbox).where(Outbox.template == "urgent_reminder"))
                if r.case_id in ids]
    assert [r for r in rows if r.recipient == user], [(r.recipient, r.template) for r in rows]
    assert "首报" in rows[0].payload


@then(parsers.parse('督办清单中 "{unit}" 的重大紧急事项首报被 "{by}" 督办'))
def supervised(office, unit, by):
    r = office.get("bureau", "/api/registers/supervision")
    rows = [row for row in r.get_json()["rows"] if row["case_id"] in set(_report_cases(office))
            and row["unit"] == unit and row["data"]["kind"] == "督办"]
    assert rows and rows[0]["data"]["by"] == by and "首报" in rows[0]["data"]["item"], rows


@then(parsers.parse('"{user}" 看到 "{period}" 的 "{label}" 是 {hours:f} 小时'))
def sees_hours(office, user, period, label, hours):
    kpi = _kpi(office, user, period, label)
    assert kpi["value"] == hours and kpi["unit"] == "小时", kpi


@then(parsers.parse('"{user}" 标记本件为重大紧急事项被拒绝，状态 {status:d}'))
def flag_refused(office, user, status):
    r = _flag(office, user, "群体性", "现场聚集")
    assert r.status_code == status, r.get_json()
    assert not _report_cases(office)


@then(parsers.parse('"{user}" 不写理由标记本件为重大紧急事项被拒绝，状态 {status:d}'))
def flag_without_reason(office, user, status):
    r = _flag(office, user, "群体性", "  ")
    assert r.status_code == status and "理由" in r.get_json()["error"]["message"], r.get_json()


@then(parsers.parse('以类别 "{kind}" 标记本件为重大紧急事项被拒绝，状态 {status:d}'))
def flag_other_kind(office, kind, status):
    r = _flag(office, "handler", kind, "现场聚集")
    assert r.status_code == status and "类别" in r.get_json()["error"]["message"], r.get_json()


@then(parsers.parse('"{user}" 再次标记本件为重大紧急事项被拒绝，状态 {status:d}'))
def flag_twice(office, user, status):
    r = _flag(office, user, "群体性", "又有人员聚集")
    assert r.status_code == status, r.get_json()
    assert len(_report_cases(office)) == 1


@then(parsers.parse('"{user}" 打开重大紧急事项看板被拒绝'))
def board_refused(office, user):
    assert office.get(user, "/api/urgent").status_code == 403
    assert office.get(user, "/urgent").status_code == 403


@then(parsers.parse('"{user}" 在重大紧急事项看板上看不到本件'))
def not_on_board(office, user):
    assert _board_row(office, user) == []
    assert _board_row(office, "bureau")  # it is there: only not theirs
