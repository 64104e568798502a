"""Every task has a person at run time (services/work_placement.py through the engine's placement port): the rule
for each kind of gap, the petition office's own staff, and the admin's hand-back; the task form page refuses a
二次交办 outside the office's area. On SQLite and PostgreSQL."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event

from engine.errors import Conflict, Invalid
from engine.store import JournalEvent, WorkItem
from features.conftest import Office, process_files
from infra.accounts import Membership, Unit, User, hash_password
from services import work_placement
from services.organisation import load_organisation
from services.work_placement import WorkPlacement
from tests.support import bpmn
from tests.support.web import csrf_of, page_sign_in

ROOT = Path(__file__).resolve().parents[2]


def one_task_process(pid: str, role: str):
    return bpmn.source(pid, f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="handle" name="办理"><bpmn:extensionElements><spiffworkflow:properties>
  <spiffworkflow:property name="role" value="{role}"/>
  <spiffworkflow:property name="unit" value="target_unit"/>
</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>
<bpmn:endEvent id="end"/>
{bpmn.flow("f1", "start", "handle")}
{bpmn.flow("f2", "handle", "end")}
""", "单任务办理")


@pytest.fixture
def office(container):
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
        s.add(Unit(code="county_a_forestry", name="东城县林业局", kind="department", parent_code="county_a"))
    container.runtime.deploy([one_task_process(f"{role}_task", role)
                              for role in ("unit_handler", "leader", "bureau", "review_body")], actor="test")
    return Office(container)


def _start(office, role: str, unit: str):
    view = office.c.runtime.start(f"{role}_task", {"target_unit": unit}, actor="admin")
    [task] = view.tasks
    return view, task


def test_work_someone_holds_stays_where_the_process_puts_it(office):
    _, task = _start(office, "unit_handler", "county_a_hrss")
    assert (task.unit, task.role, task.orphan) == ("county_a_hrss", "unit_handler", None)
    # held only through a unit above with subunits (县领导 for the county's departments) is held too
    _, task = _start(office, "leader", "county_a_hrss")
    assert (task.unit, task.role, task.orphan) == ("county_a_hrss", "leader", None)


def test_a_department_without_staff_goes_to_its_county_office_flagged_and_journaled(office):
    view, task = _start(office, "unit_handler", "county_a_forestry")
    assert (task.unit, task.role) == ("county_a_office", "county_office")
    assert task.orphan["unit"] == "county_a_forestry" and task.orphan["role"] == "unit_handler"
    with office.c.session_factory() as s:
        [event] = s.query(JournalEvent).filter_by(case_id=view.id, type="work_item.orphaned").all()
    assert '"intended_unit":"county_a_forestry"' in event.data and event.element_id == "handle"
    assert office.post("county", f"/api/tasks/{task.id}/claim").status_code == 200  # a named person
    assert office.post("handler", f"/api/tasks/{task.id}/claim").status_code == 403


def test_a_petition_office_s_own_work_is_done_by_its_staff_not_the_city_s_supervisors(office):
    """bureau (审核销号) at 东城县信访局: the city's `bureau` holds the role over every unit below, but a county
    office's check is the county office's; not an orphan."""
    _, task = _start(office, "bureau", "county_a_office")
    assert (task.unit, task.role, task.orphan) == ("county_a_office", "county_office", None)
    _, task = _start(office, "unit_handler", "city_bureau")
    assert (task.unit, task.role, task.orphan) == ("city_bureau", "bureau", None)
    # a leader's task at the office stays a leader's
    _, task = _start(office, "leader", "county_a_office")
    assert (task.unit, task.role) == ("county_a_office", "leader")


def test_nobody_anywhere_keeps_the_work_where_it_is_flagged(office):
    """复查复核机关 of a unit outside the chain of offices with staff: flagged, never dropped."""
    with office.c.session_factory() as s, s.begin():
        s.query(Membership).filter(Membership.role.in_(["county_office", "bureau"])).delete()
    _, task = _start(office, "review_body", "county_a_forestry")
    assert (task.unit, task.role) == ("county_a_forestry", "review_body")
    assert task.orphan["unit"] == "county_a_forestry"


def test_placement_without_a_port_changes_nothing(office):
    office.c.runtime.placement = None
    _, task = _start(office, "unit_handler", "county_a_forestry")
    assert (task.unit, task.role, task.orphan) == ("county_a_forestry", "unit_handler", None)


def test_the_hand_back_needs_an_orphan_still_open_and_happens_once(office):
    _, plain = _start(office, "unit_handler", "county_a_hrss")
    with pytest.raises(Invalid):
        office.c.runtime.hand_back_orphan(plain.id, "admin")
    _, task = _start(office, "unit_handler", "county_a_forestry")
    r = office.post("admin", f"/api/admin/orphans/{task.id}/hand-back")
    assert r.status_code == 409 and "仍没有人" in r.get_json()["error"]["message"]
    with office.c.session_factory() as s, s.begin():
        user = User(username="forester", display_name="林业局承办人", password_hash=hash_password("demo"), active=True)
        s.add(user)
        s.flush()
        s.add(Membership(user_id=user.id, unit_code="county_a_forestry", role="unit_handler", include_subunits=False))
        assert WorkPlacement(s).place("county_a_forestry", "unit_handler") is None
    assert office.post("county", f"/api/tasks/{task.id}/claim").status_code == 200
    r = office.post("admin", f"/api/admin/orphans/{task.id}/hand-back")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["unit"], body["role"], body["assignee"]) == ("county_a_forestry", "unit_handler", None)
    assert body["orphan"]["resolved_by"] == "admin"
    with pytest.raises(Conflict):
        office.c.runtime.hand_back_orphan(task.id, "admin")
    assert office.post("forester", f"/api/tasks/{task.id}/claim").status_code == 200
    with office.c.session_factory() as s:
        item = s.get(WorkItem, task.id)
        assert item.intended_unit == "county_a_forestry" and item.orphan_resolved_at is not None


