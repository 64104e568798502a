"""二次交办's area rule and the handler, on an organisation with townships (services/second_assignment.py)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.handlers import HandlerContext
from services import second_assignment as sa
from services.orgchart import OrgChart, OrgUnit, default_chart


def chart() -> OrgChart:
    c = OrgChart(tiers=default_chart().tiers)
    for u in [OrgUnit("city", "某某市", "city"), OrgUnit("city_bureau", "市信访局", "petition_office", "city"),
              OrgUnit("city_env", "市生态环境局", "department", "city"),
              OrgUnit("county_a", "东城县", "county", "city"),
              OrgUnit("county_a_office", "东城县信访局", "petition_office", "county_a"),
              OrgUnit("county_a_env", "东城县生态环境局", "department", "county_a"),
              OrgUnit("county_a_t1", "东城县第一镇", "township", "county_a"),
              OrgUnit("county_a_jm", "东城县联席办", "joint_meeting_office", "county_a"),
              OrgUnit("county_b", "西山县", "county", "city"),
              OrgUnit("county_b_env", "西山县生态环境局", "department", "county_b")]:
        c.units[u.code] = u
    return c


def test_a_county_office_passes_on_to_its_own_departments_and_townships_only():
    c = chart()
    assert [u.code for u in sa.subordinate_units(c, "county_a_office")] == ["county_a_env", "county_a_t1"]
    assert [u.code for u in sa.subordinate_units(c, "city_bureau")] == ["city_env"]  # not the counties' units
    assert sa.subordinate_units(c, "county_a_env") == []  # a department does not pass on
    assert sa.refusal(c, "county_a_office", "county_a_t1") is None
    outside = sa.refusal(c, "county_a_office", "county_b_env")
    assert "不在东城县信访局的辖区内" in outside and "东城县第一镇（county_a_t1）" in outside
    assert "不在组织机构中" in sa.refusal(c, "county_a_office", "nowhere")
    assert "不在东城县信访局的辖区内" in sa.refusal(c, "county_a_office", "county_a_jm")
    assert "不是信访部门" in sa.refusal(c, "county_a_env", "county_a_t1")


def test_only_fields_scoped_to_the_office_s_area_are_checked_and_the_units_are_listed():
    schema = {"properties": {"second_unit": {"type": "string", "format": "lianxin-unit", "x-unit-scope": "subordinate"},
                             "other_unit": {"type": "string", "format": "lianxin-unit"}}}
    errors, units = sa.scope_problems(schema, {"second_unit": "county_b_env", "other_unit": "county_b_env"},
                                      "county_a_office", chart())
    assert list(errors) == ["second_unit"]
    assert units == [{"code": "county_a_env", "name": "东城县生态环境局"}, {"code": "county_a_t1", "name": "东城县第一镇"}]
    assert sa.scope_problems(schema, {"second_unit": "county_a_t1"}, "county_a_office", chart()) == ({}, [])
    assert sa.scope_problems(schema, {}, "county_a_office", chart()) == ({}, [])


def _ctx(data=None):
    return HandlerContext(case_id=1, element_id="Task_second_assign", now=datetime(2026, 3, 5, tzinfo=UTC),
                          actor="county", data=data or {}, ports={"organisation": chart()})


def test_the_handler_makes_the_office_the_assigning_office_and_refuses_outside_its_area():
    before = {"unit": "county_a_office", "assigning_unit": "city_bureau", "dispatch_type": "交办",
              "co_units": [{"unit": "county_a_t1", "unit_name": "东城县第一镇"}]}
    out = sa.second_assign(sa.SecondAssignInput(before, "county_a_env"), _ctx({"second_note": "请核实"}))
    assert (out["unit"], out["assigning_unit"], out["dispatch_type"], out["unit_kind"]) == \
        ("county_a_env", "county_a_office", "二次交办", "department")
    assert out["passed_from"]["assigning_unit"] == "city_bureau" and out["note"] == "请核实"
    assert out["co_units"] == before["co_units"]
    with pytest.raises(ValueError, match="辖区"):
        sa.second_assign(sa.SecondAssignInput(before, "county_b_env"), _ctx())
