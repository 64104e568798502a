"""Reading a case (issue #21), both databases:
- the data the runtime shows is read from the decoded state (engine/state_view.py) and is what the restored
  workflow gave, for every state the shipped processes save on the way: the deployment's smoke simulation of every
  process and path, and cases run over the API to their next steps;
- a case read (`Runtime._view`, its rows read as plain rows) is the view the ORM's objects and the restored
  workflow made, for waiting, routed, incident, paused and timed-out cases;
- the calendar's version key comes with the case row, and a changed calendar is still seen;
- a case's parties are read as rows and opened as the ORM's objects were."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from engine.calendar.kinds import NATIONAL
from engine.calendar.models import CalendarYear
from engine.calendar.repository import version_key
from engine.definitions import collect_files
from engine.errors import NotFound
from engine.state import StateCodec
from engine.state_view import data_of_state
from engine.store import Case, Incident, Timer, WorkItem
from engine.tree import view_data
from services import parties
from services.organisation import load_organisation
from services.store.parties import Party
from tests.support.db import statements_while
from tests.support.web import ROOT, api_sign_in
from web.app import create_app

PETITION = {"channel": "来访", "title": "拖欠工资", "request": "请求支付拖欠的三个月工资", "category": "劳动社保",
            "location": "county_a", "facts": "某公司拖欠工资三个月，多次协商未果。",
            "petitioners": [{"name": "张三", "phone": "13800000000"}]}


@pytest.fixture
def saved(monkeypatch):
    """Every state the runtime saves, with what restores it."""
    states = []
    dumps = StateCodec.dumps

    def keep(self, workflow):
        text = dumps(self, workflow)
        states.append((self, text, workflow.spec, workflow.subprocess_specs, workflow.script_engine))
        return text

    monkeypatch.setattr(StateCodec, "dumps", keep)
    return states


def assert_read_as_restored(states) -> tuple[int, int]:
    """(plain states checked, typed states left to the restore)."""
    plain = typed = 0
    for codec, text, spec, subprocess_specs, script_engine in states:
        restored, is_plain = codec.read(text, spec, subprocess_specs, script_engine)
        shown = data_of_state(text)
        if not is_plain:
            assert shown is None
            typed += 1
            continue
        expected = view_data(restored, is_plain)
        assert json.dumps(shown, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)
        plain += 1
    return plain, typed


def test_every_state_the_shipped_processes_save_reads_as_restored(container, saved):
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")  # the smoke simulation
    simulated = len(saved)
    app = create_app(container)
    registrar, headers = api_sign_in(app, "registrar")
    for route in ({"route": "交办转送"}, {"route": "当场化解", "onspot_result": "已当场答复"}, {"route": "诉访分离"}, None):
        made = registrar.post("/api/cases", json=PETITION, headers=headers)
        assert made.status_code == 201, made.get_json()
        case = registrar.get(f"/api/cases/{made.get_json()['id']}").get_json()
        if route is not None:
            done = registrar.post(f"/api/tasks/{case['tasks'][0]['id']}/complete", headers=headers,
                                  json={"data": {**route, "triage_note": "属地办理"}, "version": case["version"]})
            assert done.status_code == 200, done.get_json()
    assert simulated > 20 and len(saved) > simulated
    plain, _typed = assert_read_as_restored(saved)
    assert plain > 20
    with container.session_factory() as s:  # the runtime's case data: what the restore gave, every case now saved
        for case in s.scalars(select(Case)):
            assert json.dumps(container.runtime.case_data(s, case), ensure_ascii=False) == \
                json.dumps(view_data(*container.runtime._read(s, case)), ensure_ascii=False)


def old_view(container, case_id: int):
    """The case view as the runtime made it from ORM objects before (session 11): the reference for `_view`."""
    rt = container.runtime
    with rt.read_sessions() as s:
        case = s.get(Case, case_id)
        items = s.scalars(select(WorkItem).where(WorkItem.case_id == case_id, WorkItem.state == "open")
                          .order_by(WorkItem.id)).all()
        incidents = s.scalars(select(Incident).where(Incident.case_id == case_id, Incident.resolved_at.is_(None))
                              .order_by(Incident.id)).all()
        timers = s.scalars(select(Timer).where(Timer.case_id == case_id, Timer.status.in_(("pending", "paused")))
                           .order_by(Timer.due_at)).all()
        return rt._case_view(case, rt.definitions.version(s, case.definition_id), items, incidents, timers,
                             view_data(*rt._read(s, case)), rt.clock.now(), s)


def test_a_case_read_is_the_view_the_orm_objects_made(container, clock):
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    rt = container.runtime
    rt.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    app = create_app(container)
    registrar, headers = api_sign_in(app, "registrar")
    made = []
    for _ in range(5):
        r = registrar.post("/api/cases", json=PETITION, headers=headers)
        assert r.status_code == 201, r.get_json()
        made.append(r.get_json()["id"])
    waiting, routed, incident, paused, late = made
    rt.complete(rt.get_case(routed).tasks[0].id, {"route": "交办转送", "triage_note": "属地办理"}, "registrar")
    assert rt.complete(rt.get_case(incident).tasks[0].id, {"route": "交办转送", "co_units": ["no_such_unit"]},
                       "registrar").status == "incident"
    rt.pause_deadlines(paused, "registrar", "听证")
    clock.set(clock.now() + timedelta(days=40))  # past the registration limits: red, reminders fired
    rt.fire_timers(late, now=clock.now())
    with container.session_factory() as s:
        every = list(s.scalars(select(Case.id)))
    seen = set()
    for case_id in every:
        new, old = rt.get_case(case_id), old_view(container, case_id)
        assert new.to_dict() == old.to_dict()
        assert json.dumps(new.to_dict(), ensure_ascii=False, default=repr) == \
            json.dumps(old.to_dict(), ensure_ascii=False, default=repr)  # the same types, in the same order
        seen.add(new.status)
        assert registrar.get(f"/api/cases/{case_id}").status_code == 200
    assert {"waiting", "incident"} <= seen
    assert rt.get_case(incident).incidents and rt.get_case(paused).paused
    assert rt.get_case(late).updated_at > rt.get_case(waiting).updated_at  # its timers fired
    assert any(d["state"] == "red" for d in rt.get_case(waiting).deadlines)
    with pytest.raises(NotFound):
        rt.get_case(999999)


def test_a_case_read_checks_the_calendar_version_with_its_case_row(container, clock):
    """The calendar's version key comes with the case row (no statement of its own), and a changed calendar is
    still seen by the next read's deadlines."""
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    rt = container.runtime
    rt.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    case_id = rt.start("petition_case", {**PETITION, "registering_unit": "city_bureau"}, actor="registrar").id
    assert rt.get_case(case_id).deadlines  # running: the view needs the calendar
    seen = statements_while(container, lambda: rt.get_case(case_id))
    assert not [q for q in seen if q.startswith("SELECT count(calendar_year.id)")], seen
    assert len([q for q in seen if q.startswith("SELECT")]) == 4  # the case (with the version key), work items,
    # incidents, timers
    with container.session_factory() as s, s.begin():
        s.execute(update(CalendarYear).where(CalendarYear.year == 2026).values(version=CalendarYear.version + 1))
        key = version_key(s)
    before = rt.get_case(case_id)
    cached_key, _calendar = rt.deadlines.calendar._cache[NATIONAL]
    assert cached_key == key and before.to_dict() == old_view(container, case_id).to_dict()