def test_the_report_page_has_the_hand_back_button_for_admins_only(office):
    _, task = _start(office, "unit_handler", "county_a_forestry")
    admin = page_sign_in(office.app, "admin")
    html = admin.get("/admin/orphans").get_data(as_text=True)
    assert "东城县林业局" in html and f'data-item="{task.id}"' in html and 'data-status="open"' in html
    token = csrf_of(html)
    r = admin.post(f"/admin/orphans/{task.id}/hand-back", data={"csrf_token": token})
    assert r.status_code in (302, 303)
    assert "仍没有人" in admin.get("/admin/orphans").get_data(as_text=True)  # the refusal, flashed
    for user in ("county", "auditor", "designer"):
        assert page_sign_in(office.app, user).get("/admin/orphans").status_code == 403


def _second_task(office):
    """A matter routed to 东城县信访局, signed by it: its 自办或二次交办 task."""
    r = office.post("designer", "/api/process-definitions", data={"files": [f[1] for f in process_files()]},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    data = {"channel": "来信", "title": "路灯损坏", "request": "修复", "facts": "已坏三个月", "category": "其他",
            "location": "county_a", "petitioner": {"name": "李某"}}
    r = office.post("designer", "/api/process-definitions/petition_case/instances", json={"data": data})
    office.case_id = r.get_json()["id"]

    def task(user, name):
        return next(t for t in office.get(user, "/api/tasks?scope=unit").get_json()["tasks"]
                    if t["case_id"] == office.case_id and t["name"] == name)

    triage = task("registrar", "分流研判")
    assert office.post("registrar", f"/api/tasks/{triage['id']}/complete",
                       json={"data": {"route": "交办转送"}}).status_code == 200
    sign = task("county", "签收或提出异议")
    assert office.post("county", f"/api/tasks/{sign['id']}/complete",
                       json={"data": {"sign_decision": "签收"}}).status_code == 200
    return task("county", "自办或二次交办")


def test_the_task_form_page_refuses_a_unit_outside_the_area_and_keeps_the_task(office):
    second = _second_task(office)
    county = page_sign_in(office.app, "county")
    page = county.get(f"/tasks/{second['id']}").get_data(as_text=True)
    r = county.post(f"/tasks/{second['id']}", data={"csrf_token": csrf_of(page), "second_decision": "二次交办",
                                                    "second_unit": "county_b_hrss", "version": ""})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "不在东城县信访局的辖区内" in html and "county_a_hrss" in html
    assert office.get("county", f"/api/cases/{office.case_id}").get_json()["assignment_chain"][-1]["to"] == \
        "county_a_office"
    # a department of the area goes through
    r = county.post(f"/tasks/{second['id']}", data={"csrf_token": csrf_of(html), "second_decision": "二次交办",
                                                    "second_unit": "county_a_housing", "version": ""})
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:500]
    assert office.get("county", f"/api/cases/{office.case_id}").get_json()["assignment_chain"][-1]["to"] == \
        "county_a_housing"


def test_the_holder_check_sees_a_membership_added_in_the_same_transaction(office):
    """`held_directly` runs its statement on the session's connection: it flushes first, as an ORM query does."""
    with office.c.session_factory() as s, s.begin():
        placement = WorkPlacement(s)
        assert not placement.held_directly("county_a_forestry", "unit_handler")
        user = User(username="ranger", display_name="林业局承办人", password_hash=hash_password("demo"), active=True)
        s.add(user)
        s.flush()
        s.add(Membership(user_id=user.id, unit_code="county_a_forestry", role="unit_handler", include_subunits=False))
        assert placement.held_directly("county_a_forestry", "unit_handler")
        user.active = False  # an inactive holder holds nothing
        assert not placement.held_directly("county_a_forestry", "unit_handler")


def test_the_holder_check_through_the_driver_answers_as_the_query_does(office):
    """`held_directly` sends its statement through the driver: for held and unheld roles, units with and without
    staff and an unknown unit, the answer the same statement gives run by SQLAlchemy; the statement is counted."""
    seen: list[str] = []
    event.listen(office.c.engine, "before_cursor_execute", lambda conn, cursor, statement, *a: seen.append(statement))
    with office.c.session_factory() as s:
        placement = WorkPlacement(s)
        asked = [(unit, role) for unit in ("county_a_office", "county_a_hrss", "county_a_forestry", "city_bureau",
                                           "no_such_unit") for role in ("unit_handler", "county_office", "bureau",
                                                                        "registrar", "leader")]
        answers = {pair: placement.held_directly(*pair) for pair in asked}
        assert len([q for q in seen if "FROM membership" in q]) == len(asked)
        statement = work_placement._HELD_DIRECTLY.statement
        assert answers == {(unit, role): s.connection().execute(statement, {"unit": unit, "role": role}).first()
                           is not None for unit, role in asked}
        assert any(answers.values()) and not all(answers.values())
