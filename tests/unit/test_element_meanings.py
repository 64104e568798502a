"""Element meanings (processes/meanings.yaml): the code asks for a meaning, never for a literal element id."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.definitions import CompiledProcess
from services import element_meanings
from services.element_meanings import ElementMeanings, MeaningsProblem

ROOT = Path(__file__).resolve().parents[2]
BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/><bpmn:userTask id="Task_a"/><bpmn:subProcess id="sub">
      <bpmn:userTask id="Task_inner"/></bpmn:subProcess>
  </bpmn:process>
  <bpmn:process id="other"><bpmn:userTask id="Task_elsewhere"/></bpmn:process>
</bpmn:definitions>"""


def compiled(pid="p") -> CompiledProcess:
    return CompiledProcess(pid, pid, "h", "{}", {"p.bpmn": BPMN}, {}, {}, True)


def test_the_shipped_meanings_name_the_elements_the_code_relied_on():
    m = ElementMeanings.load(ROOT / "processes" / "meanings.yaml")
    with pytest.raises(LookupError):  # confidentiality is a property of the route element, not a meaning
        m.elements("confidential_route")
    assert m.elements("triage") == {"Task_triage"} and m.elements("rating") == {"Task_rating"}
    assert m.elements("contacts_petitioner") == {"Task_triage", "Task_handle", "Task_reply_after_tier",
                                                 "Task_hearing", "Task_rating", "Task_review_redo", "Task_revisit",
                                                 "Task_redo_revisit"}
    assert m.elements("review_redo") == {"Task_review_redo"}
    assert element_meanings.elements("rating") == {"Task_rating"}
    assert m.elements("acceptance") == {"Task_accept"} and m.elements("reply") == {"Task_serve_reply"}
    assert m.elements("sign") == {"Task_sign"} and m.elements("review", "petition_case") == {"Task_review"}
    assert m.mapping("milestone_13710")["Task_report_up_tier"] == "E1"
    assert m.mapping("limit_timer", "leader_13710")["Task_t1"] == "Timer_t1"
    assert m.undeclared() == [], "every meaning the code reads is declared"


def test_meanings_of_several_processes_are_joined():
    m = ElementMeanings.from_text("a: {rating: [Task_r1]}\nb: {rating: Task_r2}\n")
    assert m.elements("rating") == {"Task_r1", "Task_r2"}
    with pytest.raises(LookupError):
        m.elements("no_such_meaning")


def test_unknown_meanings_and_bad_lists_are_named_with_file_and_line():
    with pytest.raises(MeaningsProblem) as err:
        ElementMeanings.from_text("p:\n  rating: [Task_a]\n  secret_route: [Task_a]\n  triage: []\n", "m.yaml")
    lines = [(p.file, p.line) for p in err.value.problems]
    assert lines == [("m.yaml", 3), ("m.yaml", 4)]
    assert "secret_route" in err.value.problems[0].message


def test_a_meaning_naming_a_missing_element_is_a_problem_of_that_element():
    text = "p:\n  rating: [Task_a]\n  acceptance: [Task_gone]\n  triage: [Task_inner, Task_elsewhere]\n"
    m = ElementMeanings.from_text(text, "meanings.yaml")
    problems = m.problems_for(compiled())
    assert [(p.file, p.line, p.element_id) for p in problems] == [("meanings.yaml", 3, "Task_gone"),
                                                                   ("meanings.yaml", 4, "Task_elsewhere")]
    assert "acceptance" in problems[0].message
    assert m.problems_for(compiled("not_declared")) == []


