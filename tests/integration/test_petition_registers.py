"""The petition processes against the real runtime: demo cases reach their states, and the four lists land in
the case registers in the step's own transaction, queryable per unit and per leader across cases."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.definitions import collect_files
from engine.store import Case, CaseRegister
from services.demo_cases import DEMO_PETITIONS, load_petition_cases

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rt(container):
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    return container.runtime


def registers(container, **where) -> list[CaseRegister]:
    with container.session_factory() as s:
        q = select(CaseRegister)
        for column, value in where.items():
            q = q.where(getattr(CaseRegister, column) == value)
        return list(s.scalars(q.order_by(CaseRegister.id)))


def test_demo_cases_reach_several_states(rt, container):
    lines = load_petition_cases(rt)
    assert len(lines) == len(DEMO_PETITIONS)
    states = {}
    with container.session_factory() as s:  # ids not always from 1: a deploy's simulation uses some on PostgreSQL
        case_ids = list(s.scalars(select(Case.id).order_by(Case.id)))[:len(DEMO_PETITIONS)]
    for case_id in case_ids:
        view = rt.get_case(case_id)
        assert not view.incidents, view.incidents
        states[view.data.get("title") or case_id] = (view.status, sorted(t.name for t in view.tasks))
    assert states["反映小区供暖不达标"] == ("waiting", ["分流研判"])
    assert states["企业拖欠农民工工资"][1] == ["签收或提出异议"]
    assert states["对社保缴费基数有疑问"][0] == "completed"
    assert states["不服劳动争议判决"][0] == "completed"
    assert "复查并出具复查意见" in states["医保报销比例争议"][1]
    assert "向市信访局反馈（3个工作日）" in states["拆迁安置房迟迟未交付"][1]
    # the lead unit handles while the co-unit reports its opinion (one task each)
    assert states["工地欠薪涉及建设和人社两个部门"][1] == ["办理并拟写答复意见", "报送协办意见"]
    assert states["破产企业职工安置"][1] == ["了解情况（3个工作日）"]


def test_four_lists_are_queryable_per_unit_and_leader_across_cases(rt, container):
    load_petition_cases(rt)
    open_resolution = registers(container, register="resolution", unit="county_a_hrss", status="open")
    # pending signature, in handling (two: one with a co-unit), replied awaiting sign-off, escalated
    assert len(open_resolution) == 5
    closed = registers(container, register="resolution", status="closed")
    assert [json.loads(r.data)["status"] for r in closed] == ["已办结"]
    [owned] = registers(container, register="leader_case", person="赵副县长")
    assert owned.unit == "county_a" and owned.status == "open"
    assert json.loads(owned.data)["task_force"] == ["county_a_housing", "county_a_office"]
    [stabilisation] = registers(container, register="stabilisation", person="赵副县长")
    assert "演示信访人" not in stabilisation.data and "petitioner" not in json.loads(stabilisation.data)


def test_a_list_row_about_a_petitioner_is_refused():
    from services.four_lists import upsert

    with pytest.raises(ValueError, match="信访人"):
        upsert(None, "稳控", "k", {"unit": "county_a", "whereabouts": "北京"}, "2026-03-02T09:00:00+08:00")


def test_the_four_lists_over_http_per_unit_and_leader(rt, container):
    from services.organisation import load_organisation
    from web.app import create_app

    load_petition_cases(rt)
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    app = create_app(container)
    bureau = app.test_client()
    assert bureau.post("/api/session", json={"username": "bureau", "password": "demo"}).status_code == 201
    leader_rows = bureau.get("/api/registers/leader_case").get_json()["rows"]
    assert leader_rows, "the 13710 demo case names a case-owning leader"
    person = leader_rows[0]["person"]
    mine = bureau.get(f"/api/registers/leader_case?person={person}").get_json()["rows"]
    assert mine and all(r["person"] == person for r in mine)
    assert bureau.get("/api/registers/no_such_list").status_code == 404
    other = app.test_client()
    other.post("/api/session", json={"username": "handler_b", "password": "demo"})
    units_b = {r["unit"] for r in other.get("/api/registers/resolution").get_json()["rows"]}
    assert units_b <= {"county_b", "county_b_office", "county_b_hrss", "county_b_housing"}
