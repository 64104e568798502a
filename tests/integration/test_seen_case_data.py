"""Issue #21: the form checks of a task completion take the case data this process made at the case's current
version (a case read just before, web/seen_case_data.py) instead of restoring the workflow again; a case at
another version is restored. Both databases."""
from __future__ import annotations

import pytest

from tests.support.web import api_sign_in, office_app
from web import seen_case_data
from web.desk import api as desk_api


@pytest.fixture
def app(container):
    return office_app(container)


def a_petition_at_triage(container) -> int:
    """Registered at the city desk by `registrar`; its triage (分流研判) is open, its responsible unit left to the
    routing table's suggestion (the form's default, `unit_rule.unit` of the case data)."""
    return container.runtime.start("petition_case", {
        "title": "工伤认定久拖不决", "channel": "来访", "category": "劳动社保", "location": "county_a",
        "request": "要求尽快作出工伤认定", "facts": "2025年受伤，至今未认定", "registering_unit": "city_bureau",
        "petitioner": {"name": "张三", "phone": "13912345678"}}, actor="registrar").id


def triage_of(container, case_id):
    return next(t for t in container.runtime.get_case(case_id).tasks if t.name == "分流研判")


def restores_counted(container, monkeypatch) -> list[int]:
    calls: list[int] = []
    restore = container.runtime.case_data

    def counted(s, case):
        calls.append(case.id)
        return restore(s, case)

    monkeypatch.setattr(container.runtime, "case_data", counted)
    return calls


def test_a_completion_after_reading_the_case_checks_its_form_without_restoring_the_workflow(app, container,
                                                                                            monkeypatch):
    case_id = a_petition_at_triage(container)
    registrar, headers = api_sign_in(app, "registrar")
    read = registrar.get(f"/api/cases/{case_id}").get_json()
    task = triage_of(container, case_id)
    restores = restores_counted(container, monkeypatch)
    done = registrar.post(f"/api/tasks/{task.id}/complete", json={"data": {"route": "交办转送"},
                                                                 "version": read["version"]}, headers=headers)
    assert done.status_code == 200, done.get_json()
    assert restores == []  # the default unit came from the data read with the case, at the same version
    assert read["data"]["unit_rule"]["unit"] and done.get_json()["data"]["route"] == "交办转送"


def test_data_kept_at_an_older_version_is_not_used(app, container, monkeypatch):
    case_id = a_petition_at_triage(container)
    registrar, _ = api_sign_in(app, "registrar")
    at_triage = registrar.get(f"/api/cases/{case_id}").get_json()
    container.runtime.complete(triage_of(container, case_id).id, {"route": "交办转送"}, actor="registrar")
    restores = restores_counted(container, monkeypatch)
    with app.test_request_context():
        data = desk_api._case_data(case_id)
    assert restores == [case_id]  # the case moved on: its data is made again, at the new version
    assert data["route"] == "交办转送" and "route" not in at_triage["data"]
    assert data == container.runtime.get_case(case_id).data


def test_the_kept_data_is_a_copy_per_reader_and_the_table_keeps_the_newest_cases():
    table = seen_case_data.SeenCaseData(size=2)
    table.keep(1, 3, {"a": [1]})
    first = table.get(1, 3)
    first["a"].append(2)
    assert table.get(1, 3) == {"a": [1]} and table.get(1, 4) is None
    table.keep(2, 1, {})
    table.keep(3, 1, {})
    assert table.get(1, 3) is None and table.get(2, 1) == {} and table.get(3, 1) == {}
    small = seen_case_data.SeenCaseData(size=10, max_chars=20)  # and at most so many characters of data
    small.keep(1, 1, {"a": "x" * 8})
    small.keep(2, 1, {"b": "y" * 8})
    small.keep(3, 1, {"c": "z" * 40})  # larger than the whole table: not kept
    assert small.get(1, 1) is None and small.get(2, 1) == {"b": "y" * 8} and small.get(3, 1) is None
