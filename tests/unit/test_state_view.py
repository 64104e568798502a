"""A case's data read from its decoded state (engine/state_view.py) is, key for key and in the same order, what the
restored workflow gives (engine.tree.view_data), in every state a case goes through: waiting at user tasks,
parallel branches, an embedded and a called process, a boundary timer and message waiting, deleted and changed
keys, a failed script (incident), finished; pruned as the runtime saves it or not. A state with typed values is
left to the restore. Issue #21 (reading a case)."""
from __future__ import annotations

import json
from datetime import datetime

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine import spiff_patches
from engine.clock import SHANGHAI
from engine.state import StateCodec, prune_finished_history
from engine.state_view import data_of_state
from engine.tree import view_data
from tests.support.bpmn import branches, flow, process, user_task

BRANCHES = branches(f"""
  {user_task("inner", "乙")}
  <bpmn:scriptTask id="inner_script" name="改写"><bpmn:script>nested["b"] = [1, 2]
del scratch</bpmn:script></bpmn:scriptTask>
  {user_task("inner_two", "乙二")}
  {flow("s1", "sub_start", "inner")}
  {flow("s2", "inner", "inner_script")}
  {flow("s3", "inner_script", "inner_two")}
  {flow("s4", "inner_two", "sub_end")}""")

CALLEE = process("callee", f"""
<bpmn:startEvent id="start"/>
{user_task("check", "核查")}
<bpmn:scriptTask id="verdict" name="结论"><bpmn:script>verdict = "属实"
del checked_by</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="end"/>
{flow("f1", "start", "check")}
{flow("f2", "check", "verdict")}
{flow("f3", "verdict", "end")}
""", "被调用流程")

CALLER = process("caller", f"""
<bpmn:startEvent id="start"/>
{user_task("intake", "登记")}
<bpmn:callActivity id="call_check" name="调用核查" calledElement="callee"/>
<bpmn:boundaryEvent id="late" attachedToRef="call_check" cancelActivity="false">
  <bpmn:timerEventDefinition><bpmn:timeDuration>"P5D"</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:endEvent id="late_end"/>
{user_task("reply", "答复")}
<bpmn:scriptTask id="fails" name="出错"><bpmn:script>result = 1 / broken</bpmn:script></bpmn:scriptTask>
<bpmn:endEvent id="end"/>
{flow("f1", "start", "intake")}
{flow("f2", "intake", "call_check")}
{flow("f3", "call_check", "reply")}
{flow("f4", "reply", "fails")}
{flow("f5", "fails", "end")}
{flow("f6", "late", "late_end")}
""", "调用方")

# what each user task's submission puts in: new keys, a changed nested value, a key a later script deletes
SUBMISSIONS = {
    "first": {"a": 1, "nested": {"x": "甲"}, "scratch": True},
    "inner": {"b": "乙", "nested": {"x": "乙", "y": [3]}, "scratch": "tmp"},
    "inner_two": {"c": None, "items": [{"k": 1}, {"k": 2}]},
    "last": {"final": "办结", "a": 2},
    "intake": {"title": "拖欠工资", "petitioner": {"name": "张三"}, "checked_by": "甲"},
    "check": {"checked_by": "乙", "facts": ["一", "二"]},
    "reply": {"reply": "已答复", "broken": 0},
}


def specs(xml: list[tuple[str, str]], top: str):
    parser = SpiffBpmnParser()
    for name, text in xml:
        parser.add_bpmn_xml(etree.fromstring(text.encode("utf-8")), filename=f"{name}.bpmn")
    return parser.get_spec(top), parser.get_subprocess_specs(top)


@pytest.fixture
def codec():
    spiff_patches.apply()
    token = spiff_patches.set_command_instant(datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))  # timers read it
    yield StateCodec()
    spiff_patches.reset_command_instant(token)


def same_as_restored(codec: StateCodec, wf: BpmnWorkflow) -> int:
    """Check the state of `wf` as saved, unpruned and pruned; the number of states checked."""
    checked = 0
    for prune in (False, True):
        if prune:
            prune_finished_history(wf)
        text = codec.dumps(wf)
        restored, plain = codec.read(text, wf.spec, wf.subprocess_specs, wf.script_engine)
        assert plain
        expected = view_data(restored, plain)
        shown = data_of_state(text)
        assert shown == expected
        assert json.dumps(shown, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)  # order too
        assert shown is not expected
        checked += 1
    return checked


