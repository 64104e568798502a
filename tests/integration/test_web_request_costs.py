"""Issue #21, the web layer's share of a request (session 10): what was cut must keep its answers.

- a JSON answer (`web.http.ok`) is byte for byte what `jsonify(to_jsonable(...))` sent;
- the case guard reads the columns its rule needs, not the case row's workflow state, and still answers 404 / 403;
  a case read over the API reads the state once (the engine's view), and its linked cases (both ways) as before;
- the task list's statements are built once per caller and filters, and only for the same caller and filters;
- the repeats of a case name only those the caller may see, the visibility condition built only when there are
  repeats;
- the units of the scope `all` are made once per organisation chart;
- (session 11) a SELECT sent through the driver (infra/driver_reads.py) gives the rows the session gave; a case's
  repeat links are read both ways in one statement; a task completion and the record of the full view its answer
  shows commit together, and a record that cannot be written leaves the completion kept and the answer masked.
Both databases where a database is used."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import g, jsonify
from sqlalchemy import and_, bindparam, event, select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from engine.store import Case, ProcessDefinition, WorkItem
from infra import access_log, security_log
from infra.access_log import AccessLogEntry
from infra.accounts import Unit, User, create_token, token_digest
from infra.driver_reads import DriverSelect
from infra.security_log import SecurityEvent
from services import form_checks, linked_cases, repeat_originals, retention, second_assignment, units
from services.orgchart import default_chart
from services.store.erasures import Erasure
from services.store.handling import RepeatLink
from tests.support.db import statements_while
from tests.support.web import api_sign_in, office_app
from web import auth, http, personal_data, visibility
from web.auth import load_principal
from web.desk import task_list


@pytest.fixture
def app(container):
    return office_app(container)


def petition(container, actor="registrar", **extra) -> int:
    return container.runtime.start("petition_case", {
        "title": "拖欠工资", "channel": "来访", "category": "劳动社保", "location": "county_a",
        "request": "请求支付拖欠的工资", "facts": "某公司拖欠工资三个月", "registering_unit": "city_bureau",
        "petitioner": {"name": "张三", "phone": "13912345678"}, **extra}, actor=actor).id


# ---------------------------------------------------------------- JSON answers

ANSWERS = [
    {"now": datetime(2026, 3, 2, 9, 0, 1, 5, tzinfo=UTC), "day": date(2026, 3, 2), "none": None},
    {"tasks": [{"id": 1, "due_at": datetime(2026, 3, 2, 1, 0), "ids": (1, 2, 3), "mixed": (1, "a", None)},
               {"id": 2, "due_at": None, "nested": [[date(2026, 1, 1)], {"b": 1, "a": (datetime(2026, 1, 1),)}]}],
     "名称": "中文", "total": 2, "more": False, "ratio": 0.5},
    [1, 2, {"z": 1, "a": [date(2025, 12, 31), "x"]}],
    "text",
    None,
    {},
]


@pytest.mark.parametrize("debug", [False, True])
def test_a_json_answer_is_byte_for_byte_what_jsonify_of_to_jsonable_sent(container, debug):
    app = office_app(container, deploy=False)
    app.debug = debug
    with app.test_request_context("/api/x"):
        for payload in ANSWERS:
            new, status = http.ok(payload, 201)
            old = jsonify(http.to_jsonable(payload))
            assert status == 201
            assert new.get_data() == old.get_data()
            assert new.mimetype == old.mimetype == "application/json"
        with pytest.raises(TypeError):  # what neither could encode is still refused
            http.ok({"a": {1, 2}})


# ---------------------------------------------------------------- reads through the driver

def test_a_driver_select_gives_the_rows_the_session_gave(app, container):
    """infra/driver_reads.py: the same rows (values, types, names) as `s.execute(statement, values).all()`, for
    the statements the web layer sends that way, on both databases; an expanding parameter is refused; a database
    error is SQLAlchemy's."""
    parent, child = petition(container), petition(container)
    with container.session_factory() as s, s.begin():
        s.execute(update(Case).where(Case.id == child).values(parent_case_id=parent))
        s.add(Erasure(case_id=child, rule="十年", years=10, erased_at=container.clock.now(), actor="retention"))
        s.add(RepeatLink(repeat_case_id=child, original_case_id=parent, original_case_no="X", outcome="并入原件",
                         linked_at=container.clock.now()))
        registrar = s.scalar(select(User).where(User.username == "registrar"))
        live = create_token(s, registrar, "t", container.clock.now())
        nobody = User(username="nobody", display_name="无角色", password_hash="x", active=True)
        s.add(nobody)
        s.flush()
        roleless = create_token(s, nobody, "t", container.clock.now())
    cases = {"case_id": child}, {"case_id": parent}, {"case_id": 999999}
    asked = [(auth._TOKEN_PRINCIPAL, {"token_digest": token_digest(token)}) for token in (live, roleless, "x")]
    asked += [(visibility._SEEN_BY, values) for values in cases]
    asked += [(linked_cases._BOTH_WAYS, values) for values in cases]
    asked += [(second_assignment._SERVICE_CALLS, values) for values in cases]
    asked += [(retention._ERASURE_OF.statement, values) for values in cases]
    asked += [(repeat_originals._BOTH_WAYS.statement, values) for values in cases]
    with container.extras["read_sessions"]() as s:
        for statement, values in asked:
            old = s.execute(statement, values).all()
            new = DriverSelect(statement).rows(s, values)
            assert new == [tuple(r) for r in old] and [type(v) for r in new for v in r] == \
                [type(v) for r in old for v in r], statement
            assert all(r._fields == tuple(o._mapping) for r, o in zip(new, old, strict=True))
        assert DriverSelect(asked[0][0]).rows(s, asked[0][1])  # the live token: its holder and roles
        with pytest.raises(ValueError):
            DriverSelect(select(Case.id).where(Case.id.in_(bindparam("ids", expanding=True)))).rows(s, {"ids": [1]})
        # who may read a case's personal data in full: as the statement with the contact elements in a list gave
        readers = (select(Case.started_by, WorkItem.id, WorkItem.assignee, WorkItem.role, WorkItem.unit)
                   .outerjoin(WorkItem, and_(WorkItem.case_id == Case.id, WorkItem.state == "open",
                                             WorkItem.element_id.in_(bindparam("elements", expanding=True))))
                   .where(Case.id == bindparam("case_id")))
        open_elements = sorted({w.element_id for w in s.scalars(select(WorkItem).where(WorkItem.state == "open"))})
        for elements in ((), tuple(open_elements), tuple(open_elements[:1]), ("Task_none",)):
            for values in cases:
                assert personal_data._readers_of_case(elements).rows(s, values) == \
                    s.execute(readers, {**values, "elements": list(elements)}).all()
    if container.engine.dialect.name == "postgresql":
        with container.extras["read_sessions"]() as s, pytest.raises(DBAPIError):
            DriverSelect(select(Case.id).where(Case.id == bindparam("case_id"))).rows(s, {"case_id": "not a number"})


