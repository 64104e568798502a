"""The smoke simulation's data (processes/simulations.yaml) and its report, without a database."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.definitions import DefinitionError, SourceFile, collect_files
from engine.simulation import PathResult, SimulationReport, StepResult, locate
from services import simulations

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"


def test_the_shipped_paths_fit_the_shipped_forms():
    plan = simulations.plan_for(PROCESSES)(collect_files([str(PROCESSES)]))
    by_name = {p.name: p for p in plan.paths}
    petition = by_name["登记→分流→签收→受理→答复"]
    assert petition.process_key == "petition_case" and not petition.refusal
    assert [s.element_id for s in petition.steps] == ["Task_triage", "Task_sign", "Task_accept", "Task_handle"]
    # the registration became start data the way the desk makes it
    assert petition.start["petitioner"] == {"name": "模拟信访人"} and petition.start["registering_unit"] == "city_bureau"
    forms = {"Task_triage": "triage.schema.json", "Task_sign": "sign_or_object.schema.json",
             "Task_accept": "acceptance.schema.json", "Task_handle": "handling.schema.json"}
    for step in petition.steps:
        data, problems = plan.fill_form(forms[step.element_id], step.data)
        assert problems == [] and data == step.data, step.element_id
    assert "simple_case" in {p.process_key for p in plan.paths}


def test_a_registration_that_no_longer_fits_its_form_refuses_the_path(tmp_path):
    (tmp_path / "forms").mkdir()
    (tmp_path / simulations.FILE_NAME).write_text(
        "petition_case:\n  - name: 坏的\n    registration: {title: 渠道不在列表中, channel: 电报}\n    steps: []\n", encoding="utf-8")
    form = SourceFile(simulations.REGISTER_FORM, (PROCESSES / "forms" / simulations.REGISTER_FORM).read_bytes())
    [path] = simulations.plan_for(tmp_path)([form]).paths
    assert "channel" in path.refusal and "登记表单" in path.refusal


def test_required_fields_are_filled_with_plain_examples_and_dates_are_not():
    schema = {"type": "object", "required": ["a", "b", "c", "d", "e"], "properties": {
        "a": {"type": "string", "minLength": 8}, "b": {"enum": ["甲", "乙"]}, "c": {"type": "integer", "minimum": 3},
        "d": {"type": "boolean"}, "e": {"type": "string", "format": "date"}}}
    filled = simulations.with_required(schema, {"b": "乙"})
    assert filled["b"] == "乙" and filled["c"] == 3 and filled["d"] is True and len(filled["a"]) >= 8
    assert "e" not in filled
    assert [p.split("：")[0] for p in simulations.form_problems(schema, filled)] == ["表单"]


def test_a_failed_path_is_a_problem_placed_at_its_element():
    files = [SourceFile("p.bpmn", b'<a>\n<b id="Gateway_route"/>\n</a>'), SourceFile("f.json", b"{}")]
    assert locate(files, "Gateway_route") == ("p.bpmn", 2)
    assert locate(files, "nowhere") == ("p.bpmn", None)
    path = PathResult("p", "路径", [StepResult("start", "登记", True),
                                   StepResult("Task_triage", "分流研判", False, "出错了", "Gateway_route")])
    report = SimulationReport([path, PathResult("q", "好路径", [StepResult("start", "登记", True)])])
    assert not report.ok
    [problem] = report.problems(files)
    assert (problem.file, problem.line, problem.element_id) == ("p.bpmn", 2, "Gateway_route")
    assert problem.simulation == {"path": "路径", "process_key": "p", "step": "Task_triage", "label": "分流研判",
                                  "message": "出错了"}
    assert "第 2 步“分流研判”" in problem.message
    as_json = json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    assert as_json["ok"] is False and [p["ok"] for p in as_json["paths"]] == [False, True]


def test_a_broken_paths_file_refuses_the_deployment_saying_so(tmp_path):
    (tmp_path / simulations.FILE_NAME).write_text("petition_case: 不是列表\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as refused:
        simulations.plan_for(tmp_path)([])
    [problem] = refused.value.problems
    assert problem.file == simulations.FILE_NAME and "应为路径列表" in problem.message
