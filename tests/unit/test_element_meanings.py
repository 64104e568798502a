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
    assert m.elements("confidential_route") == {"Task_route_discipline"}
    assert m.elements("triage") == {"Task_triage"} and m.elements("rating") == {"Task_rating"}
    assert m.elements("contacts_petitioner") == {"Task_triage", "Task_handle", "Task_reply_after_tier",
                                                 "Task_hearing", "Task_rating"}
    assert element_meanings.elements("rating") == {"Task_rating"}


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
    text = "p:\n  rating: [Task_a]\n  confidential_route: [Task_gone]\n  triage: [Task_inner, Task_elsewhere]\n"
    m = ElementMeanings.from_text(text, "meanings.yaml")
    problems = m.problems_for(compiled())
    assert [(p.file, p.line, p.element_id) for p in problems] == [("meanings.yaml", 3, "Task_gone"),
                                                                   ("meanings.yaml", 4, "Task_elsewhere")]
    assert "confidential_route" in problems[0].message
    assert m.problems_for(compiled("not_declared")) == []


def test_no_literal_element_ids_in_the_code_that_reads_meanings():
    """services/ and web/ name no `Task_...` element; the public milestones (what the petitioner reads about each
    step) are the one table left, listed here."""
    literal = re.compile(r'"(?:Task|Timer|Gateway|Script|End|Start)_\w+"')
    found = {str(p.relative_to(ROOT)) for top in ("services", "web") for p in (ROOT / top).rglob("*.py")
             if literal.search(p.read_text(encoding="utf-8"))}
    assert found <= {"services/public_progress.py"}
