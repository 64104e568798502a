"""engine.definitions: what a designer's upload must pass before anything is deployed.

Fixtures under tests/fixtures/bpmn carry BPMN DI so that they open in bpmn-js; `valid/` is a small petition
intake that calls a review process in another file, uses a DMN decision and two forms; `invalid/` and `hostile/`
hold one kind of mistake per file (mistakes.bpmn holds the everyday ones together).
"""
from __future__ import annotations

import pathlib
import re
from datetime import UTC

import lxml.etree
import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.definitions import (
    MAX_FILE_BYTES,
    DefinitionError,
    Problem,
    SourceFile,
    collect_files,
    compile_bundle,
    load_specs,
    safe_parse_xml,
)

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "bpmn"
VALID = FIXTURES / "valid"
INVALID = FIXTURES / "invalid"
HOSTILE = FIXTURES / "hostile"

HANDLERS = {"assign_unit", "notify"}
KNOWN_FUNCTIONS = {"workdays", "days", "now"}


def check_expression(text: str) -> str | None:
    """Stands in for engine.sandbox: compiles, and refuses dunder access as the real sandbox does."""
    if "__" in text:
        return "names starting with '__' are not allowed"
    try:
        compile(text, "<expression>", "eval")
    except SyntaxError as err:
        return err.msg
    return None


def check_script(text: str) -> str | None:
    try:
        compile(text, "<script>", "exec")
    except SyntaxError as err:
        return err.msg
    return None


def compile_files(files, **kwargs):
    options = {"handler_names": HANDLERS, "check_expression": check_expression, "check_script": check_script,
               "known_functions": KNOWN_FUNCTIONS}
    options.update(kwargs)
    return compile_bundle(files, **options)


def valid_files(**replacements) -> list[SourceFile]:
    """The valid bundle, with optional edits: {file name: [(old bytes, new bytes), ...]}."""
    files = collect_files([str(VALID)])
    for source in files:
        for old, new in replacements.get(source.name.replace(".", "_"), []):
            assert old in source.content, (source.name, old)
            source.content = source.content.replace(old, new, 1)
    return files


def problems_of(files, **kwargs) -> list[Problem]:
    with pytest.raises(DefinitionError) as caught:
        compile_files(files, **kwargs)
    return caught.value.problems


def lines(problems) -> list[str]:
    return [str(p) for p in problems]


def line_of(content: bytes, needle: bytes) -> int:
    return content[:content.index(needle)].count(b"\n") + 1


def by_name(files, name):
    return next(f for f in files if f.name == name)


def test_a_valid_bundle_compiles_every_process_with_its_dependencies():
    compiled = {c.process_id: c for c in compile_files(valid_files())}

    assert set(compiled) == {"petition_intake", "petition_review"}
    intake, review = compiled["petition_intake"], compiled["petition_review"]
    assert intake.name == "信访登记受理" and review.name == "信访事项办理"  # from the pool, as bpmn-js writes it
    assert intake.is_executable and review.is_executable
    assert sorted(intake.sources) == ["petition_intake.bpmn", "petition_review.bpmn", "register.schema.json",
                                      "reply.schema.json", "route.dmn"]
    assert sorted(review.sources) == ["petition_review.bpmn", "reply.schema.json"]
    assert "信访类别" in intake.sources["register.schema.json"]
    assert intake.user_tasks == {"Task_register": {
        "name": "登记信访事项", "lane": "登记岗", "role": "registrar", "unit": None, "form": "register.schema.json"}}
    assert review.user_tasks["Task_handle"] == {
        "name": "办理并答复", "lane": "承办单位", "role": "handler", "unit": "county_department",
        "form": "reply.schema.json"}
    assert review.user_tasks["Task_approve"]["role"] == "deputy_leader"  # the property overrides the lane
    assert review.timers == {"Timer_handle_due": {
        "kind": "duration", "expression": "workdays(limit_days)", "attached_to": "Task_handle",
        "interrupting": False}}
    assert intake.timers == {}


