"""JSON Schema forms: the fields rendered for each schema construct, parsing a submitted form back to JSON, and
validation messages keyed by field."""
from __future__ import annotations

import json
from pathlib import Path

from werkzeug.datastructures import MultiDict

from web.desk.forms import build_fields, error_list, parse_form, validate

FORMS = Path(__file__).resolve().parents[2] / "processes" / "forms"
SCHEMA = {
    "type": "object", "required": ["decision", "days"],
    "properties": {
        "decision": {"type": "string", "title": "决定", "enum": ["同意", "不同意"]},
        "unit": {"type": "string", "title": "单位", "enum": ["a", "b", "c", "d", "e", "f"]},
        "days": {"type": "integer", "title": "天数", "minimum": 1, "maximum": 30},
        "approved": {"type": "boolean", "title": "批准"},
        "urgent": {"type": "boolean", "title": "加急", "default": False},
        "on": {"type": "string", "format": "date", "title": "日期"},
        "note": {"type": "string", "title": "说明", "maxLength": 2000},
        "short": {"type": "string", "title": "摘要", "maxLength": 5},
        "team": {"type": "array", "title": "专班", "items": {"type": "string"}},
        "people": {"type": "array", "title": "人员", "maxItems": 2, "items": {
            "type": "object", "required": ["name"],
            "properties": {"name": {"type": "string", "title": "姓名", "minLength": 1},
                           "phone": {"type": "string", "title": "电话"}}}},
    },
}


def test_each_construct_gets_its_control():
    kinds = {f.name: f.kind for f in build_fields(SCHEMA)}
    assert kinds == {"decision": "radio", "unit": "select", "days": "integer", "approved": "yesno",
                     "urgent": "checkbox", "on": "date", "note": "textarea", "short": "text", "team": "lines",
                     "people": "table"}
    people = next(f for f in build_fields(SCHEMA) if f.name == "people")
    assert [c.name for c in people.columns] == ["people-__i__-name", "people-__i__-phone"]
    assert [[c.name for c in row] for row in people.rows] == [["people-0-name", "people-0-phone"]]


def test_parse_turns_form_fields_into_json():
    form = MultiDict([("decision", "同意"), ("days", " 12 "), ("approved", "false"), ("urgent", "on"),
                      ("on", "2026-03-05"), ("note", "  "), ("team", "county_a_office\n\ncounty_a_housing\n"),
                      ("people-0-name", "张三"), ("people-0-phone", ""), ("people-2-name", "李四"),
                      ("people-1-name", ""), ("people-1-phone", "")])
    data = parse_form(SCHEMA, form)
    assert data == {"decision": "同意", "days": 12, "approved": False, "urgent": True, "on": "2026-03-05",
                    "team": ["county_a_office", "county_a_housing"],
                    "people": [{"name": "张三"}, {"name": "李四"}]}


def test_errors_are_keyed_by_field_in_chinese_and_bad_input_is_kept():
    form = MultiDict([("days", "十二"), ("short", "太长的一段摘要"), ("on", "3月5日"),
                      ("people-0-phone", "138"), ("people-1-name", "a"), ("people-2-name", "b")])
    data = parse_form(SCHEMA, form)
    assert data["days"] == "十二"  # kept as typed
    errors = validate(SCHEMA, data)
    assert errors["decision"].startswith("请填写“决定”")
    assert errors["days"].startswith("请填写整数")
    assert errors["short"].startswith("最多 5 个字")
    assert errors["on"].startswith("请按“年-月-日”")
    assert errors["people-0-name"].startswith("请填写“姓名”")
    assert errors["people"].startswith("最多 2 项")
    fields = {f.name: f for f in build_fields(SCHEMA, data, errors)}
    assert fields["days"].value == "十二" and fields["days"].invalid
    assert fields["people"].rows[0][0].error.startswith("请填写")
    assert {e["field"]: e["title"] for e in error_list(SCHEMA, errors)}["people-0-name"] == "姓名"


def test_conditional_requirements_of_a_process_form():
    triage = json.loads((FORMS / "triage.schema.json").read_text(encoding="utf-8"))
    assert validate(triage, {"route": "交办转送"}) == {}
    errors = validate(triage, {"route": "重复信访"})
    assert list(errors) == ["original_case_no"]
    assert validate(triage, {"route": "随便"})["route"].startswith("请从列表中选择")


def test_every_process_form_renders():
    for path in sorted(FORMS.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        fields = build_fields(schema)
        assert fields, path.name
        assert validate(schema, parse_form(schema, MultiDict())) or not schema.get("required"), path.name


def test_group_visit_rule_of_the_registration_form():
    schema = json.loads((FORMS / "petition_register.schema.json").read_text(encoding="utf-8"))
    base = {"channel": "来访", "title": "t", "request": "r", "category": "劳动社保", "location": "county_a"}
    six = [{"name": f"代表{i}"} for i in range(6)]
    assert validate(schema, dict(base, petitioners=six)) == {}
    errors = validate(schema, dict(base, group_visit=True, visitors_count=3, petitioners=six))
    assert errors["petitioners"].startswith("最多 5 项") and errors["visitors_count"].startswith("不能小于 5")


def test_fields_that_apply_only_for_some_answer_are_marked_from_the_schemas_conditions():
    schema = {
        "type": "object", "required": ["action", "note"],
        "properties": {"action": {"type": "string", "enum": ["答复", "延期", "上交"]},
                       "accepted": {"type": "boolean"},
                       "days": {"type": "integer"}, "reply": {"type": "string"}, "note": {"type": "string"},
                       "reason": {"type": "string"}, "both": {"type": "string"}},
        "allOf": [
            {"if": {"properties": {"action": {"const": "延期"}}}, "then": {"required": ["days", "both"]}},
            {"if": {"properties": {"action": {"enum": ["答复", "上交"]}}}, "then": {"required": ["reply", "note"]}},
            {"if": {"properties": {"accepted": {"const": False}}}, "then": {"required": ["reason", "both"]}},
        ],
    }
    from web.desk.forms import conditions

    assert conditions(schema) == {"days": {"action": ["延期"]}, "reply": {"action": ["答复", "上交"]},
                                  "reason": {"accepted": [False]}}  # note: always required; both: two controls
    fields = {f.name: f for f in build_fields(schema)}
    assert fields["days"].show_when == {"action": ["延期"]} and fields["note"].show_when is None
    shipped = json.loads((FORMS / "handling.schema.json").read_text(encoding="utf-8"))
    assert conditions(shipped)["extension_reason"] == {"handle_action": ["申请延期"]}
    acceptance = json.loads((FORMS / "acceptance.schema.json").read_text(encoding="utf-8"))
    assert conditions(acceptance) == {"non_accept_reason": {"accepted": [False]}}  # a top-level if/then
