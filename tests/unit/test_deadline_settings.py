"""The day limits and the yellow lead time are read from settings.dmn only: by the processes and by the runtime."""
from __future__ import annotations

from pathlib import Path

import pytest

from services.deadline_settings import read_limits, yellow_lead_days

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_table_holds_the_seed_defaults():
    limits = read_limits(ROOT / "processes" / "settings.dmn")
    assert {k: limits[f"limits.{k}"] for k in ("t1", "t2", "t3", "t4", "e1", "e2", "e3", "e4")} == \
        {"t1": 1, "t2": 3, "t3": 7, "t4": 10, "e1": 1, "e2": 3, "e3": 7, "e4": 10}
    assert limits["limits.yellow_lead_days"] == yellow_lead_days(ROOT / "processes") == 3


def test_a_changed_lead_time_reaches_the_runtime(tmp_path):
    text = (ROOT / "processes" / "settings.dmn").read_text(encoding="utf-8")
    changed = text.replace('<outputEntry id="Out_yellow"><text>3</text>', '<outputEntry id="Out_yellow"><text>5</text>')
    assert changed != text
    (tmp_path / "settings.dmn").write_text(changed, encoding="utf-8")
    assert yellow_lead_days(tmp_path) == 5
    assert yellow_lead_days(tmp_path / "nowhere") == 3


def test_a_cell_that_is_not_a_whole_number_is_refused(tmp_path):
    text = (ROOT / "processes" / "settings.dmn").read_text(encoding="utf-8")
    (tmp_path / "settings.dmn").write_text(text.replace("<text>7</text>", "<text>seven</text>", 1), encoding="utf-8")
    with pytest.raises(ValueError, match="whole numbers"):
        read_limits(tmp_path / "settings.dmn")


def test_no_process_or_handler_carries_its_own_copy_of_the_limits():
    """Timers read limits[...] (from the table), never a number of days of their own, except the statute's."""
    import re

    for name in ("petition_case.bpmn", "leader_13710.bpmn", "escalation_tier.bpmn"):
        text = (ROOT / "processes" / name).read_text(encoding="utf-8")
        for expression in re.findall(r"<bpmn:timeDate>(.*?)</bpmn:timeDate>", text):
            assert not re.search(r"(?<![\w\"])\d+(?![\w\"])", expression), (name, expression)


# ---- typed settings (issue #19, point 1): one declaration of types and bounds, used at deploy and at run time

SETTINGS_DMN = (ROOT / "processes" / "settings.dmn").read_text(encoding="utf-8")


def settings_with(old: str, new: str) -> str:
    assert old in SETTINGS_DMN, old
    return SETTINGS_DMN.replace(old, new, 1)


def cell(entry_id: str, text: str) -> tuple[str, str]:
    """(old, new) that rewrites one output cell of the settings table."""
    import re

    [old] = re.findall(rf'<outputEntry id="{entry_id}"><text>[^<]*</text>', SETTINGS_DMN)
    return old, f'<outputEntry id="{entry_id}"><text>{text}</text>'


def compile_settings(text: str, *, rules=True):
    """The engine's own validation (as deploy runs it) of a bundle holding only the settings table."""
    from engine import sandbox
    from engine.definitions import SourceFile, compile_bundle
    from services.deadline_settings import decision_rules

    return compile_bundle([SourceFile("settings.dmn", text.encode("utf-8"))], handler_names=set(),
                          check_expression=sandbox.check_expression, check_script=sandbox.check_script,
                          known_functions=set(sandbox.BUILTIN_NAMES),
                          decision_rules=decision_rules() if rules else None)


def line_of(text: str, fragment: str) -> int:
    return text[:text.index(fragment)].count("\n") + 1


