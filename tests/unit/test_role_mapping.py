"""Issue #19 point 4: roles named the standard's way (potentialOwner, humanPerformer, performer; a lane's name,
or the designers' lane table), and conditions in JUEL or FEEL refused with a suggested Python translation."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import sandbox
from engine.condition_translation import foreign_language, suggest_python
from engine.definitions import DefinitionError, SourceFile, compile_bundle
from engine.role_mapping import LaneRow, RoleCatalogue
from services import lane_roles
from services.roles import ROLE_LABELS
from tests.support.bpmn import HEADER, flow

ROLES = RoleCatalogue(dict(ROLE_LABELS), (LaneRow("信访接待窗口", "registrar", 3), LaneRow("Clerk", "登记员", 4)))


def model(task_inner: str = "", lane_name: str | None = None, resources: str = "", condition: str = "") -> bytes:
    lanes = "" if lane_name is None else (
        f'<bpmn:laneSet id="ls"><bpmn:lane id="Lane_1" name="{lane_name}">'
        '<bpmn:flowNodeRef>handle</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>')
    gateway = "" if not condition else f"""
<bpmn:exclusiveGateway id="gw" default="f4"/>
{flow("f3", "gw", "end", condition)}
{flow("f4", "gw", "end")}"""
    return (HEADER.format(pid="std_roles") + resources
            + '<bpmn:process id="std_roles" name="角色" isExecutable="true">' + lanes + f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="handle" name="办理">{task_inner}</bpmn:userTask>
<bpmn:endEvent id="end"/>
{flow("f1", "start", "handle")}
{flow("f2", "handle", "gw" if condition else "end")}{gateway}
</bpmn:process></bpmn:definitions>""").encode("utf-8")


def compile_with(content: bytes, roles: RoleCatalogue | None = ROLES):
    return compile_bundle([SourceFile("roles.bpmn", content)], handler_names=set(),
                          check_expression=sandbox.check_expression, check_script=sandbox.check_script,
                          known_functions=sandbox.BUILTIN_NAMES, roles=roles)


def role_of(content: bytes, roles: RoleCatalogue | None = ROLES) -> str | None:
    [compiled] = compile_with(content, roles)
    return compiled.user_tasks["handle"]["role"]


def problems(content: bytes, roles: RoleCatalogue | None = ROLES) -> list:
    with pytest.raises(DefinitionError) as err:
        compile_with(content, roles)
    return err.value.problems


def formal(tag: str, text: str) -> str:
    return (f"<bpmn:{tag}><bpmn:resourceAssignmentExpression><bpmn:formalExpression>{text}"
            f"</bpmn:formalExpression></bpmn:resourceAssignmentExpression></bpmn:{tag}>")


# ------------------------------------------------------------------------------------------------ role mapping

@pytest.mark.parametrize("inner", [
    formal("potentialOwner", "registrar"),
    formal("potentialOwner", "登记员"),
    formal("humanPerformer", "group(registrar)"),
    formal("performer", "'registrar'"),
    formal("potentialOwner", "${registrar}"),
    "<bpmn:potentialOwner><bpmn:resourceRef>Res_clerk</bpmn:resourceRef></bpmn:potentialOwner>",
])
def test_a_resource_assignment_naming_a_role_maps_to_it(inner):
    resources = '<bpmn:resource id="Res_clerk" name="登记员"/>'
    assert role_of(model(inner, resources=resources)) == "registrar"


def test_an_assignment_naming_an_unknown_role_is_a_problem_on_its_task_naming_the_known_roles():
    [p] = problems(model(formal("potentialOwner", "Sachbearbeiter")))
    assert p.element_id == "handle" and p.line is not None
    assert "Sachbearbeiter" in p.message and "registrar（登记员）" in p.message and "potentialOwner" in p.message


def test_without_a_role_catalogue_an_assignment_is_refused_as_ignored_as_before():
    found = problems(model(formal("potentialOwner", "registrar")), roles=None)
    assert any("办理人指派会被忽略" in p.message for p in found)


@pytest.mark.parametrize("lane, role", [("registrar", "registrar"), ("承办人", "unit_handler"),
                                        ("信访接待窗口", "registrar"), ("Clerk", "registrar")])
def test_a_lane_named_like_a_role_or_listed_in_the_lane_table_gives_the_role(lane, role):
    assert role_of(model(lane_name=lane)) == role


def test_a_lane_neither_a_role_nor_in_the_table_is_refused_naming_the_table():
    [p] = problems(model(lane_name="Back office"))
    assert p.element_id == "Lane_1" and "缺少 lianxin:role" in p.message and "lane_roles.yaml" in p.message


def test_a_table_row_naming_an_unknown_role_refuses_the_deploy_naming_its_line():
    roles = RoleCatalogue(dict(ROLE_LABELS), (LaneRow("窗口", "clerk", 7),))
    [p] = problems(model(formal("potentialOwner", "registrar")), roles)
    assert (p.file, p.line, p.element_id) == ("lane_roles.yaml", 7, "窗口") and "clerk" in p.message