def walk(codec: StateCodec, spec, order: list[str]) -> tuple[BpmnWorkflow, int]:
    """Run a workflow, completing its ready user tasks (the first of `order` that is ready each time); check every
    state on the way."""
    wf = BpmnWorkflow(spec[0], spec[1], script_engine=PythonScriptEngine())
    wf.do_engine_steps()
    checked = same_as_restored(codec, wf)
    while True:
        ready = {t.task_spec.name: t for t in wf.get_tasks(state=TaskState.READY, manual=True)}
        name = next((n for n in order if n in ready), None)
        if name is None:
            return wf, checked
        task = ready[name]
        task.set_data(**json.loads(json.dumps(SUBMISSIONS[name])))
        task.run()
        try:
            wf.do_engine_steps()
        except WorkflowTaskException:  # the failing script: the case's incident, its task in ERROR
            assert wf.get_tasks(state=TaskState.ERROR)
            return wf, checked + same_as_restored(codec, wf)
        checked += same_as_restored(codec, wf)


@pytest.mark.parametrize("order", [["first", "inner", "inner_two", "last"], ["inner", "first", "inner_two", "last"],
                                   ["inner", "inner_two", "first", "last"]])
def test_parallel_branches_and_an_embedded_process_read_as_restored(codec, order):
    spec = specs([("branches", BRANCHES)], "branches")
    wf, checked = walk(codec, spec, order)
    assert wf.completed and checked == 10  # started, four submissions: each unpruned and pruned


def test_a_message_caught_on_the_way_reads_as_restored(codec):
    spec = specs([("branches", BRANCHES)], "branches")
    wf = BpmnWorkflow(spec[0], spec[1], script_engine=PythonScriptEngine())
    wf.do_engine_steps()
    inner = wf.get_tasks(state=TaskState.READY, manual=True, spec_name="inner")[0]
    inner.set_data(**SUBMISSIONS["inner"])
    inner.run()
    wf.do_engine_steps()
    waiting = [t for t in wf.get_tasks(state=TaskState.WAITING) if t.task_spec.name == "remind"]
    assert waiting
    same_as_restored(codec, wf)


def test_a_called_process_a_timer_and_an_incident_read_as_restored(codec):
    spec = specs([("caller", CALLER), ("callee", CALLEE)], "caller")
    wf, checked = walk(codec, spec, ["intake", "check", "reply"])
    assert wf.get_tasks(state=TaskState.ERROR) and checked == 8
    assert not wf.completed


def test_a_state_waiting_in_the_called_process_has_its_data(codec):
    spec = specs([("caller", CALLER), ("callee", CALLEE)], "caller")
    wf = BpmnWorkflow(spec[0], spec[1], script_engine=PythonScriptEngine())
    wf.do_engine_steps()
    intake = wf.get_tasks(state=TaskState.READY, manual=True)[0]
    intake.set_data(**SUBMISSIONS["intake"])
    intake.run()
    wf.do_engine_steps()
    assert wf.subprocesses  # the call is in progress, its user task ready, the timer waiting
    assert [t.task_spec.name for t in wf.get_tasks(state=TaskState.READY)] == ["check"]
    same_as_restored(codec, wf)
    assert data_of_state(codec.dumps(wf))["petitioner"] == {"name": "张三"}


def test_no_ready_task_reads_the_last_task_or_the_root(codec):
    spec = specs([("branches", BRANCHES)], "branches")
    wf = BpmnWorkflow(spec[0], spec[1], script_engine=PythonScriptEngine())
    same_as_restored(codec, wf)  # not started: the root's (empty) data
    wf.do_engine_steps()
    text = json.loads(codec.dumps(wf))
    for t in [*text["tasks"].values(), *(t for sp in text["subprocesses"].values() for t in sp["tasks"].values())]:
        if t["state"] == TaskState.READY:  # nothing ready: the last task's data
            t["state"] = TaskState.WAITING
    restored, plain = codec.read(json.dumps(text), wf.spec, wf.subprocess_specs, wf.script_engine)
    assert not restored.get_tasks(state=TaskState.READY) and restored.last_task is not None
    assert data_of_state(json.dumps(text)) == view_data(restored, plain)
    text["last_task"] = "00000000-0000-0000-0000-000000000000"  # gone (pruned): the root's
    restored, plain = codec.read(json.dumps(text), wf.spec, wf.subprocess_specs, wf.script_engine)
    assert restored.last_task is None
    assert data_of_state(json.dumps(text)) == view_data(restored, plain)


def test_a_state_with_typed_values_is_left_to_the_restore(codec):
    spec = specs([("branches", BRANCHES)], "branches")
    wf = BpmnWorkflow(spec[0], spec[1], script_engine=PythonScriptEngine())
    wf.do_engine_steps()
    task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
    task.set_data(when=datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
    task.run()
    wf.do_engine_steps()
    assert data_of_state(codec.dumps(wf)) is None
