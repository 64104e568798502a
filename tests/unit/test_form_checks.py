"""Unit fields of forms (`"format": "lianxin-unit"`), the routable scope, the suggestion taken by default, the
fields a case requires, and the deployment check of routing tables (no database, no engine)."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from werkzeug.datastructures import MultiDict

from services import form_checks as fc
from services.casework import ResolveUnitInput, resolve_responsible_unit
from services.orgchart import default_chart
from services.routing_check import problems_in
from web.desk import forms, handling

ROOT = Path(__file__).resolve().parents[2]
TRIAGE = json.loads((ROOT / "processes" / "forms" / "triage.schema.json").read_text(encoding="utf-8"))
HANDLING = json.loads((ROOT / "processes" / "forms" / "handling.schema.json").read_text(encoding="utf-8"))
ROUTING = (ROOT / "processes" / "routing.dmn").read_text(encoding="utf-8")
CASE = {"unit_rule": {"unit": "county_a_hrss", "dispatch": "转送", "basis": "谁主管谁负责"}}


def codes(choices):
    return [c.code for c in choices]


def test_the_city_bureau_routes_to_its_level_and_below_with_itself_last():
    chart = default_chart()
    found = fc.routable_units(chart, "city_bureau")
    assert "county_a_hrss" in codes(found) and "county_b_office" in codes(found)
    assert codes(found)[-1] == "city_bureau" and found[-1].own
    # no governments, no joint-meeting offices, nothing above the city
    assert not {"city", "county_a", "city_jm", "county_a_jm", "prov", "prov_jm"} & set(codes(found))


def test_a_county_office_routes_within_its_county_only():
    found = codes(fc.routable_units(default_chart(), "county_a_office"))
    assert "county_a_hrss" in found and "county_a_housing" in found
    assert "county_b_hrss" not in found and "city_bureau" not in found
    assert found[-1] == "county_a_office"


def test_search_finds_units_by_part_of_the_name():
    found = fc.search(default_chart(), "routable", "city_bureau", "住房")
    assert codes(found) == ["city_housing", "county_a_housing", "county_b_housing"]
    assert fc.search(default_chart(), "routable", "county_a_office", "西山") == []


def test_a_unit_outside_the_scope_or_unknown_is_refused_with_the_valid_units():
    chart = default_chart()
    data = {"route": "交办转送", "responsible_unit": "county_b_hrss", "co_units": ["county_z_water"]}
    problems = {p.field: p for p in fc.check(TRIAGE, data, chart, "county_a_office", CASE)}
    assert set(problems) == {"responsible_unit", "co_units"}
    assert "西山县人力资源和社会保障局" in problems["responsible_unit"].text()
    assert "不在本机关可转送交办的范围内" in problems["responsible_unit"].text()
    assert "county_z_water" in problems["co_units"].text()
    valid = problems["co_units"].json()["valid_units"]
    assert {"code": "county_a_hrss", "name": "东城县人力资源和社会保障局"} in valid
    assert all(u["code"] != "county_b_hrss" for u in valid)


def test_units_in_scope_pass():
    data = {"route": "交办转送", "responsible_unit": "county_b_hrss", "co_units": ["county_a_housing"]}
    assert fc.check(TRIAGE, data, default_chart(), "city_bureau", CASE) == []


def test_an_empty_unit_takes_the_suggestion_when_it_is_usable():
    chart = default_chart()
    assert fc.check(TRIAGE, {"route": "交办转送"}, chart, "city_bureau", CASE) == []
    unknown = {"unit_rule": {"unit": "prov_hrss"}}
    [p] = fc.check(TRIAGE, {"route": "交办转送"}, chart, "city_bureau", unknown)
    assert p.field == "responsible_unit" and "prov_hrss" in p.text() and p.units
    itself = {"unit_rule": {"unit": "city_bureau"}}
    [p] = fc.check(TRIAGE, {"route": "交办转送"}, chart, "city_bureau", itself)
    assert "本机关" in p.text()
    # chosen explicitly, the office itself may handle the matter
    assert fc.check(TRIAGE, {"route": "交办转送", "responsible_unit": "city_bureau"}, chart, "city_bureau", itself) == []
    # other routes need no unit at all
    assert fc.check(TRIAGE, {"route": "诉访分离"}, chart, "city_bureau", unknown) == []


def test_names_become_codes_and_unknown_names_stay_for_the_check():
    data = fc.names_to_codes(TRIAGE, {"route": "交办转送", "responsible_unit": "东城县住房和城乡建设局",
                                      "co_units": ["西山县人力资源和社会保障局", "水利局"]}, default_chart(), "city_bureau")
    assert data["responsible_unit"] == "county_a_housing"
    assert data["co_units"] == ["county_b_hrss", "水利局"]


def test_the_form_renders_unit_fields_by_name_and_parses_several():
    fields = {f.name: f for f in forms.build_fields(TRIAGE, {"responsible_unit": "county_a_hrss",
                                                             "co_units": ["county_a_housing"]},
                                                    unit_names={"county_a_hrss": "东城县人社局",
                                                                "county_a_housing": "东城县住建局"})}
    assert fields["responsible_unit"].kind == "unit" and fields["responsible_unit"].display == "东城县人社局"
    assert fields["responsible_unit"].unit_scope == "routable"
    assert fields["co_units"].kind == "units" and fields["co_units"].display == ["东城县住建局"]
    assert fields["responsible_unit"].show_when == {"route": ["交办转送"]}
    parsed = forms.parse_form(TRIAGE, MultiDict([("route", "交办转送"), ("co_units", "甲"), ("co_units", " "),
                                                 ("co_units", "乙")]))
    assert parsed["co_units"] == ["甲", "乙"]


def test_an_assigned_matter_requires_the_completion_report_of_its_reply():
    reply = {"handle_action": "答复", "outcome": "支持", "reply_text": "已解决"}
    assigned = {"assignment": {"dispatch_type": "交办"}}
    missing = {p.field for p in fc.check(HANDLING, reply, default_chart(), "county_a_hrss", assigned)}
    assert missing == {"completion_report", "completion_measures", "completion_result"}
    full = dict(reply, completion_report="经过", completion_measures="措施", completion_result="已化解")
    assert fc.check(HANDLING, full, default_chart(), "county_a_hrss", assigned) == []
    transferred = {"assignment": {"dispatch_type": "转送"}}
    assert fc.check(HANDLING, reply, default_chart(), "county_a_hrss", transferred) == []
    assert fc.case_only_fields(HANDLING, transferred) == {"completion_report", "completion_measures",
                                                          "completion_result"}
    assert fc.case_only_fields(HANDLING, assigned) == set()
    # an extension request of an assigned matter needs no report yet
    assert fc.check(HANDLING, {"handle_action": "申请延期"}, default_chart(), "county_a_hrss", assigned) == []


def test_the_shipped_routing_table_names_only_known_units():
    assert problems_in("routing.dmn", ROUTING, default_chart()) == []


def test_a_routing_table_naming_an_unknown_unit_is_refused_with_file_and_rule():
    bad = ROUTING.replace('<text>registration["respondent_unit"]</text>', '<text>"city_burea"</text>')
    assert bad != ROUTING
    [p] = problems_in("routing.dmn", bad, default_chart())
    assert p.file == "routing.dmn" and p.element_id == "Out_respondent_township_unit" and p.line
    assert "Rule_respondent_township" in p.message and "city_burea" in p.message


def test_a_unit_expression_naming_no_unit_for_any_place_is_refused():
    bad = ROUTING.replace('location + "_hrss"', 'location + "_hrs"')
    [p] = problems_in("routing.dmn", bad, default_chart())
    assert p.element_id == "Out_labour_unit" and "county_a_hrs" in p.message


def test_registration_refuses_a_unit_field_outside_the_registering_office_scope(monkeypatch):
    schema = {"type": "object", "properties": {"handover_unit": {
        "type": "string", "title": "移交单位", "format": "lianxin-unit", "x-unit-scope": "routable"}}}
    monkeypatch.setattr(handling, "register_schema", lambda: schema)
    errors = handling.check_registration({"handover_unit": "county_b_hrss"}, "county_a_office")
    assert "不在本机关可转送交办的范围内" in errors["handover_unit"]
    assert handling.check_registration({"handover_unit": "county_a_hrss"}, "county_a_office") == {}
    [entry] = handling._with_units([{"field": "handover_unit", "title": "移交单位", "message": "x"}],
                                   {"handover_unit": "nowhere"}, "county_a_office")
    assert {"code": "county_a_hrss", "name": "东城县人力资源和社会保障局"} in entry["valid_units"]


def test_the_handler_takes_the_registrar_choice_else_the_suggestion_and_never_falls_back_silently():
    def ctx(data=None):
        return SimpleNamespace(data=dict(data or {}, registering_unit="city_bureau"), ports={})

    taken = resolve_responsible_unit(ResolveUnitInput("county_a_hrss", "county_a", "转送", "谁主管谁负责"), ctx())
    assert (taken["unit"], taken["dispatch_type"], taken["chosen_by_registrar"]) == ("county_a_hrss", "转送", False)
    chosen = resolve_responsible_unit(ResolveUnitInput("county_a_hrss", "county_a", "转送", "谁主管谁负责",
                                                       chosen="county_a_housing", chosen_dispatch="交办"), ctx())
    assert (chosen["unit"], chosen["dispatch_type"], chosen["chosen_by_registrar"]) == ("county_a_housing", "交办", True)
    assert chosen["suggested"] == {"unit": "county_a_hrss", "dispatch": "转送", "basis": "谁主管谁负责"}
    only_dispatch = resolve_responsible_unit(ResolveUnitInput("county_a_hrss", "county_a", "转送",
                                                              chosen_dispatch="交办"), ctx())
    assert only_dispatch["dispatch_type"] == "交办" and only_dispatch["chosen_by_registrar"] is True
    for bad in (ResolveUnitInput("prov_hrss", "prov"), ResolveUnitInput("county_a_hrss", "county_a", chosen="nowhere")):
        with pytest.raises(ValueError, match="不在组织机构中"):
            resolve_responsible_unit(bad, ctx())