# ---------------------------------------------------------------- the case guard and the case view

def test_reading_a_case_reads_its_workflow_state_once_and_the_guard_still_refuses(app, container):
    case_id = petition(container)
    registrar, _ = api_sign_in(app, "registrar")
    answers = []
    seen = statements_while(container, lambda: answers.append(registrar.get(f"/api/cases/{case_id}")))
    assert answers[0].status_code == 200, answers[0].get_json()
    reads_state = [q for q in seen if q.startswith("SELECT") and "case_instance.state," in q]
    assert len(reads_state) == 1, reads_state  # the engine's view; not the guard, not the linked cases
    assert answers[0].get_json()["linked_cases"] == [] and answers[0].get_json()["parent_case"] is None
    assert registrar.get("/api/cases/999999").status_code == 404
    other, _ = api_sign_in(app, "handler_b")  # a unit the case never reached
    assert other.get(f"/api/cases/{case_id}").status_code == 403


def test_the_guard_follows_the_discipline_track_from_the_columns_it_reads(app, container):
    case_id = petition(container)
    registrar, _ = api_sign_in(app, "registrar")
    assert registrar.get(f"/api/cases/{case_id}").status_code == 200
    with container.session_factory() as s, s.begin():  # on the discipline track, gone to a unit not the registrar's
        s.execute(update(Case).where(Case.id == case_id).values(confidential=True, confidential_unit="county_b"))
    assert registrar.get(f"/api/cases/{case_id}").status_code == 403
    with container.session_factory() as s:
        with pytest.raises(Exception) as refused:
            visibility.check_visible_case(s, _principal(app, "registrar"), case_id)
        assert getattr(refused.value, "status", None) == 403