def test_a_cases_parties_are_read_as_rows_and_opened_as_the_objects_were(container, clock):
    """services/parties.py `case_parties`: the plain fields of every party, in position order, as the ORM's objects
    gave them; a party the caller's transaction added and has not flushed is there too."""
    vault = container.extras["vault"]
    now = clock.now()
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    with container.session_factory() as s, s.begin():
        case_id = container.runtime.start("petition_case", {**PETITION, "registering_unit": "city_bureau"},
                                          actor="registrar", session=s).id
        key = vault.new_data_key(s, now)
        second = parties.new_party(s, vault, key, {"name": "李四", "address": "某路1号"}, now, position=1,
                                   case_id=case_id)
        first = parties.new_party(s, vault, key, {"name": "张三", "phone": "13800000000", "id_number": "1" * 18},
                                  now, position=0, case_id=case_id)
        read = parties.case_parties(s, vault, case_id)  # not flushed yet: the session flushes before it reads
        objects = s.scalars(select(Party).where(Party.case_id == case_id).order_by(Party.position)).all()
        assert read == {p.ref: parties.opened(s, vault, p) for p in objects}
    assert list(read) == [first, second]
    assert read[first] == {"name": "张三", "id_number": "1" * 18, "phone": "13800000000"}
    assert read[second] == {"name": "李四", "address": "某路1号"}