def test_the_tasks_own_property_beats_its_assignment_and_its_lane():
    inner = ('<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="role" '
             'value="leader"/></spiffworkflow:properties></bpmn:extensionElements>' + formal("potentialOwner", "登记员"))
    assert role_of(model(inner, lane_name="bureau")) == "leader"
    assert role_of(model(formal("potentialOwner", "登记员"), lane_name="bureau")) == "registrar"


# ------------------------------------------------------------------------------------------------ the lane table

def test_the_lane_table_file_is_read_with_its_lines_and_bad_rows_named(tmp_path):
    path = tmp_path / lane_roles.FILE_NAME
    path.write_text("# 注释\nlanes:\n  - {lane: 窗口, role: registrar}\n  - {lane: 3, role: registrar}\n"
                    "  - {lane: 窗口, role: leader}\n", encoding="utf-8")
    catalogue = lane_roles.catalogue(tmp_path)()
    assert catalogue.lanes[0] == LaneRow("窗口", "registrar", 3)
    assert [line for line, _row, _msg in catalogue.problems] == [4, 5]  # not text; a lane twice


def test_the_shipped_lane_table_is_valid():
    catalogue = lane_roles.catalogue(Path(__file__).resolve().parents[2] / "processes")()
    assert catalogue.lanes and not catalogue.problems
    assert all(catalogue.role_named(row.role) for row in catalogue.lanes)


def test_rows_from_the_page_are_typed_and_each_role_known():
    rows, errors = lane_roles.validate([{"lane": " 窗口 ", "role": "登记员"}, {"lane": "后台", "role": "clerk"},
                                        {"lane": "", "role": "leader"}, "x", {"lane": "窗口", "role": "leader"}])
    assert rows == [LaneRow("窗口", "registrar")]
    assert [e.split("：")[0] for e in errors] == ["第 2 行（泳道“后台”）", "第 3 行", "第 4 行", "第 5 行"]
    assert "registrar（登记员）" in errors[0]
    assert lane_roles.validate("not a list")[1]


def test_the_lane_table_is_written_and_read_back(tmp_path):
    path = tmp_path / lane_roles.FILE_NAME
    lane_roles.write(path, [LaneRow("窗口", "registrar"), LaneRow("Clerk's desk", "unit_handler")])
    rows, found = lane_roles.read(path)
    assert [(r.lane, r.role) for r in rows] == [("窗口", "registrar"), ("Clerk's desk", "unit_handler")] and not found


# ------------------------------------------------------------------------------------------------ conditions

@pytest.mark.parametrize("text, python", [
    ("${a == 'x'}", "a == 'x'"),
    ("#{amount > 1000 && ok}", "amount > 1000 and ok"),
    ("${!approved || level >= 2}", "not approved or level >= 2"),
    ('${case.status eq "open"}', "case[\"status\"] == 'open'"),
    ('a = "x"', "a == 'x'"),
    ("a > 3 and b < 2", "a > 3 and b < 2"),
    ("not(a)", "not (a)"),
    ("urgent = true or count != 0", "urgent == True or count != 0"),
    ("(a = 1 or b = 2) and c", "(a == 1 or b == 2) and c"),
    ("x = null", "x == None"),
    ("= approved", "approved"),  # Camunda 8 (Zeebe) FEEL
    ("= not(approved)", "not (approved)"),
    ("bpmn:getDataObject('clarified') = 'yes'", "clarified == 'yes'"),  # XPath, as in the MIWG models
])
def test_simple_juel_and_feel_conditions_are_translated(text, python):
    assert suggest_python(text) == python
    compile(python, "<suggestion>", "eval")


@pytest.mark.parametrize("text", [
    "${fn(a)}", "${a.size() > 0}", "x in [1..3]", "a + 1 > 2", "${a = 1}", "date(\"2024-01-01\") > d",
    "${a == }", "(a", "", "x" * 600, "${a ? b : c}", "= some risk in levels satisfies risk = \"red\"",
    'Vacation Approval = "Approved"', "bpmn:getDataObject(x)",
])
def test_anything_else_is_given_up_cleanly(text):
    assert suggest_python(text) is None


def test_the_language_is_told():
    assert foreign_language("${a}") == "JUEL" and foreign_language("#{a}") == "JUEL"
    assert foreign_language('a = "x"') == "FEEL" and foreign_language("not(a)") == "FEEL"
    assert foreign_language("= approved") == "FEEL"
    assert foreign_language("not(bpmn:getDataObject('approved'))") == "XPath"
    assert foreign_language("a == 'x'") is None


@pytest.mark.parametrize("condition, suggestion", [
    ("${status == 'open'}", "status == 'open'"),
    ('status = "open"', "status == 'open'"),
    ("${amount gt 1000 and not urgent}", "amount > 1000 and not urgent"),
])
def test_a_foreign_condition_is_refused_with_its_translation(condition, suggestion):
    [p] = problems(model(lane_name="registrar", condition=condition.replace('"', "&quot;")))
    assert p.element_id == "f3" and p.suggestion == suggestion and suggestion in p.message


def test_a_foreign_condition_too_complex_is_refused_without_a_guess():
    [p] = problems(model(lane_name="registrar", condition="${fn(a)}"))
    assert p.suggestion is None and "JUEL" in p.message