def _principal(app, username):
    c = app.extensions["lianxin"]
    with c.session_factory() as s:
        return load_principal(s, s.scalar(select(User).where(User.username == username)))


def test_a_linked_case_and_its_parent_are_listed_both_ways(app, container):
    parent, child, second = petition(container), petition(container), petition(container)
    with container.session_factory() as s, s.begin():
        s.execute(update(Case).where(Case.id.in_([second, child])).values(parent_case_id=parent))
    with container.session_factory() as s:  # one statement: what the two functions give
        for case_id in (parent, child, second, 999999):
            assert linked_cases.both_ways(s, case_id) == (linked_cases.linked_cases(s, case_id),
                                                          linked_cases.parent_case(s, case_id))
        assert [c["id"] for c in linked_cases.both_ways(s, parent)[0]] == [child, second]
    with container.session_factory() as s, s.begin():
        s.execute(update(Case).where(Case.id == second).values(parent_case_id=None))
    registrar, _ = api_sign_in(app, "registrar")
    of_parent, of_child = (registrar.get(f"/api/cases/{i}").get_json() for i in (parent, child))
    assert [c["id"] for c in of_parent["linked_cases"]] == [child] and of_parent["parent_case"] is None
    assert of_child["parent_case"]["id"] == parent and of_child["linked_cases"] == []
    shown = of_child["parent_case"]
    assert shown["title"] == "拖欠工资" and shown["process_key"] == "petition_case" and shown["status"] == "waiting"
    assert shown["created_at"] and shown["completed_at"] is None and "case_no" in shown
    with container.session_factory() as s:
        assert linked_cases.parent_case(s, 999999) is None and linked_cases.linked_cases(s, 999999) == []


# ---------------------------------------------------------------- repeats

def test_the_visibility_of_repeats_is_built_only_when_there_are_repeats(app, container):
    original, repeat = petition(container), petition(container)
    asked = []

    def nobody_sees():
        asked.append(1)
        return Case.id.is_(None)

    with container.session_factory() as s:
        assert repeat_originals.repeats_of(s, original, nobody_sees) == [] and asked == []
    with container.session_factory() as s, s.begin():
        s.add(RepeatLink(repeat_case_id=repeat, original_case_id=original, original_case_no="X",
                         outcome="并入原件", linked_at=container.clock.now()))
    with container.session_factory() as s:
        [hidden] = repeat_originals.repeats_of(s, original, nobody_sees)
        [named] = repeat_originals.repeats_of(s, original, lambda: Case.id.is_not(None))
    assert asked == [1] and hidden["case_id"] is None and hidden["case_no"] is None
    assert named["case_id"] == repeat and named["case_no"]


def test_the_links_of_a_case_both_ways_are_what_the_two_functions_give(app, container):
    first, original, repeat, later, alone = (petition(container) for _ in range(5))
    now = container.clock.now()
    with container.session_factory() as s, s.begin():  # `original` repeats `first`; two repeats of `original`
        s.add_all([RepeatLink(repeat_case_id=original, original_case_id=first, original_case_no="A",
                              outcome="并入原件", linked_at=now),
                   RepeatLink(repeat_case_id=later, original_case_id=original, original_case_no="B",
                              outcome="不予受理", linked_at=now + timedelta(hours=2)),
                   RepeatLink(repeat_case_id=repeat, original_case_id=original, original_case_no="B",
                              outcome="并入原件", linked_at=now + timedelta(hours=1))])
    asked = []

    def only(case_id):
        def condition():
            asked.append(case_id)
            return Case.id == repeat
        return condition

    with container.session_factory() as s:
        for case_id in (first, original, repeat, later, alone, 999999):
            for visible in (None, only(case_id)):
                assert repeat_originals.both_ways(s, case_id, visible) == (
                    repeat_originals.original_of(s, case_id), repeat_originals.repeats_of(s, case_id, visible))
        both = repeat_originals.both_ways(s, original, lambda: Case.id == repeat)
    assert sorted(set(asked)) == sorted([first, original])  # only where there are repeats
    assert both[0]["case_id"] == first and both[0]["case_no"] == "A"
    assert [(r["case_id"], r["outcome"]) for r in both[1]] == [(repeat, "并入原件"), (None, "不予受理")]
    registrar, _ = api_sign_in(app, "registrar")  # the case view: the same, in one statement
    seen = statements_while(container, lambda: registrar.get(f"/api/cases/{alone}"))
    assert len([q for q in seen if "FROM repeat_link" in q]) == 1
    shown = registrar.get(f"/api/cases/{original}").get_json()
    assert shown["repeat_of"]["case_id"] == first and [r["outcome"] for r in shown["repeats"]] == ["并入原件", "不予受理"]


