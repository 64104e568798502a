"""Unreasonable BPMN documents are refused right after parsing, before the schema check walks them: an element
with 200,000 attributes kept a thread busy for over ten minutes (each schema error looked the element's id up
among all its attributes, and walked the whole tree to find its line). The schema errors of a document within the
bounds are mapped to elements from one walk and listed up to a limit. Assertions are on outcomes and on how often
the expensive steps run, never on time."""
from __future__ import annotations

import pytest

from engine import definitions
from engine.definitions import (
    MAX_ATTRIBUTES,
    MAX_ATTRIBUTES_PER_ELEMENT,
    MAX_ELEMENTS,
    MAX_SCHEMA_PROBLEMS,
    MAX_XML_DEPTH,
    DefinitionError,
    compile_bundle,
    safe_parse_xml,
)
from tests.support import bpmn


def compile_one(body: str):
    return compile_bundle([bpmn.source("p", body)], handler_names=set(), check_expression=lambda t: None,
                          check_script=lambda t: None, known_functions=set())


def problems(body: str):
    with pytest.raises(DefinitionError) as caught:
        compile_one(body)
    return caught.value.problems


def chain(task_attrs: str = "") -> str:
    return (f'<bpmn:startEvent id="start"/><bpmn:task id="t" {task_attrs}/><bpmn:endEvent id="end"/>'
            + bpmn.flow("f1", "start", "t") + bpmn.flow("f2", "t", "end"))


@pytest.fixture
def schema_checks(monkeypatch):
    """How many times the schema check ran, and how many elements the line index and the id lookup visited."""
    counts = {"xsd": 0, "by_line": 0, "nearest_id": 0}
    real_xsd, real_by_line, real_nearest = definitions._xsd_valid, definitions._elements_by_line, \
        definitions._nearest_id

    def xsd(*args, **kwargs):
        counts["xsd"] += 1
        return real_xsd(*args, **kwargs)

    def by_line(doc):
        counts["by_line"] += 1
        return real_by_line(doc)

    def nearest(element):
        counts["nearest_id"] += 1
        return real_nearest(element)

    monkeypatch.setattr(definitions, "_xsd_valid", xsd)
    monkeypatch.setattr(definitions, "_elements_by_line", by_line)
    monkeypatch.setattr(definitions, "_nearest_id", nearest)
    return counts


def test_an_element_with_200000_attributes_is_refused_before_the_schema_check(schema_checks):
    attrs = " ".join(f'a{i}="1"' for i in range(200_000))
    found = problems(chain(attrs))
    assert len(found) == 1
    assert "200001 个属性" in found[0].message and f"上限 {MAX_ATTRIBUTES_PER_ELEMENT}" in found[0].message
    assert found[0].file == "p.bpmn" and found[0].line == 4
    assert schema_checks == {"xsd": 0, "by_line": 0, "nearest_id": 0}


def test_the_same_in_a_namespace_the_schema_allows():
    attrs = " ".join(f'lianxin:a{i}="1"' for i in range(200_000))
    [problem] = problems(chain(attrs))
    assert "200001 个属性" in problem.message  # with its id


def test_elements_depth_and_attributes_in_all_are_bounded():
    with pytest.raises(DefinitionError) as caught:
        safe_parse_xml(bpmn.process("p", "<bpmn:documentation/>" * MAX_ELEMENTS).encode(), "p.bpmn")
    assert f"超过 {MAX_ELEMENTS} 个" in caught.value.problems[0].message
    deep = "<bpmn:extensionElements>" * MAX_XML_DEPTH + "</bpmn:extensionElements>" * MAX_XML_DEPTH
    with pytest.raises(DefinitionError) as caught:
        safe_parse_xml(bpmn.process("p", deep).encode(), "p.bpmn")
    assert f"嵌套超过 {MAX_XML_DEPTH} 层" in caught.value.problems[0].message
    per_task = " ".join(f'lianxin:a{i}="1"' for i in range(MAX_ATTRIBUTES_PER_ELEMENT - 1))
    many = "".join(f'<bpmn:task id="t{j}" {per_task}/>' for j in range(MAX_ATTRIBUTES // MAX_ATTRIBUTES_PER_ELEMENT + 1))
    with pytest.raises(DefinitionError) as caught:
        safe_parse_xml(bpmn.process("p", many).encode(), "p.bpmn")
    assert f"属性超过 {MAX_ATTRIBUTES} 个" in caught.value.problems[0].message


def test_the_shipped_processes_are_well_within_the_bounds():
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[2] / "processes").glob("*.[bd][pm][mn]*")):
        safe_parse_xml(path.read_bytes(), path.name)


def test_schema_errors_are_mapped_from_one_walk_and_listed_up_to_the_limit(schema_checks):
    per_task = " ".join(f'a{i}="1"' for i in range(MAX_ATTRIBUTES_PER_ELEMENT - 1))  # and the id: at the bound
    tasks = "\n".join(f'<bpmn:task id="t{j}" {per_task}/>' for j in range(200))  # 12,600 schema errors
    found = problems('<bpmn:startEvent id="start"/>\n' + tasks)
    schema = [p for p in found if "BPMN 2.0 schema" in p.message]
    assert len(schema) == MAX_SCHEMA_PROBLEMS + 1
    assert sum("另有 12500 处不符合 BPMN 2.0 规范" in p.message for p in schema) == 1
    assert {p.element_id for p in schema if p.line} <= {"t0", "t1"}
    assert schema_checks["xsd"] == 1 and schema_checks["by_line"] == 1
    assert schema_checks["nearest_id"] <= MAX_SCHEMA_PROBLEMS + 10  # per listed error, not per error found


def test_a_document_within_the_bounds_still_compiles():
    assert [c.process_id for c in compile_one(chain('lianxin:note="x"'))] == ["p"]