def test_content_hash_is_stable_and_changes_with_one_character_of_a_called_file():
    first = {c.process_id: c.content_hash for c in compile_files(valid_files())}
    again = {c.process_id: c.content_hash for c in compile_files(valid_files())}
    assert first == again

    edited = {c.process_id: c.content_hash for c in compile_files(valid_files(
        petition_review_bpmn=[(b'name="\xe4\xba\xa4\xe5\x8a\x9e"', b'name="\xe4\xba\xa4\xe5\x8a\x9f"')]))}
    assert edited["petition_review"] != first["petition_review"]
    assert edited["petition_intake"] != first["petition_intake"]  # it calls the review process

    decision_edit = {c.process_id: c.content_hash for c in compile_files(valid_files(
        route_dmn=[(b"<text>True</text>", b"<text>1</text>")]))}
    assert decision_edit["petition_intake"] != first["petition_intake"]
    assert decision_edit["petition_review"] == first["petition_review"]  # does not use the decision


class FakeServices(PythonScriptEngine):
    def call_service(self, task, **kwargs):
        return '{"sent": true}'


@pytest.fixture
def command_instant():
    """Lianxin's timer patch (engine.spiff_patches) reads time from the command being run, never the wall
    clock; a workflow driven by hand in a test runs inside such an instant too."""
    from datetime import datetime

    from engine import spiff_patches

    token = spiff_patches.set_command_instant(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    yield
    spiff_patches.reset_command_instant(token)


def test_compiled_spec_loads_and_runs_user_tasks_and_call_activity_to_completion_across_a_save(command_instant):
    intake = next(c for c in compile_files(valid_files()) if c.process_id == "petition_intake")
    spec, subprocess_specs = load_specs(intake.spec_json)
    assert set(subprocess_specs) == {"petition_review"}
    engine = FakeServices(environment=TaskDataEnvironment({"workdays": lambda n: f"P{n}D"}))
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
    workflow.do_engine_steps()

    done = []
    for expected, data in [("Task_register", {"title": "拖欠工资", "category": "劳动保障", "limit_days": 15}),
                           ("Task_handle", {"reply": "已责成企业支付全部拖欠工资"}),
                           ("Task_approve", {})]:
        (task,) = workflow.get_tasks(state=TaskState.READY, manual=True)
        assert task.task_spec.name == expected
        task.set_data(**data)
        task.run()
        workflow.do_engine_steps()
        done.append(expected)
        if expected == "Task_register":  # the boundary timer is now pending; it must survive a save and load
            assert len(workflow.waiting_events()) == 1
            workflow = serializer.deserialize_json(serializer.serialize_json(workflow))
            workflow.script_engine = engine

    assert workflow.completed
    assert workflow.data["accepted"] is True
    assert workflow.data["reply"] == "已责成企业支付全部拖欠工资"


def test_rejected_branch_runs_the_service_task(command_instant):
    intake = next(c for c in compile_files(valid_files()) if c.process_id == "petition_intake")
    workflow = BpmnWorkflow(*load_specs(intake.spec_json), script_engine=FakeServices())
    workflow.do_engine_steps()
    (task,) = workflow.get_tasks(state=TaskState.READY, manual=True)
    task.set_data(title="不服判决", category="涉诉涉法", limit_days=15)
    task.run()
    workflow.do_engine_steps()
    assert workflow.completed
    assert workflow.data["accepted"] is False and workflow.data["notice"] == {"sent": True}


def test_load_specs_refuses_text_that_is_not_a_compiled_spec():
    with pytest.raises(ValueError, match="not a compiled Lianxin spec"):
        load_specs('{"spec": {}}')
    intake = compile_files(valid_files())[0]
    with pytest.raises(ValueError, match="recompile"):
        load_specs(intake.spec_json.replace('"serializer_version": "', '"serializer_version": "0.', 1))


def test_called_process_decision_and_form_can_come_from_deployed_versions():
    everything = {c.process_id: c for c in compile_files(valid_files())}
    full = collect_files([str(VALID)])
    uploaded = [by_name(full, "petition_intake.bpmn")]
    asked = []

    def deployed(name):
        return lambda key: asked.append((name, key)) or {
            "process": [by_name(full, "petition_review.bpmn"), by_name(full, "reply.schema.json")],
            "form": by_name(full, "register.schema.json"),
            "decision": by_name(full, "route.dmn")}[name]

    (intake,) = compile_files(uploaded, resolve_external=deployed("process"), resolve_form=deployed("form"),
                              resolve_decision=deployed("decision"))
    assert sorted(asked) == [("decision", "route_decision"), ("form", "register.schema.json"),
                             ("process", "petition_review")]
    assert intake.content_hash == everything["petition_intake"].content_hash
    assert intake.sources == everything["petition_intake"].sources
    assert set(load_specs(intake.spec_json)[1]) == {"petition_review"}


def test_unresolvable_dependencies_are_reported_where_they_are_used():
    full = collect_files([str(VALID)])
    intake = by_name(full, "petition_intake.bpmn")
    problems = problems_of([intake], resolve_external=lambda pid: None)
    assert {p.element_id for p in problems} == {"Task_register", "Task_route", "Call_review"}
    assert all(p.file == "petition_intake.bpmn" for p in problems)
    call = next(p for p in problems if p.element_id == "Call_review")
    assert call.line == line_of(intake.content, b'<bpmn:callActivity id="Call_review"')
    assert '"petition_review"' in call.message


# ------------------------------------------------------------------------------------------------ everyday mistakes

def mistakes() -> list[str]:
    return lines(problems_of(collect_files([str(INVALID / "mistakes.bpmn")])))


@pytest.mark.parametrize("expected", [
    ('mistakes.bpmn:49 Task_assign: 服务任务使用了未注册的处理程序 "asign_unit"，是否应为 "assign_unit"？'
     '（unknown service handler; registered: assign_unit, notify）'),
    ('mistakes.bpmn:41 Timer_fill: 计时器值 P3X 不是有效的 ISO 8601 时长，请按PT2H、P7D、P1DT12H的格式填写'
     '（P3X is not a valid ISO 8601 duration: write it like PT2H、P7D、P1DT12H）'),
    ('mistakes.bpmn:102 Flow_soon: 网关条件调用了未知函数 "workday"，是否应为 "workdays"？'
     '（unknown function workday in gateway condition; known: days, now, workdays）'),
    ('mistakes.bpmn:79 Catch_wait: 计时器表达式调用了未知函数 "workday"，是否应为 "workdays"？'
     '（unknown function workday in timer expression; known: days, now, workdays）'),
    'mistakes.bpmn:105 Flow_later: 网关条件无法编译：invalid syntax（gateway condition does not compile: invalid syntax）',
    ('mistakes.bpmn:20 Lane_norole: 泳道“复核人”缺少 lianxin:role，请填写该泳道办理人的角色'
     '（lane has no lianxin:role="<role name>"; add xmlns:lianxin="urn:lianxin:bpmn" and the role）'),
    ('mistakes.bpmn:29 Task_fill: 找不到表单“missing.schema.json”，请把该文件一起上传'
     '（form missing.schema.json is neither in this deploy nor deployed）'),
    ('mistakes.bpmn:61 Task_decide: 找不到 DMN 决策 "no_such_decision"，请上传定义它的 .dmn 文件'
     '（no DMN decision with this id; known: none）'),
    ('mistakes.bpmn:68 Call_missing: 找不到被调用的流程 "no_such_process"，请一起上传或先部署它'
     '（called process is neither in this deploy nor deployed; known: mistakes）'),
    ('mistakes.bpmn:88 assign_unit: 处理程序名 "assign_unit" 与元素 id 相同，SpiffWorkflow 会解析失败；请修改该元素的 id'
     '（a service operator id equal to an element id breaks SpiffWorkflow\'s parser; rename the element）'),
])
def test_everyday_mistakes_are_reported_with_file_line_and_element(expected):
    assert expected in mistakes()


def test_everyday_mistakes_are_all_reported_and_nothing_else():
    assert len(mistakes()) == 10


def test_operator_id_equal_to_its_element_id_really_breaks_spiffworkflow():
    """Why the check exists: Spiff indexes the operator under the element's id and cannot parse the task."""
    content = (VALID / "petition_intake.bpmn").read_bytes().replace(b'"Task_notify"', b'"notify"')
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(safe_parse_xml(content, "x.bpmn"), filename="x.bpmn")
    parser.add_dmn_xml(safe_parse_xml((VALID / "route.dmn").read_bytes(), "route.dmn").getroot(), filename="route.dmn")
    with pytest.raises(Exception, match="no support implemented"):
        parser.get_spec("petition_intake")


def test_the_sandbox_checker_decides_what_compiles():
    files = valid_files(petition_intake_bpmn=[(b">accepted</", b">accepted.__class__</")])
    (problem,) = problems_of(files)
    assert problem.element_id == "Flow_accept"
    assert "names starting with '__' are not allowed" in problem.message


def test_service_parameters_are_expressions_too():
    files = valid_files(petition_intake_bpmn=[(b'value="&#34;not_accepted&#34;"', b'value="workday(1)"')])
    (problem,) = problems_of(files)
    assert (problem.element_id, problem.file) == ("Task_notify", "petition_intake.bpmn")
    assert 'unknown function workday in service parameter template' in problem.message


@pytest.mark.parametrize("tag, expression, ok", [
    ("timeDuration", '"P3D"', True), ("timeDuration", "days(60)", True), ("timeDuration", '"P3X"', False),
    ("timeDuration", "PT4H", True), ("timeDate", '"2026-03-02T09:00:00+08:00"', True),
    ("timeDate", '"2026-13-01"', False), ("timeDate", '"P3D"', False), ("timeCycle", '"R3/P1D"', True),
    ("timeCycle", '"P1D"', False), ("timeCycle", "R3/P1D", True),
    # the standard's bare literals: accepted when valid ISO 8601, refused naming the element when not
    ("timeDuration", "P1DT12H", True), ("timeDuration", "P3X", False), ("timeDuration", "PT2X", False),
    ("timeDate", "2027-03-01T09:00:00+08:00", True), ("timeDate", "2026-13-01", False),
    ("timeCycle", "R/PT1H", True), ("timeCycle", "P1D", False), ("timeCycle", "R3/P1X", False),
])
def test_timer_literals_are_checked_as_spiffworkflow_will_read_them(tag, expression, ok):
    old = b'<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">workdays(limit_days)</bpmn:timeDuration>'
    new = f'<bpmn:{tag} xsi:type="bpmn:tFormalExpression">{expression}</bpmn:{tag}>'.encode()
    files = valid_files(petition_review_bpmn=[(old, new)])
    if ok:
        review = next(c for c in compile_files(files) if c.process_id == "petition_review")
        assert review.timers["Timer_handle_due"]["expression"] == expression
        return
    (problem,) = problems_of(files)
    assert (problem.file, problem.element_id) == ("petition_review.bpmn", "Timer_handle_due")
    assert problem.line == line_of(by_name(files, "petition_review.bpmn").content, new)


def test_spiffworkflow_parse_errors_are_mapped_to_file_line_and_element():
    extra = b'<bpmn:sequenceFlow id="Flow_extra" sourceRef="Task_register" targetRef="End_done" />\n'
    files = valid_files(petition_intake_bpmn=[(b"    <bpmn:sequenceFlow id=\"Flow_start\"",
                                               extra + b"    <bpmn:sequenceFlow id=\"Flow_start\"")])
    line = line_of(by_name(files, "petition_intake.bpmn").content, b'<bpmn:userTask id="Task_register"')
    assert lines(problems_of(files)) == [
        (f"petition_intake.bpmn:{line} Task_register: "
         "任务只能有一条出口顺序流，分支请使用网关（Multiple outgoing flows are not supported for tasks of type）")]


def test_a_user_task_outside_any_lane_needs_a_role_property():
    files = valid_files(petition_intake_bpmn=[(b"<bpmn:flowNodeRef>Task_register</bpmn:flowNodeRef>", b"")])
    (problem,) = problems_of(files)
    assert problem.element_id == "Task_register"
    assert "user task has no candidate role" in problem.message


# ------------------------------------------------------------------------------------------------ unsupported

@pytest.mark.parametrize("line, element_id, words", [
    (22, "Transaction_pay", "transaction is not supported"),
    (26, "AdHoc_collect", "adHocSubProcess is not supported"),
    (30, "Gateway_complex", "complexGateway is not supported"),
    (36, "Throw_link", "link events"),
    (40, "Catch_link", "link events"),
    (44, "End_signal", "signal end event"),
    (49, "Start_error", "event subprocess runs as soon as the process starts"),
])
def test_elements_spiffworkflow_cannot_run_are_reported_by_name_and_id(line, element_id, words):
    problems = problems_of(collect_files([str(INVALID / "unsupported.bpmn")]))
    assert len(problems) == 7
    (problem,) = [p for p in problems if p.element_id == element_id]
    assert (problem.file, problem.line) == ("unsupported.bpmn", line)
    assert words in problem.message


def test_silently_ignored_nodes_and_conditions_are_reported():
    assert lines(problems_of(collect_files([str(INVALID / "unreachable.bpmn")]))) == [
        ("unreachable.bpmn:25 Task_orphan: 该元素无法从开始事件到达，SpiffWorkflow 会把它丢掉；请连上顺序流或删除它"
         "（not reachable from a start event: SpiffWorkflow leaves it out silently）"),
        ("unreachable.bpmn:27 Flow_checked: 只有排他网关和包容网关的出口条件会被计算，此条件会被忽略；请在前面加一个网关"
         "（conditions on flows leaving a task are ignored; put a gateway before the branch）"),
    ]


def test_spiffworkflow_really_drops_what_we_report():
    """Guards the list above against a library upgrade: if Spiff starts to refuse these itself, revisit it."""
    parser = SpiffBpmnParser()
    tree = safe_parse_xml((INVALID / "unreachable.bpmn").read_bytes(), "unreachable.bpmn")
    parser.add_bpmn_xml(tree, filename="unreachable.bpmn")
    assert "Task_orphan" not in parser.get_spec("unreachable_demo").task_specs

    snippet = (INVALID / "unsupported.bpmn").read_bytes()
    start = snippet.index(b'<bpmn:subProcess id="EventSub_error"')
    end = snippet.index(b"</bpmn:subProcess>") + len(b"</bpmn:subProcess>")
    event_subprocess = snippet[start:end].replace(b'name="', b'x="').decode().replace(
        "<bpmn:endEvent id=\"End_error\" x=\"已记录\">",
        '<bpmn:scriptTask id="Script_ran"><bpmn:incoming>Flow_u6</bpmn:incoming><bpmn:outgoing>Flow_u7'
        '</bpmn:outgoing><bpmn:script>ran = True</bpmn:script></bpmn:scriptTask>'
        '<bpmn:sequenceFlow id="Flow_u7" sourceRef="Script_ran" targetRef="End_error" />'
        '<bpmn:endEvent id="End_error">').replace('targetRef="End_error" />\n', 'targetRef="Script_ran" />\n', 1)
    document = f"""<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
        targetNamespace="x"><bpmn:error id="Error_failed" name="f" errorCode="failed" />
        <bpmn:process id="p" isExecutable="true">
        <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="u" />
        <bpmn:userTask id="u"><bpmn:incoming>f1</bpmn:incoming></bpmn:userTask>
        {event_subprocess}</bpmn:process></bpmn:definitions>"""
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(safe_parse_xml(document.encode(), "p.bpmn"), filename="p.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("p"), parser.get_subprocess_specs("p"))
    workflow.do_engine_steps()
    assert [t.data for t in workflow.get_tasks(spec_name="Script_ran")] == [{"ran": True}]  # no error was thrown


# ------------------------------------------------------------------------------------------------ DMN, forms, schema

def test_dmn_problems_are_reported_per_cell():
    problems = lines(problems_of(collect_files([str(INVALID / "broken.dmn")])))
    assert problems[0] == ("broken.dmn:4 DecisionTable_relief: 不支持命中策略 PRIORITY，请使用 UNIQUE、FIRST 或 COLLECT"
                           "（hit policy PRIORITY is not supported (it would act as FIRST); use UNIQUE, FIRST or COLLECT）")
    assert [p.split(":")[1].split(" ")[:2] for p in problems] == [
        ["4", "DecisionTable_relief"], ["12", "UnaryTests_low"], ["15", "LiteralExpression_low"],
        ["29", "second_decision"]]
    assert "full boolean in an input cell" in problems[1]
    assert "DMN output cell does not compile" in problems[2]
    assert "only the first decision" in problems[3]


def test_a_dmn_file_that_does_not_parse_is_reported():
    files = valid_files(route_dmn=[(b"</decisionTable>", b"</decisionTabel>")])
    (problem,) = problems_of(files)
    assert problem.file == "route.dmn" and problem.line and "malformed XML" in problem.message


def test_forms_must_be_valid_json_schema():
    files = collect_files([str(INVALID / "invalid.schema.json"), str(INVALID / "broken.schema.json")])
    assert lines(problems_of(files)) == [
        "broken.schema.json:3 -: 表单不是合法的 JSON（invalid JSON: Expecting property name enclosed in double quotes）",
        ("invalid.schema.json:0 $.properties.amount.type: 表单不是有效的 JSON Schema"
         "（invalid JSON Schema: 'integr' is not valid under any of the given schemas）"),
    ]


def test_a_user_task_whose_form_is_invalid_gets_no_spec():
    files = valid_files(reply_schema_json=[(b'"type": "object"', b'"type": "objekt"')])
    problems = problems_of(files)
    assert [(p.file, p.element_id) for p in problems] == [("reply.schema.json", "$.type")]


def test_bpmn_schema_violations_are_reported_with_their_line():
    assert lines(problems_of(collect_files([str(INVALID / "schema_violation.bpmn")]))) == [
        ("schema_violation.bpmn:7 Task_v: 不符合 BPMN 2.0 规范，请在建模器中修正（BPMN 2.0 schema: Element 'task', "
         "attribute 'startQuantity': 'several' is not a valid value of the atomic type 'xs:integer'）")]


def test_malformed_xml_is_reported_at_the_line_lxml_gives():
    (problem,) = problems_of(collect_files([str(INVALID / "malformed.bpmn")]))
    assert (problem.file, problem.line, problem.element_id) == ("malformed.bpmn", 5, None)
    assert problem.message.startswith("XML 格式错误") and "Opening and ending tag mismatch" in problem.message


def test_several_bad_files_give_all_their_problems_in_one_error():
    files = collect_files([str(INVALID / name) for name in (
        "mistakes.bpmn", "broken.dmn", "invalid.schema.json", "malformed.bpmn", "unsupported.bpmn")])
    files.append(SourceFile("xxe.bpmn", (HOSTILE / "xxe.bpmn").read_bytes()))
    with pytest.raises(DefinitionError) as caught:
        compile_files(files)
    problems = caught.value.problems
    assert {p.file for p in problems} == {"mistakes.bpmn", "broken.dmn", "invalid.schema.json", "malformed.bpmn",
                                          "unsupported.bpmn", "xxe.bpmn"}
    # mistakes.bpmn's call to a missing process is not reported while a BPMN file is unreadable: it may be there
    assert len(problems) == (10 - 1) + 4 + 1 + 1 + 7 + 1
    assert not [p for p in problems if p.element_id == "Call_missing"]
    assert str(caught.value).splitlines() == [str(p) for p in problems]


def test_bundle_level_mistakes():
    full = collect_files([str(VALID)])
    intake = by_name(full, "petition_intake.bpmn")
    copy = SourceFile("copy.bpmn", intake.content)
    problems = problems_of([intake, SourceFile("petition_intake.bpmn", b"<x/>"), copy,
                            SourceFile("notes.txt", b"hello")] + [f for f in full if f is not intake])
    assert [(p.file, p.element_id) for p in problems] == [
        ("copy.bpmn", "petition_intake"), ("notes.txt", None), ("petition_intake.bpmn", None)]
    assert "already defined in petition_intake.bpmn" in problems[0].message
    assert "unsupported file type" in problems[1].message
    assert "duplicate file name" in problems[2].message


def test_a_non_executable_pool_is_returned_but_cannot_be_started():
    files = valid_files(petition_review_bpmn=[(b'isExecutable="true"', b'isExecutable="false"')])
    problems = problems_of(files)  # the intake calls it
    assert [(p.element_id, "not executable" in p.message) for p in problems] == [("Call_review", True)]

    (review,) = compile_files([f for f in files if f.name in ("petition_review.bpmn", "reply.schema.json")])
    assert (review.is_executable, review.spec_json) == (False, "")


# ------------------------------------------------------------------------------------------------ hostile input

@pytest.fixture
def lxml_must_not_run(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("lxml was asked to parse a file that should have been refused first")
    monkeypatch.setattr(lxml.etree, "fromstring", refuse)
    monkeypatch.setattr(lxml.etree, "parse", refuse)


@pytest.mark.parametrize("name", ["xxe.bpmn", "billion_laughs.bpmn"])
def test_doctype_and_entities_are_refused_before_lxml_reads_anything(name, lxml_must_not_run):
    with pytest.raises(DefinitionError) as caught:
        safe_parse_xml((HOSTILE / name).read_bytes(), name)
    assert lines(caught.value.problems) == [
        (f"{name}:2 -: 文件含有 DOCTYPE 或实体声明，出于安全原因拒绝读取；请删除后重新上传"
         "（DOCTYPE and entity declarations are refused for security: remove them）")]
    assert "root:" not in str(caught.value)


def test_an_oversized_upload_is_refused_before_parsing(lxml_must_not_run):
    content = b"<a>" + b" " * MAX_FILE_BYTES + b"</a>"
    with pytest.raises(DefinitionError, match="5 MB"):
        safe_parse_xml(content, "big.bpmn")


def test_an_oversized_file_on_disk_is_refused_without_reading_it(tmp_path, monkeypatch):
    big = tmp_path / "big.bpmn"
    with big.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    (tmp_path / "small.json").write_text("{}")
    real_read = pathlib.Path.read_bytes

    def read_bytes(path):
        assert path.name != "big.bpmn", "the oversized file was read"
        return real_read(path)

    monkeypatch.setattr(pathlib.Path, "read_bytes", read_bytes)
    with pytest.raises(DefinitionError) as caught:
        collect_files([str(tmp_path)])
    (problem,) = caught.value.problems
    assert problem.file == str(big) and "5 MB" in problem.message


@pytest.mark.parametrize("content", [
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a><a/>'.encode("utf-16"),
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a><a/>'.encode("utf-16-le"),  # no byte-order mark
    b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE a+AD4-<a/>',
])
def test_a_doctype_is_found_in_any_encoding_before_lxml_runs(content, lxml_must_not_run):
    """Other encodings are read now (MIWG files declare ISO-8859-1): the DOCTYPE scan reads a decoded copy, so
    an encoding that spells `<!` differently cannot hide one from it."""
    with pytest.raises(DefinitionError, match="DOCTYPE"):
        safe_parse_xml(content, "odd.bpmn")


def test_an_unknown_or_false_encoding_is_a_problem_naming_the_file(lxml_must_not_run):
    with pytest.raises(DefinitionError) as caught:
        safe_parse_xml(b'<?xml version="1.0" encoding="X-NOPE"?><a/>', "odd.bpmn")
    assert str(caught.value).startswith("odd.bpmn:1 -: ") and "X-NOPE".lower() in str(caught.value)
    with pytest.raises(DefinitionError, match="UTF-8"):
        safe_parse_xml('<?xml version="1.0" encoding="UTF-8"?><a n="é"/>'.encode("latin-1"), "odd.bpmn")


def test_lxml_is_configured_not_to_resolve_anything_even_past_the_byte_scan(monkeypatch):
    """The second guard: were the byte scan fooled, lxml still resolves no entity and the DOCTYPE is refused."""
    monkeypatch.setattr("engine.definitions._refuse_before_parsing", lambda content, filename: None)
    with pytest.raises(DefinitionError) as caught:
        safe_parse_xml((HOSTILE / "xxe.bpmn").read_bytes(), "xxe.bpmn")
    assert "external entity" in str(caught.value) and "root:" not in str(caught.value)

    text_only = (HOSTILE / "xxe.bpmn").read_bytes().replace(b' name="&x;"', b"")
    with pytest.raises(DefinitionError, match="DOCTYPE"):
        safe_parse_xml(text_only, "xxe.bpmn")


def test_problem_and_error_formatting():
    assert str(Problem("a.bpmn", None, None, "坏了（broken）")) == "a.bpmn:0 -: 坏了（broken）"
    assert str(Problem("a.bpmn", 7, "Task_1", "m")) == "a.bpmn:7 Task_1: m"
    error = DefinitionError([Problem("a.bpmn", 1, "x", "m1"), Problem("b.dmn", 2, None, "m2")])
    assert str(error) == "a.bpmn:1 x: m1\nb.dmn:2 -: m2"


def test_collect_files_takes_files_and_folders_and_reports_missing_paths(tmp_path):
    files = collect_files([str(VALID), str(INVALID / "broken.dmn")])
    assert sorted(f.name for f in files) == ["broken.dmn", "petition_intake.bpmn", "petition_review.bpmn",
                                             "register.schema.json", "reply.schema.json", "route.dmn"]
    with pytest.raises(DefinitionError, match=re.escape("no such file or folder")):
        collect_files([str(tmp_path / "nowhere")])