# ---------------------------------------------------------------- the task list

def test_the_task_list_statements_are_kept_per_caller_and_filters_only(app, container):
    petition(container)
    c = container
    registrar, handler = _principal(app, "registrar"), _principal(app, "handler")
    unit = task_list.TaskFilters()
    overdue = task_list.TaskFilters(overdue=True)
    now = c.clock.now()
    task_list._BUILT.clear()
    first = task_list._statements(registrar, unit, now)
    assert task_list._statements(registrar, unit, now) is first
    assert task_list._statements(handler, unit, now) is not first
    assert task_list._statements(registrar, task_list.TaskFilters(sort="-due"), now) is not first
    assert task_list._statements(registrar, overdue, now) is not task_list._statements(registrar, overdue, now)
    more = task_list.Principal(**{**registrar.__dict__, "role_units": registrar.role_units | {("leader", "x")}})
    assert task_list._statements(more, unit, now) is not first  # a role more is another caller
    with c.extras["read_sessions"]() as s:  # kept or built anew: the same page
        kept = task_list.fetch(s, registrar, unit, now, 20, 0)
        task_list._BUILT.clear()
        fresh = task_list.fetch(s, registrar, unit, now, 20, 0)
        assert [r[0].id for r in kept.rows] == [r[0].id for r in fresh.rows] and kept.total == fresh.total > 0
        later = task_list.fetch(s, registrar, overdue, now + timedelta(days=400), 20, 0)
        assert later.total == kept.total  # a year on, everything with a due date is overdue


# ---------------------------------------------------------------- units in scope

def test_the_units_of_every_scope_are_made_once_per_chart_and_handed_out_as_copies():
    chart = default_chart()
    every = form_checks.units_in_scope(chart, "all", "city_bureau")
    assert [c.code for c in every] == sorted(chart.units)
    assert [c.code for c in every if c.own] == ["city_bureau"]
    every.clear()  # a caller's copy
    again = form_checks.units_in_scope(chart, "all", "city_bureau")
    assert len(again) == len(chart.units)
    assert [c.code for c in form_checks.units_in_scope(chart, "all", "county_a") if c.own] == ["county_a"]


# ---------------------------------------------------------------- a completion's form checks

def test_a_completion_reads_its_forms_deployment_with_the_task(app, container):
    case_id = petition(container)
    task = next(t for t in container.runtime.get_case(case_id).tasks if t.name == "分流研判")
    with container.session_factory() as s:
        item = visibility.work_item_for_action(s, _principal(app, "registrar"), task.id)
        case = s.get(Case, case_id)
        deployed = s.execute(select(ProcessDefinition.id, ProcessDefinition.content_hash)
                             .where(ProcessDefinition.id == case.definition_id)).one()
    assert item.case_deployment == tuple(deployed)
    registrar, headers = api_sign_in(app, "registrar")
    version = registrar.get(f"/api/cases/{case_id}").get_json()["version"]
    answers = []
    seen = statements_while(container, lambda: answers.append(registrar.post(
        f"/api/tasks/{task.id}/complete", json={"data": {"route": "交办转送"}, "version": version}, headers=headers)))
    assert answers[0].status_code == 200, answers[0].get_json()
    assert not [q for q in seen if q.startswith("SELECT process_definition.id, process_definition.content_hash")]
    other = petition(container)  # the form, read through the deployment found with the task, still refuses
    task = next(t for t in container.runtime.get_case(other).tasks if t.name == "分流研判")
    refused = registrar.post(f"/api/tasks/{task.id}/complete", json={"data": {"route": "没有这种分流"}},
                             headers=headers)
    assert refused.status_code == 422, refused.get_json()
    assert any(e["field"] == "route" for e in refused.get_json()["error"]["details"])
    assert any(t.id == task.id for t in container.runtime.get_case(other).tasks)  # nothing was saved: still open