BAD_CELLS = [
    # (what the tester wrote, cell, text, column, words the message must carry)
    ("not a number", "Out_sign", "abc", "limits.sign_workdays", ["“abc”", "整数"]),
    ("zero", "Out_yellow", "0", "limits.yellow_lead_days", ["1 到 10", "收到 0", "本地规定"]),
    ("negative", "Out_t2", "-3", "limits.t2", ["-3", "正整数"]),
    ("fraction", "Out_e3", "7.5", "limits.e3", ["小数 7.5"]),
    ("over the regulation", "Out_handle", "90", "limits.handle_days", ["90", "《信访工作条例》第三十四条", "60"]),
    ("petitioner's review window shortened", "Out_review_request", "20", "limits.review_request_days",
     ["只能是 30", "第三十五条"]),
    ("wrong day type in the cell", "Out_accept", "15个工作日", "limits.accept_days",
     ["计日方式", "第二十三条", "只写数字 15"]),
    ("empty", "Out_co_opinion", "", "limits.co_opinion_workdays", ["未填写"]),
]


@pytest.mark.parametrize("kind, entry_id, text, column, words", BAD_CELLS, ids=[b[0] for b in BAD_CELLS])
def test_each_bad_cell_is_refused_naming_table_row_and_column(kind, entry_id, text, column, words):
    from engine.definitions import DefinitionError

    changed = settings_with(*cell(entry_id, text))
    with pytest.raises(DefinitionError) as caught:
        compile_settings(changed)
    [problem] = caught.value.problems  # one problem per bad cell
    assert (problem.file, problem.element_id) == ("settings.dmn", entry_id)
    assert problem.line == line_of(changed, f'<outputEntry id="{entry_id}">')
    message = problem.message
    assert "决策表“时限设置”（deadline_settings）" in message  # the table
    assert "第 1 条规则（适用范围：任意）" in message  # the row: rule number and its input
    assert f"{column} 列" in message  # the column: the output's name
    for word in words:
        assert word in message, (word, message)
    assert str(problem).startswith(f"settings.dmn:{problem.line} {entry_id}: ")


def test_a_missing_required_setting_is_refused_naming_it():
    from engine.definitions import DefinitionError

    changed = settings_with(
        '      <output id="Output_co_opinion" label="协办单位报送协办意见（工作日，自受理起，本地规定）" '
        'name="limits.co_opinion_workdays" typeRef="integer" />\n', "")
    changed = changed.replace('        <outputEntry id="Out_co_opinion"><text>10</text></outputEntry>\n', "")
    with pytest.raises(DefinitionError) as caught:
        compile_settings(changed)
    [problem] = caught.value.problems
    assert problem.element_id == "DecisionTable_settings"
    assert "决策表“时限设置”（deadline_settings）" in problem.message
    assert "缺少必需的时限设置 limits.co_opinion_workdays" in problem.message and "请添加输出列" in problem.message


def test_a_column_declared_with_the_wrong_day_type_is_refused():
    from engine.definitions import DefinitionError

    changed = settings_with('label="办结（日，法定）"', 'label="办结（工作日，法定）"')
    with pytest.raises(DefinitionError) as caught:
        compile_settings(changed)
    [problem] = caught.value.problems
    assert problem.element_id == "Out_handle"
    assert "limits.handle_days 列（办结（工作日，法定））" in problem.message
    assert "按工作日计算" in problem.message and "第三十四条" in problem.message


def test_an_undeclared_column_is_refused_so_every_setting_has_a_type():
    from engine.definitions import DefinitionError

    changed = settings_with('name="limits.t4"', 'name="limits.t5"')
    with pytest.raises(DefinitionError) as caught:
        compile_settings(changed)
    messages = [p.message for p in caught.value.problems]
    assert any("limits.t5 不是已声明的时限设置" in m for m in messages)
    assert any("缺少必需的时限设置 limits.t4" in m for m in messages)


def test_without_the_declared_types_the_tester_s_table_compiled():
    """What the tester met: the engine alone took `abc` and 90 as valid Python, so they deployed."""
    changed = settings_with(*cell("Out_sign", "abc"))
    changed = changed.replace(*cell("Out_handle", "90"))
    assert compile_settings(changed, rules=False) == []


