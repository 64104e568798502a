"""检举控告按干部管理权限移送 (services.casework.route_out / accusation_organ) and the deploy check that keeps the
accusation route confidential (services.confidential_routes)."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.definitions import CompiledProcess
from engine.handlers import HandlerContext
from services import confidential_routes
from services.casework import RouteOutInput, accusation_organ, route_out
from services.orgchart import OrgChart, OrgUnit, Tier

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def ctx(data=None) -> HandlerContext:
    return HandlerContext(case_id=5, element_id="Task_x", now=NOW, actor="registrar", data=data or {})


@pytest.mark.parametrize(("level", "selection", "location", "unit"), [
    ("乡科级及以下", False, "county_a", "county_a_cdi"),
    ("县管", False, "county_b", "county_b_cdi"),
    ("县管", False, "county_a_hrss", "county_a_cdi"),  # a department's matter: its county
    ("市管", False, "county_a", "city_cdi"),
    ("县管", True, "county_a", "county_a_org"),
    ("市管", True, "county_b", "city_org"),
    ("省管", False, "county_a", "city_cdi"),  # no provincial organ in this system: the highest one forwards it
    ("县管", False, "city", "city_cdi"),  # raised at the city itself: the nearest level there is
])
def test_accusations_go_by_management_level(level, selection, location, unit):
    out = route_out(RouteOutInput("纪检监察", location, "XF1"),
                    c := ctx({"respondent_level": level, "cadre_selection": selection}))
    assert out["unit"] == unit and out["confidential"] is True and level in out["basis"]
    assert c.effects == [("confidential", {"unit": unit})]
    assert [n["to"] for n in out["notices"]] == [[{"unit": unit, "role": "receiver"}]]  # not the petitioner


def test_an_accusation_without_the_management_level_is_refused_with_what_to_fill_in():
    with pytest.raises(ValueError, match="被反映人管理权限"):
        route_out(RouteOutInput("纪检监察", "county_a", "XF1"), ctx())
    with pytest.raises(ValueError, match="被反映人管理权限"):
        route_out(RouteOutInput("纪检监察", "county_a", "XF1"), ctx({"respondent_level": "厅局级"}))


def _chart(*units) -> OrgChart:
    chart = OrgChart(tiers=(Tier("county", "县级", "县级联席会议"), Tier("city", "市级", "市级联席会议"),
                            Tier("province", "省级", "省级联席会议")))
    for u in units:
        chart.units[u.code] = u
    return chart


def test_a_level_without_its_organ_is_a_clear_error_never_a_lower_organ():
    chart = _chart(OrgUnit("p", "某省", "province"), OrgUnit("c", "某市", "city", "p"),
                   OrgUnit("k", "某县", "county", "c"), OrgUnit("k_cdi", "某县纪委监委", "discipline", "k"))
    with pytest.raises(LookupError, match="某市没有纪检监察机关"):
        accusation_organ(chart, "k", "市管", False)  # a city cadre's file never goes down to the county
    organ, basis = accusation_organ(chart, "k", "省管", False)
    assert organ.code == "k_cdi" and "转报" in basis
    with pytest.raises(LookupError, match="本系统任何一级没有组织部"):
        accusation_organ(chart, "k", "省管", True)


def test_the_shipped_process_keeps_its_accusation_route_confidential():
    source = (ROOT / "processes" / "petition_case.bpmn").read_text(encoding="utf-8")
    routes = confidential_routes.accusation_routes(source, "petition_case.bpmn")
    assert len(routes) == 1 and routes[0][2] is True
    process = CompiledProcess("petition_case", "x", "h", "{}", {"petition_case.bpmn": source}, {}, {}, True)
    assert confidential_routes.problems_for(process) == []


def test_a_version_dropping_the_confidential_property_is_a_problem_naming_file_line_and_element():
    source = (ROOT / "processes" / "petition_case.bpmn").read_text(encoding="utf-8")
    dropped = source.replace('<spiffworkflow:property name="confidential" value="True"/>', "")
    process = CompiledProcess("petition_case", "x", "h", "{}", {"petition_case.bpmn": dropped}, {}, {}, True)
    [problem] = confidential_routes.problems_for(process)
    line = next(i for i, text in enumerate(dropped.splitlines(), 1) if 'id="Task_route_discipline"' in text)
    assert (problem.file, problem.line, problem.element_id) == ("petition_case.bpmn", line, "Task_route_discipline")
    assert "confidential" in problem.message and "保密" in problem.message
