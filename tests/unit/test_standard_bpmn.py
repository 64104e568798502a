"""Standard BPMN as other tools write it: any declared XML encoding, and timer values in the standard's own ISO
8601 notation (bare PT2H, P7D, R3/PT1H, dates) beside Lianxin's working-day expressions."""
from __future__ import annotations

from datetime import datetime

import pytest
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine import sandbox, spiff_patches
from engine.clock import SHANGHAI
from engine.definitions import DefinitionError, SourceFile, compile_bundle, load_specs, safe_parse_xml
from tests.support.bpmn import flow, process, user_task

NAME = "信访事项 Zürich"  # needs more than ASCII, within what each encoding below can write


def timer_process(kind: str, value: str, name: str = NAME) -> str:
    return process("std_timer", f"""
<bpmn:startEvent id="start"/>
{user_task("handle", name)}
<bpmn:boundaryEvent id="Timer_x" attachedToRef="handle"><bpmn:timerEventDefinition>
  <bpmn:{kind}>{value}</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:boundaryEvent>
<bpmn:endEvent id="end"/>
<bpmn:endEvent id="end_late"/>
{flow("f1", "start", "handle")}
{flow("f2", "handle", "end")}
{flow("f3", "Timer_x", "end_late")}
""", name=name)


def compile_one(content: bytes):
    return compile_bundle([SourceFile("std.bpmn", content)], handler_names=set(),
                          check_expression=sandbox.check_expression, check_script=sandbox.check_script,
                          known_functions={"workdays", "days", "now"} | sandbox.BUILTIN_NAMES)


def encoded(text: str, encoding: str, declared: str, bom: bool = False) -> bytes:
    text = text.replace('encoding="UTF-8"', f'encoding="{declared}"', 1)
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


# ------------------------------------------------------------------------------------------------ encodings

@pytest.mark.parametrize("encoding, declared, name", [
    ("iso-8859-1", "ISO-8859-1", "Petition Zürich"),
    ("gbk", "GBK", NAME.replace("ü", "u")),
    ("gb18030", "GB18030", NAME),
    ("utf-16", "UTF-16", NAME),  # Python writes the byte-order mark
    ("utf-16-be", "UTF-16", NAME),  # no mark: told from the shape of `<?xml`
    ("utf-8-sig", "UTF-8", NAME),
])
def test_every_declared_encoding_is_read_from_the_bytes(encoding, declared, name):
    content = encoded(timer_process("timeDuration", "PT2H", name), encoding, declared)
    assert safe_parse_xml(content, "std.bpmn").find(".//{*}process").get("name") == name
    [compiled] = compile_one(content)
    assert compiled.name == name and compiled.is_executable
    # the stored source is text that says UTF-8, so that it parses again to the same tree
    text = compiled.sources["std.bpmn"]
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert safe_parse_xml(text.encode("utf-8"), "std.bpmn").find(".//{*}process").get("name") == name


def test_bytes_that_are_not_the_declared_encoding_are_a_problem_with_its_line():
    content = encoded(timer_process("timeDuration", "PT2H"), "gbk", "UTF-8")  # saved as GBK, says UTF-8
    with pytest.raises(DefinitionError) as caught:
        compile_one(content)
    [problem] = caught.value.problems
    assert problem.file == "std.bpmn" and "utf-8" in problem.message and "save it again" in problem.message
    assert problem.line == content[:content.index(NAME.encode("gbk"))].count(b"\n") + 1


def test_a_doctype_in_iso_8859_1_or_gb18030_is_still_refused():
    for encoding in ("ISO-8859-1", "GB18030"):
        text = timer_process("timeDuration", "PT2H", "Zürich").replace("?>\n", "?>\n<!DOCTYPE d>\n", 1)
        with pytest.raises(DefinitionError, match="DOCTYPE"):
            compile_one(encoded(text, encoding.lower(), encoding))


# ------------------------------------------------------------------------------------------------ timer literals

@pytest.mark.parametrize("kind, value", [
    ("timeDuration", "PT2H"), ("timeDuration", "P7D"), ("timeDuration", "P1DT12H"), ("timeDuration", "PT30M"),
    ("timeDuration", "P1W"), ("timeDate", "2027-03-01T09:00:00+08:00"), ("timeDate", "2027-03-01T01:00:00Z"),
    ("timeCycle", "R6/P1D"), ("timeCycle", "R/PT1H"), ("timeCycle", "R3/2027-03-01T09:00:00+08:00/PT1H"),
    # Lianxin's own expressions beside them
    ("timeDuration", '"P3D"'), ("timeDuration", "workdays(3)"), ("timeDate", "workdays(3)"),
])
def test_each_standard_timer_form_compiles_to_a_value_spiffworkflow_reads(kind, value):
    [compiled] = compile_one(process_bytes := timer_process(kind, value).encode("utf-8"))
    assert process_bytes and compiled.timers["Timer_x"]["expression"] == value
    spec, _ = load_specs(compiled.spec_json)
    expression = spec.task_specs["Timer_x"].event_definition.expression
    if value[0] in "PR2":  # a bare literal becomes the Python string of the same value
        assert expression == repr(value)
        literal = value
        if kind == "timeDuration":
            assert TimerEventDefinition.parse_iso_duration(literal)
        elif kind == "timeDate":
            assert TimerEventDefinition.get_datetime(literal).tzinfo is not None
        else:
            # SpiffWorkflow reads "now" for R/duration; once the runtime patched it, only inside a command
            token = spiff_patches.set_command_instant(datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI))
            try:
                cycles, _, duration = TimerEventDefinition.parse_iso_recurring_interval(literal)
            finally:
                spiff_patches.reset_command_instant(token)
            assert cycles in (6, -1, 3) and duration.total_seconds() > 0
    else:
        assert expression == value


@pytest.mark.parametrize("kind, value", [
    ("timeDuration", "P7X"), ("timeDuration", "PT2H30"), ("timeDuration", "P1M2W"),
    ("timeDate", "2027-02-30T09:00:00"), ("timeDate", "2027-03-01T25:00"),
    ("timeCycle", "R6/P1X"), ("timeCycle", "P1D"), ("timeCycle", "R6/PT1H/PT2H"), ("timeCycle", "R3/2027-03-01"),
])
def test_a_timer_value_that_is_not_iso_8601_is_a_problem_naming_the_element(kind, value):
    content = timer_process(kind, value).encode("utf-8")
    with pytest.raises(DefinitionError) as caught:
        compile_one(content)
    [problem] = caught.value.problems
    assert (problem.file, problem.element_id) == ("std.bpmn", "Timer_x")
    assert problem.line == content[:content.index(value.encode())].count(b"\n") + 1
    assert value in problem.message and "ISO 8601" in problem.message and "write it like" in problem.message


@pytest.mark.parametrize("kind, value, compiled", [
    ("timeDate", "2027-03-01T09:00:00", "2027-03-01T09:00:00+08:00"),
    ("timeDate", "2027-03-01", "2027-03-01T00:00:00+08:00"),
    ("timeCycle", "R2/2027-03-01T09:00/P1D", "R2/2027-03-01T09:00:00+08:00/P1D"),
])
def test_a_date_without_a_zone_means_beijing_time_not_the_servers(kind, value, compiled):
    [result] = compile_one(timer_process(kind, value).encode("utf-8"))
    spec, _ = load_specs(result.spec_json)
    assert spec.task_specs["Timer_x"].event_definition.expression == repr(compiled)