# ---------------------------------------------------------------- a registration's checks

def test_the_places_and_the_registering_office_are_what_the_unit_table_says(app, container):
    with container.session_factory() as s:
        tiers = default_chart().tier_levels()
        assert units.locations(s) == [tuple(r) for r in s.execute(
            select(Unit.code, Unit.name).where(Unit.kind.in_(tiers)).order_by(Unit.kind.desc(), Unit.code))]
        assert units.locations(s) and {code for code, _ in units.locations(s)} >= {"county_a", "county_b"}
        offices = sorted(s.scalars(select(Unit.code).where(Unit.kind == "petition_office")))
        assert units.registering_office(s, [offices[-1], offices[0], "county_a"]) == offices[0]
        assert units.registering_office(s, ["county_a"]) == units.registering_office(s, []) == units.CITY_BUREAU


def test_the_office_and_the_places_read_together_are_what_each_read_gives(app, container):
    """A registration reads its office and the places in one statement: the same as the two reads, for no unit,
    units that are no office, one office, several (the first by the database's order), and unknown codes."""
    with container.session_factory() as s:
        s.add(Unit(code="county_a_office_2", name="第二信访办", kind="petition_office", parent_code="county_a"))
        s.flush()
        offices = list(s.scalars(select(Unit.code).where(Unit.kind == "petition_office").order_by(Unit.code)))
        assert len(offices) >= 2
        for given in ([], ["county_a"], [offices[0]], [offices[-1]], list(reversed(offices)),
                      [offices[-1], "no_such_unit", "county_b"], ["no_such_unit"], offices + ["city_bureau"]):
            assert units.office_and_locations(s, given) == (units.registering_office(s, given), units.locations(s))
            assert units.office_and_locations(s, set(given)) == units.office_and_locations(s, given)
        assert units.office_and_locations(s, [offices[-1], offices[0]])[0] == offices[0]
        s.rollback()


# ---------------------------------------------------------------- a completion's answer and its full-view record

def _without_ids(answer: dict) -> str:
    """An answer with what two otherwise identical cases differ in (their ids, their case numbers) left out."""
    def drop(value):
        if isinstance(value, dict):
            return {k: drop(v) for k, v in value.items() if k not in ("id", "case_id", "task_id", "case_no")}
        return [drop(v) for v in value] if isinstance(value, list) else value

    return json.dumps(drop(answer), ensure_ascii=False, sort_keys=True).replace(answer["data"]["case_no"], "<case_no>")


def _triage(container, case_id):
    return next(t for t in container.runtime.get_case(case_id).tasks if t.name == "分流研判")


def _full_view_rows(container, case_id):
    with container.session_factory() as s:
        logged = [(r.username, r.what) for r in s.scalars(select(AccessLogEntry).where(
            AccessLogEntry.case_id == case_id, AccessLogEntry.what.like("%.full")))]
        linked = [json.loads(r.detail) for r in s.scalars(select(SecurityEvent).where(
            SecurityEvent.kind == "personal_data_view"))]
    return logged, [d for d in linked if d["case_id"] == case_id]


