"""Steps for orphan_work.feature (无人可办): the test's own organisation gains units nobody holds a role in; the
work items, the admin's report and the hand-back are read and driven through the HTTP API and the page."""
from __future__ import annotations

from datetime import datetime

from pytest_bdd import given, parsers, then, when
from sqlalchemy import delete, select

from engine.clock import SHANGHAI
from infra.accounts import Membership, Unit, User, hash_password


def _tasks(office, user):
    return [t for t in office.get(user, "/api/tasks?scope=unit").get_json()["tasks"] if t["case_id"] == office.case_id]


def _task(office, user, name):
    found = [t for t in _tasks(office, user) if t["name"] == name]
    assert found, f"{user} has no {name}: {[t['name'] for t in _tasks(office, user)]}"
    return found[0]


def _report(office, user="admin"):
    r = office.get(user, "/api/admin/orphans")
    assert r.status_code == 200, r.get_json()
    return [row for row in r.get_json()["orphans"] if row["case_id"] == office.case_id]


def _history(office):
    return office.get("auditor", f"/api/cases/{office.case_id}/history").get_json()["events"]


@given(parsers.parse('组织机构中新设 "{name}"（{code}），下设信访局 "{office_code}" 和人社局 "{dept}"，都还没有人任职'))
def new_county(office, name, code, office_code, dept):
    with office.c.session_factory() as s, s.begin():
        s.add(Unit(code=code, name=name, kind="county", parent_code="city"))
        s.flush()
        s.add_all([Unit(code=office_code, name=f"{name}信访局", kind="petition_office", parent_code=code),
                   Unit(code=dept, name=f"{name}人力资源和社会保障局", kind="department", parent_code=code)])


@given(parsers.parse('用户 "{user}" 在 "{unit}" 担任 "{role}"'))
@when(parsers.parse('用户 "{user}" 在 "{unit}" 担任 "{role}"'))
def holds_role(office, user, unit, role):
    with office.c.session_factory() as s, s.begin():
        row = s.scalar(select(User).where(User.username == user))
        if row is None:
            row = User(username=user, display_name=user, password_hash=hash_password("demo"), active=True)
            s.add(row)
            s.flush()
        s.add(Membership(user_id=row.id, unit_code=unit, role=role, include_subunits=False))


@given(parsers.parse('用户 "{user}" 已不再任职'))
def no_longer_holds(office, user):
    with office.c.session_factory() as s, s.begin():
        row = s.scalar(select(User).where(User.username == user))
        s.execute(delete(Membership).where(Membership.user_id == row.id))


@then(parsers.parse('"{user}" 的待办中有 "{name}"，标明无人可办，原定 "{unit}" 的 "{role}"'))
def flagged_task(office, user, name, unit, role):
    task = _task(office, user, name)
    assert task["orphan"] and task["orphan"]["unit"] == unit and task["orphan"]["role"] == role, task
    assert task["unit"] != unit and not task["orphan"]["resolved_at"]
    client = office.client(user)[0]
    page = client.get("/tasks").get_data(as_text=True)
    row = page[page.index(f'data-task="{task["id"]}"'):]
    row = row[:row.index("</tr>")]
    assert "无人可办" in row and f'data-orphan-unit="{unit}"' in row, row
    # the office can claim it: a named person
    r = office.post(user, f"/api/tasks/{task['id']}/claim")
    assert r.status_code == 200, r.get_json()
    assert office.post(user, f"/api/tasks/{task['id']}/unclaim").status_code == 200


@then(parsers.parse('"{user}" 的待办 "{name}" 没有无人可办标记'))
def not_flagged(office, user, name):
    assert _task(office, user, name)["orphan"] is None


@then(parsers.parse('案件的办理记录中有 "{name}" 交由 "{unit}" 的无人可办记录'))
def orphan_journaled(office, name, unit):
    events = [e for e in _history(office) if e["type"] == "work_item.orphaned"]
    assert events and events[0]["data"]["name"] == name and events[0]["data"]["unit"] == unit, events
    assert events[0]["data"]["intended_unit"] != unit and events[0]["at"]
    page = office.client("auditor")[0].get(f"/cases/{office.case_id}").get_data(as_text=True)
    assert f"「{name}」无人可办，交由" in page  # the case's timeline says it in words


@then(parsers.parse('"{user}" 的无人可办报表中有 "{name}"，原定 "{unit}" 的 "{role}"，自 "{day}" 起，状态 "{status}"'))
def report_row(office, user, name, unit, role, day, status):
    rows = [r for r in _report(office, user) if r["step"] == name]
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["intended_unit"], row["intended_role"], row["status_label"]) == (unit, role, status), row
    assert datetime.fromisoformat(row["since"]).astimezone(SHANGHAI).date().isoformat() == day
    assert row["case_no"] or row["case_id"]


@then("\"admin\" 的无人可办报表是空的")
def report_empty(office):
    assert _report(office) == []


@then(parsers.parse('"{user}" 打开无人可办报表被拒绝'))
def report_refused(office, user):
    assert office.get(user, "/api/admin/orphans").status_code == 403
    page = office.client(user)[0].get("/admin/orphans")
    assert page.status_code == 403
    assert office.post(user, "/api/admin/orphans/1/hand-back").status_code == 403


@then(parsers.parse('"{user}" 的无人可办报表页列出 "{name}" 和原定单位 "{unit_name}"'))
def report_page(office, user, name, unit_name):
    html = office.client(user)[0].get("/admin/orphans").get_data(as_text=True)
    section = html[html.index('id="orphans"'):]
    assert name in section and unit_name in section and 'data-status="open"' in section, section[:2000]


@when(parsers.parse('"{user}" 把 "{name}" 交回原单位'))
def hand_back(office, user, name):
    [row] = [r for r in _report(office, user) if r["step"] == name]
    office.last_response = office.post(user, f"/api/admin/orphans/{row['work_item_id']}/hand-back")


@then(parsers.parse('交回被拒绝（409），提示 "{words}"'))
def hand_back_refused(office, words):
    r = office.last_response
    assert r.status_code == 409 and words in r.get_json()["error"]["message"], r.get_json()


@then(parsers.parse('案件的办理记录中有 "{user}" 交回 "{name}" 的记录'))
def handed_back_journaled(office, user, name):
    assert office.last_response.status_code == 200, office.last_response.get_json()
    events = [e for e in _history(office) if e["type"] == "work_item.handed_back"]
    assert len(events) == 1 and events[0]["actor"] == user, events
    assert events[0]["data"]["to"]["unit"] != events[0]["data"]["from"]["unit"]


@then(parsers.parse('"{user}" 的待办中没有 "{name}"'))
def has_not(office, user, name):
    assert not [t for t in _tasks(office, user) if t["name"] == name]
