"""Loading a case's state (engine/state.py): a state whose task data holds only plain JSON values is restored
without the library's walk over the data, and reads back exactly as the library's own restore would; a state
with typed values (dates, decimals) goes the library's way; plain data read for showing is not copied through
JSON again. Issue #21 (the growing case)."""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine import state, tree
from engine.clock import SHANGHAI
from engine.journal import to_json
from engine.state import StateCodec, only_structure_typed
from tests.support import bpmn


@pytest.fixture(scope="module")
def spec():
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(bpmn.LOOP.encode("utf-8")), filename="loop_case.bpmn")
    return parser.get_spec("loop_case"), parser.get_subprocess_specs("loop_case")


def run_round(spec, data: dict) -> BpmnWorkflow:
    """A loop case taken once round with `data` submitted, waiting at its user task again."""
    wf = BpmnWorkflow(spec[0], spec[1], script_engine=PythonScriptEngine())
    wf.do_engine_steps()
    task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
    task.set_data(**data, done=False)
    task.run()
    wf.do_engine_steps()
    return wf


def library_loads(codec: StateCodec, text: str, spec) -> BpmnWorkflow:
    """The same load with the library's restore for every value (the fast way switched off)."""
    saved = state.only_structure_typed
    state.only_structure_typed = lambda text, dct: False
    try:
        return codec.loads(text, spec[0], spec[1], PythonScriptEngine())
    finally:
        state.only_structure_typed = saved


def tree_of(wf: BpmnWorkflow) -> list:
    """Each task's step, state and data, in tree order (task ids are new random ones in each workflow)."""
    return [(t.task_spec.name, t.state, t.data) for t in wf.get_tasks()]


def ready_data(wf: BpmnWorkflow) -> dict:
    return wf.get_tasks(state=TaskState.READY, manual=True)[0].data


PLAIN = {"opinions": [{"round": i, "text": f"第{i}轮意见", "by": "承办人"} for i in range(50)],
         "comments": {f"r{i}": "已核实" for i in range(50)}, "quoted": 'a "typename": "datetime" b',
         "nested": {"deep": [[1, 2.5], {"x": None, "y": True}]}}


def test_plain_data_reads_back_as_the_library_reads_it(spec):
    codec = StateCodec()
    text = codec.dumps(run_round(spec, PLAIN))
    assert only_structure_typed(text, json.loads(text))  # a quoted "typename" text does not count
    fast = codec.loads(text, spec[0], spec[1], PythonScriptEngine())
    slow = library_loads(codec, text, spec)
    assert ready_data(fast) == ready_data(slow) == {**PLAIN, "done": False}
    assert codec.dumps(fast) == codec.dumps(slow) == text
    # and it goes on like the library's: one more round from each
    for wf in (fast, slow):
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data["opinions"].append({"round": 50})
        task.set_data(done=False)
        task.run()
        wf.do_engine_steps()
    assert tree_of(fast) == tree_of(slow)


def test_typed_values_in_the_data_are_restored_by_the_library(spec):
    codec = StateCodec()
    at = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    data = {**PLAIN, "received_at": at, "fee": Decimal("12.50"), "inner": {"when": [at]}}
    text = codec.dumps(run_round(spec, data))
    assert not only_structure_typed(text, json.loads(text))
    loaded = ready_data(codec.loads(text, spec[0], spec[1], PythonScriptEngine()))
    assert loaded["received_at"] == at and isinstance(loaded["received_at"], datetime)
    assert loaded["fee"] == Decimal("12.50") and loaded["inner"]["when"] == [at]
    assert loaded == ready_data(library_loads(codec, text, spec))


def test_a_data_key_named_typename_is_not_taken_for_plain(spec):
    codec = StateCodec()
    text = codec.dumps(run_round(spec, {"row": {"typename": "BpmnWorkflow"}}))
    # the count of "typename" keys is one more than the workflow and its tasks carry: the library's way
    assert not only_structure_typed(text, json.loads(text))


def _no_json_copy(monkeypatch) -> None:
    def refuse(value):
        raise AssertionError("plain data read for showing is not copied through JSON")
    monkeypatch.setattr(tree, "to_json", refuse)


def json_copy(value) -> dict:
    return json.loads(to_json(value))


def test_plain_data_read_for_showing_is_what_the_copy_through_json_made_without_making_it(spec, monkeypatch):
    codec = StateCodec()
    text = codec.dumps(run_round(spec, {**PLAIN, "odd": [float("inf"), -0.0, 10**30, "", {"": []}]}))
    expected = json_copy(ready_data(codec.loads(text, spec[0], spec[1], PythonScriptEngine())))
    _no_json_copy(monkeypatch)
    wf, plain = codec.read(text, spec[0], spec[1], PythonScriptEngine())
    assert plain
    shown = tree.view_data(wf, plain)
    assert shown == expected and list(shown) == list(expected)
    assert json.dumps(shown) == json.dumps(expected)  # -0.0 stays -0.0, the large number stays exact


def test_typed_data_read_for_showing_is_still_copied_through_json(spec):
    codec = StateCodec()
    at = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    text = codec.dumps(run_round(spec, {**PLAIN, "received_at": at, "fee": Decimal("12.50")}))
    wf, plain = codec.read(text, spec[0], spec[1], PythonScriptEngine())
    assert not plain
    shown = tree.view_data(wf, plain)
    assert shown["received_at"] == at.isoformat() and shown["fee"] == "12.50"
    assert shown == json_copy(ready_data(codec.loads(text, spec[0], spec[1], PythonScriptEngine())))
