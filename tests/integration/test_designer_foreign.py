"""Files from other modelers (Camunda 7 and 8, Signavio, bpmn.io): what the engine cannot run is reported by name
at validation, never dropped silently. (The round trip through the modeler is in tests/browser.)"""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions import DefinitionError, SourceFile
from services.store import drafts

FOREIGN = Path(__file__).resolve().parents[1] / "fixtures" / "bpmn" / "foreign"


def problems(runtime, name: str, replace: tuple[str, str] | None = None) -> list:
    content = (FOREIGN / name).read_bytes()
    if replace:
        content = content.replace(replace[0].encode(), replace[1].encode())
    files = [SourceFile(name, content)]
    try:
        runtime.check(files)
    except DefinitionError as err:
        return err.problems
    return []


def by_element(found) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in found:
        out[p.element_id] = out.get(p.element_id, "") + p.message
    return out


def test_camunda7_extensions_are_named_not_run(container):
    found = by_element(problems(container.runtime, "camunda7.bpmn"))
    assert "缺少 lianxin:role" in found["Lane_reception"]
    assert "缺少 spiffworkflow:serviceTaskOperator" in found["Task_lookup"]  # camunda:delegateExpression is not run
    assert "Timer_wait" not in found  # its bare P5D is standard ISO 8601 and accepted


def test_camunda8_zeebe_task_definitions_are_named(container):
    found = by_element(problems(container.runtime, "zeebe.bpmn"))
    assert "缺少 spiffworkflow:serviceTaskOperator" in found["Task_classify"]  # zeebe:taskDefinition is not run
    assert "没有候选角色" in found["Task_decide"]


@pytest.mark.parametrize("name, element_id, words", [
    ("signavio.bpmn", "sid-decide", "复杂网关"),
    ("bpmnio.bpmn", "Tx_review", "事务子流程"),
])
def test_elements_the_engine_cannot_run_are_named(container, name, element_id, words):
    # as exported (not executable): deployable as documentation, and the validation says so by name
    assert problems(container.runtime, name) == []
    warnings = drafts.warnings_of([SourceFile(name, (FOREIGN / name).read_bytes())])
    assert any("不可执行" in w.message for w in warnings)
    [unsupported] = [w for w in warnings if w.element_id == element_id]
    assert words in unsupported.message
    # marked executable: the same element is a problem that blocks deployment
    found = by_element(problems(container.runtime, name, ('isExecutable="false"', 'isExecutable="true"')))
    assert words in found[element_id]


def test_lianxins_own_processes_have_no_warnings():
    root = Path(__file__).resolve().parents[2] / "processes"
    files = [SourceFile(p.name, p.read_bytes()) for p in root.glob("*.bpmn")]
    assert drafts.warnings_of(files) == []