def test_the_shipped_processes_pass_with_the_declared_types():
    from engine import sandbox
    from engine.definitions import collect_files, compile_bundle
    from engine.handlers import HandlerRegistry
    from services import register_all
    from services.deadline_settings import decision_rules

    compiled = compile_bundle(
        collect_files([str(ROOT / "processes")]), handler_names=register_all(HandlerRegistry()).names(),
        check_expression=sandbox.check_expression, check_script=sandbox.check_script,
        known_functions={"workdays", "days", "hours", "hours_before", "now", "yellow_at"} | sandbox.BUILTIN_NAMES,
        decision_rules=decision_rules())
    assert "petition_case" in {c.process_id for c in compiled}


def test_every_column_of_the_shipped_table_is_declared_and_within_its_bounds():
    from services.deadline_settings import BY_NAME, SETTINGS

    limits = read_limits(ROOT / "processes" / "settings.dmn")
    assert set(limits) == set(BY_NAME)
    for setting in SETTINGS:
        assert setting.minimum >= 1 and setting.minimum <= limits[setting.name] <= setting.maximum
    statutory = {s.name: (s.maximum, s.day_type, s.article) for s in SETTINGS if s.statutory}
    assert statutory["limits.sign_workdays"] == (5, "workdays", "《信访工作条例》第二十三条")
    assert statutory["limits.accept_days"][:2] == (15, "days")
    assert statutory["limits.handle_days"] == (60, "days", "《信访工作条例》第三十四条")
    assert statutory["limits.extension_max_days"][:2] == (30, "days")
    assert {statutory[k][0] for k in ("limits.review_request_days", "limits.review_decide_days",
                                      "limits.rereview_request_days", "limits.rereview_decide_days")} == {30}


def test_reading_the_table_refuses_a_limit_above_the_regulation(tmp_path):
    (tmp_path / "settings.dmn").write_text(settings_with(*cell("Out_handle", "90")), encoding="utf-8")
    with pytest.raises(ValueError, match="第三十四条"):
        read_limits(tmp_path / "settings.dmn")


@pytest.mark.parametrize("value", [90, 0, -1, 59.5, "60", True, None])
def test_the_runtime_refuses_a_bad_value_the_table_gives(value):
    from services.deadline_settings import RULES

    limits = {k.split(".", 1)[1]: v for k, v in read_limits(ROOT / "processes" / "settings.dmn").items()}
    assert RULES.result_issues({"limits": limits}) == []
    limits["handle_days"] = value
    [issue] = RULES.result_issues({"limits": limits})
    assert "limits.handle_days" in issue and "settings.dmn" in issue
    del limits["handle_days"]
    [issue] = RULES.result_issues({"limits": limits})
    assert "缺少 limits.handle_days" in issue


def test_a_process_that_counts_a_setting_with_the_wrong_day_type_is_refused():
    """受理告知 counts calendar days (Art. 23): `workdays(limits["accept_days"], ...)` would give a wrong deadline."""
    from engine import sandbox
    from engine.definitions import DefinitionError, collect_files, compile_bundle
    from engine.handlers import HandlerRegistry
    from services import register_all
    from services.deadline_settings import decision_rules

    files = collect_files([str(ROOT / "processes")])
    [case] = [f for f in files if f.name == "petition_case.bpmn"]
    old = b'<bpmn:timeDate>days(limits["accept_days"], dispatch["at"])</bpmn:timeDate>'
    assert old in case.content
    case.content = case.content.replace(old, old.replace(b"days(", b"workdays(", 1))
    with pytest.raises(DefinitionError) as caught:
        compile_bundle(files, handler_names=register_all(HandlerRegistry()).names(),
                       check_expression=sandbox.check_expression, check_script=sandbox.check_script,
                       known_functions={"workdays", "days", "hours", "hours_before", "now", "yellow_at"} | sandbox.BUILTIN_NAMES,
                       decision_rules=decision_rules())
    [problem] = caught.value.problems
    assert problem.file == "petition_case.bpmn" and problem.element_id.startswith("Timer_")
    assert 'limits["accept_days"] 按日' in problem.message and "请用 days(...)" in problem.message
