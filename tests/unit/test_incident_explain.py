"""The plain words an admin reads for an incident (services.incidents.explain), and the check of a repair's JSON."""
import pytest

from services.incidents import RepairRefused, StartFailed, explain, parse_value


@pytest.mark.parametrize(("kind", "message", "category", "words"), [
    ("handler", "处理程序 resolve_responsible_unit 失败：协办单位 x 不在组织机构中（unknown co-unit; see the organisation）"
                "（handler resolve_responsible_unit failed: ...）", "unknown_unit", "协办单位 x 不在组织机构中"),
    ("script", "Error evaluating expression: name 'hearing_days' is not defined", "missing_variable", "hearing_days"),
    ("engine", "KeyError: 'assignment'", "missing_variable", "assignment"),
    ("engine", "WorkflowException: Timer expression 'P3X' is not a valid ISO 8601 duration", "timer", "定时器"),
    ("handler", "处理程序 notify 失败：短信网关超时（handler notify failed: timeout）", "handler", "短信网关超时"),
    ("script", "ScriptError: division by zero", "script", "division by zero"),
    ("bpmn_error", "未处理的错误事件 E_no_unit", "bpmn_error", "E_no_unit"),
    ("engine", "RuntimeError: boom", "engine", "boom"),
])
def test_common_engine_errors_have_plain_words_and_a_way_out(kind, message, category, words):
    why = explain(kind, message)
    assert why.category == category and words in why.plain
    assert why.todo and "重试" in why.todo or "移至" in why.todo


def test_the_english_gloss_is_left_out_of_the_plain_words():
    why = explain("handler", "处理程序 h 失败：问题发生地“x”不在组织机构中（unknown location; fill in 问题发生地）（handler h failed: x）")
    assert why.plain.endswith("问题发生地“x”不在组织机构中")


@pytest.mark.parametrize("text", ["", "   ", "[1, 2", "county_a", "{'a': 1}"])
def test_a_repair_value_must_be_json(text):
    with pytest.raises(RepairRefused):
        parse_value(text)


def test_a_failed_start_says_nothing_was_registered():
    err = StartFailed("编号并生成查询码", explain("handler", "处理程序 n 失败：缺少代码（handler n failed）"), "m")
    assert "登记未保存" in str(err) and "编号并生成查询码" in str(err) and "缺少代码" in str(err)