def test_a_completion_commits_once_with_its_full_view_record_and_answers_as_before(app, container):
    """The full view an answer to a completion shows is recorded in the completion's transaction: one commit for
    both. The answer is what the completion on its own and the full view recorded after it answered."""
    kept, moved = petition(container), petition(container)
    registrar, headers = api_sign_in(app, "registrar")
    commits = []
    listen = (container.engine, "commit", lambda conn: commits.append(1))
    event.listen(*listen)
    try:
        r = registrar.post(f"/api/tasks/{_triage(container, moved).id}/complete",
                           json={"data": {"route": "交办转送"}}, headers=headers)
    finally:
        event.remove(*listen)
    assert r.status_code == 200, r.get_json()
    assert len(commits) == 1  # the completion and the record together (before: two commits)
    assert _full_view_rows(container, moved) == ([("registrar", "api.complete_task.full")],
                                                  [{"case_id": moved, "what": "api.complete_task.full"}])
    with container.session_factory() as s:
        assert security_log.verify(s).ok
    # the same completion the way it was answered before: the step in its own transaction, then the rule asked
    # and the view recorded in another
    with app.test_request_context(f"/api/tasks/{_triage(container, kept).id}/complete", method="POST"):
        g.principal = _principal(app, "registrar")
        view = container.runtime.complete(_triage(container, kept).id, {"route": "交办转送"}, actor="registrar")
        before, _ = http.ok(personal_data.case_view(g.principal, personal_data.view_dict(view)))
    new, old = r.get_json(), json.loads(before.get_data())
    assert new["data"]["petitioner"] == {"name": "张三", "phone": "13912345678"}  # in full
    assert _without_ids(new) == _without_ids(old) and new["id"] == moved and old["id"] == kept


@pytest.mark.parametrize("broken", ["access_log", "security_log"])
def test_a_completion_whose_full_view_cannot_be_recorded_is_kept_and_answered_masked(app, container, monkeypatch,
                                                                                   broken):
    case_id = petition(container)
    task = _triage(container, case_id)
    registrar, headers = api_sign_in(app, "registrar")

    def fails(*_args, **_kwargs):
        raise OperationalError("INSERT", {}, Exception("disk full"))

    if broken == "access_log":
        monkeypatch.setattr(personal_data.access_log, "record", fails)
    else:
        monkeypatch.setattr(personal_data.security_events.security_log, "append_in", fails)
    r = registrar.post(f"/api/tasks/{task.id}/complete", json={"data": {"route": "交办转送"}}, headers=headers)
    assert r.status_code == 200, r.get_json()
    answer = json.dumps(r.get_json(), ensure_ascii=False)
    assert "13912345678" not in answer and "139****5678" in answer  # masked
    assert r.get_json()["version"] == container.runtime.get_case(case_id).version  # the completion is kept
    assert all(t.id != task.id for t in container.runtime.get_case(case_id).tasks)
    assert _full_view_rows(container, case_id) == ([], [])  # neither row of the record
    monkeypatch.undo()
    with container.session_factory() as s:
        assert security_log.verify(s).ok


def test_the_security_log_and_the_access_log_rows_are_the_ones_written_before(container):
    """On PostgreSQL both are written through the driver (infra/security_log.py, infra/access_log.py): the same
    values, truncations, chain and hashes, from a session or a connection."""
    at = container.clock.now()
    detail_text = '{"a":"中","b":1}'
    with container.session_factory() as s, s.begin():
        security_log.append_in(s, at=at, actor="a" * 70, kind="export", ip="1.2.3.4", detail={"b": 1, "a": "中"})
        security_log.append_in(s, at=at + timedelta(seconds=1), actor="", kind="export")
    with container.engine.begin() as conn:
        security_log.append_in(conn, at=at, actor="c", kind="personal_data_view", detail={"case_id": 7})
        access_log.record(conn, at=at, username="u" * 70, case_id=7, what="w" * 60, method="GET", path="/p" * 300,
                          status=200, remote_addr="")
    with container.session_factory() as s:
        rows = [security_log.to_dict(r) for r in s.scalars(select(SecurityEvent).order_by(SecurityEvent.seq))]
        logged = s.scalars(select(AccessLogEntry)).one()
        assert security_log.verify(s).ok and security_log.verify(s).rows == 3
    first = rows[0]
    assert (first["seq"], first["actor"], first["kind"], first["ip"], first["prev_hash"]) == \
        (1, "a" * 64, "export", "1.2.3.4", security_log.GENESIS)
    assert first["hash"] == security_log.row_hash(1, at, "a" * 64, "export", "1.2.3.4", detail_text,
                                                  security_log.GENESIS)
    assert rows[1]["actor"] == "-" and rows[1]["prev_hash"] == first["hash"] and rows[1]["ip"] == "-"
    assert rows[2]["detail"] == {"case_id": 7} and rows[2]["prev_hash"] == rows[1]["hash"]
    assert (logged.at, logged.username, logged.what, logged.path, logged.remote_addr, logged.status) == \
        (at, "u" * 64, "w" * 48, ("/p" * 300)[:500], "-", 200)