def test_mapped_meanings_map_elements_and_their_timers_must_exist():
    text = "p:\n  milestone_13710: {Task_a: T1}\n  limit_timer:\n    Task_a: Timer_gone\n    Task_missing: Timer_x\n"
    m = ElementMeanings.from_text(text, "meanings.yaml")
    assert m.mapping("milestone_13710") == {"Task_a": "T1"} and m.elements("limit_timer") == {"Task_a", "Task_missing"}
    problems = m.problems_for(compiled())
    assert [(p.line, p.element_id) for p in problems] == [(5, "Task_missing"), (4, "Timer_gone"), (5, "Timer_x")]
    assert "limit_timer" in problems[1].message
    with pytest.raises(MeaningsProblem) as err:
        ElementMeanings.from_text("p:\n  milestone_13710: [Task_a]\n  rating: {Task_a: x}\n", "m.yaml")
    assert [p.line for p in err.value.problems] == [2, 3]


def test_earlier_versions_ids_are_read_but_not_checked_at_deploy():
    text = "p:\n  acceptance: [Task_a]\n  earlier_versions:\n    acceptance: [Task_accept_2025]\n"
    m = ElementMeanings.from_text(text)
    assert m.ordered("acceptance") == ("Task_a", "Task_accept_2025")
    assert m.problems_for(compiled()) == []
    with pytest.raises(MeaningsProblem) as err:
        ElementMeanings.from_text("p:\n  earlier_versions:\n    acceptence: [Task_a]\n")
    assert "acceptence" in err.value.problems[0].message and err.value.problems[0].line == 3


def test_a_statistics_meaning_missing_in_a_deployed_process_refuses_it_naming_the_meaning(tmp_path):
    """A new version renames the acceptance task: deploy refuses it while meanings.yaml names the old id (the
    statistics would no longer find the step), and takes it once the new id is listed (the old one under
    `earlier_versions`, for the cases that ran on it)."""
    bpmn = BPMN.replace('id="p"', 'id="petition_case"').replace("Task_a", "Task_accept_v2")
    renamed = CompiledProcess("petition_case", "petition_case", "h", "{}", {"p.bpmn": bpmn}, {}, {}, True)
    text = "petition_case:\n  triage: [Task_inner]\n  acceptance: [Task_accept]\n"
    [problem] = ElementMeanings.from_text(text, "meanings.yaml").problems_for(renamed)
    assert (problem.line, problem.element_id) == (3, "Task_accept")
    assert "acceptance" in problem.message and "作出受理决定" in problem.message
    text = ("petition_case:\n  triage: [Task_inner]\n  acceptance: [Task_accept_v2]\n"
            "  earlier_versions: {acceptance: [Task_accept]}\n")
    m = ElementMeanings.from_text(text)
    assert m.problems_for(renamed) == [] and m.elements("acceptance") == {"Task_accept_v2", "Task_accept"}


def test_a_meaning_the_statistics_read_and_no_process_declares_refuses_the_deploy(tmp_path):
    meanings = tmp_path / "meanings.yaml"
    shipped = (ROOT / "processes" / "meanings.yaml").read_text(encoding="utf-8")
    meanings.write_text(shipped.replace("  reply: [Task_serve_reply]\n", ""), encoding="utf-8")
    problems = element_meanings.deploy_check(meanings)([])
    assert [p.file for p in problems] == ["meanings.yaml"]
    assert "reply" in problems[0].message and "送达书面答复" in problems[0].message


def test_no_literal_element_ids_in_services_or_web():
    """services/ and web/ name no element (`Task_...`, `Timer_...`): they ask for a meaning (processes/meanings.yaml)."""
    literal = re.compile(r"\b(?:Task|Timer|Gateway|Script|End|Start|Call|Flow|Event|Boundary|Sub|Lane)_[A-Za-z0-9]\w*")
    sources = [p for top in ("services", "web") for pattern in ("*.py", "*.html", "*.js", "*.yaml", "*.json")
               for p in (ROOT / top).rglob(pattern) if "dist" not in p.relative_to(ROOT).parts]
    found = {str(p.relative_to(ROOT)): literal.findall(p.read_text(encoding="utf-8")) for p in sources}
    assert {name: ids for name, ids in found.items() if ids} == {}
