"""Roles count in the units they are held for: a user who is unit_handler in one unit and registrar in another
may not claim, complete or even list the unit_handler tasks of the second unit (403), and still does the first
unit's work. Before, roles and units were checked separately (any role held anywhere, any unit served)."""
from __future__ import annotations

from pathlib import Path

import pytest

from features.conftest import Office
from infra.accounts import Membership, User, hash_password
from services.organisation import load_organisation
from tests.support import bpmn

ROOT = Path(__file__).resolve().parents[2]
UNIT_A, UNIT_B = "county_a_hrss", "county_b_hrss"


def one_task_process(pid: str, role: str):
    """A case with one task for `role` in the unit the case data names (`target_unit`)."""
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
        user = User(username="twohats", display_name="兼职人员", password_hash=hash_password("demo"), active=True)
        s.add(user)
        s.flush()
        s.add_all([Membership(user_id=user.id, unit_code=UNIT_A, role="unit_handler", include_subunits=False),
                   Membership(user_id=user.id, unit_code=UNIT_B, role="registrar", include_subunits=False)])
    container.runtime.deploy([one_task_process("handler_task", "unit_handler"),
                               one_task_process("office_task", "county_office")], actor="test")
    return Office(container)


def _task_in(office, unit: str, process: str = "handler_task") -> tuple[int, int]:
    view = office.c.runtime.start(process, {"target_unit": unit}, actor="admin")
    [task] = view.tasks
    # Where nobody holds the role in the unit (county_office in county_b_hrss: 西山县's office holds it for its own
    # office only), the task went to the petition office above, flagged with the unit it was meant for.
    assert task.unit == unit or (task.orphan or {}).get("unit") == unit
    return view.id, task.id


def test_a_role_held_in_one_unit_does_not_open_the_same_role_s_tasks_of_another_unit(office):
    case_b, task_b = _task_in(office, UNIT_B)
    for action in ("claim", "complete"):
        r = office.post("twohats", f"/api/tasks/{task_b}/{action}", json={"data": {}})
        assert r.status_code == 403, (action, r.get_json())
        error = r.get_json()["error"]
        assert error["code"] == "forbidden" and "单位或角色" in error["message"]
    listed = office.get("twohats", "/api/tasks?scope=all").get_json()["tasks"]
    assert task_b not in [t["id"] for t in listed]
    assert task_b not in [t["id"] for t in office.get("twohats", "/api/tasks?scope=unit").get_json()["tasks"]]
    assert [t.assignee for t in office.c.runtime.get_case(case_b).tasks] == [None]  # nothing was claimed
    # the unit's own unit_handler can
    assert office.post("handler_b", f"/api/tasks/{task_b}/claim").status_code == 200


def test_the_same_user_claims_and_completes_the_task_of_the_unit_where_they_hold_the_role(office):
    case_a, task_a = _task_in(office, UNIT_A)
    assert task_a in [t["id"] for t in office.get("twohats", "/api/tasks?scope=unit").get_json()["tasks"]]
    r = office.post("twohats", f"/api/tasks/{task_a}/claim")
    assert r.status_code == 200 and r.get_json()["assignee"] == "twohats", r.get_json()
    r = office.post("twohats", f"/api/tasks/{task_a}/complete", json={"data": {}})
    assert r.status_code == 200, r.get_json()
    assert office.c.runtime.get_case(case_a).status == "completed"


def test_a_role_held_with_subunits_reaches_the_units_below(office):
    """county_office held for county_a with subunits: a county_office task of a department of county_a is theirs,
    one of county_b is not."""
    _, ours = _task_in(office, UNIT_A, "office_task")
    _, theirs = _task_in(office, UNIT_B, "office_task")
    assert office.post("county", f"/api/tasks/{ours}/claim").status_code == 200
    assert office.post("county", f"/api/tasks/{theirs}/claim").status_code == 403


def test_taking_a_claimed_task_from_a_colleague_needs_a_head_s_role_in_that_unit(office):
    """A head's role (county_office) held in another county does not let a unit_handler take over a colleague's
    claimed task in their own unit; the admin can."""
    with office.c.session_factory() as s, s.begin():
        user = User(username="head_elsewhere", display_name="外县科长", password_hash=hash_password("demo"),
                    active=True)
        s.add(user)
        s.flush()
        s.add_all([Membership(user_id=user.id, unit_code=UNIT_A, role="unit_handler", include_subunits=False),
                   Membership(user_id=user.id, unit_code="county_b_office", role="county_office",
                              include_subunits=True)])
    _, task_a = _task_in(office, UNIT_A)
    assert office.post("handler", f"/api/tasks/{task_a}/claim").status_code == 200
    r = office.post("head_elsewhere", f"/api/tasks/{task_a}/reassign", json={"to": "twohats"})
    assert r.status_code == 409 and "认领" in r.get_json()["error"]["message"], r.get_json()
    r = office.post("admin", f"/api/tasks/{task_a}/reassign", json={"to": "twohats"})
    assert r.status_code == 200 and r.get_json()["assignee"] == "twohats", r.get_json()


def test_a_petition_is_registered_for_the_office_where_the_registering_role_is_held(office):
    """Registrar in 西山县信访局, unit_handler in 东城县信访局: what they register is 西山县's, not the first petition
    office they hold any role in."""
    from web.auth import load_principal
    from web.desk.handling import registering_unit

    with office.c.session_factory() as s, s.begin():
        user = User(username="two_offices", display_name="两处任职", password_hash=hash_password("demo"), active=True)
        s.add(user)
        s.flush()
        s.add_all([Membership(user_id=user.id, unit_code="county_a_office", role="unit_handler",
                              include_subunits=False),
                   Membership(user_id=user.id, unit_code="county_b_office", role="registrar",
                              include_subunits=False)])
        p = load_principal(s, user)
    with office.app.app_context():
        assert registering_unit(p) == "county_b_office"
