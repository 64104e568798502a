"""Decision tables with their cells worked out once (engine/spiff_patches.py, patch 7): the same rules match, the
same outputs come out, and the same errors are raised as with SpiffWorkflow's own DMNEngine.evaluate and
Rule.output_as_dict; a constant output cell is not evaluated for every case, one that is not constant still is."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser
from SpiffWorkflow.dmn.specs.model import Rule

from engine import spiff_patches
from engine.sandbox import make_script_engine

ROOT = Path(__file__).resolve().parents[2]

TABLE = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="t" namespace="urn:test">
  <decision id="cells" name="cells">
    <decisionTable id="table" hitPolicy="COLLECT">
      <input id="i1" label="a"><inputExpression id="e1" typeRef="integer"><text>a</text></inputExpression></input>
      <input id="i2" label="b"><inputExpression id="e2" typeRef="string"><text>b.get("k", "")</text></inputExpression>
      </input>
      <output id="o1" label="x" name="out.x" typeRef="string"/>
      <output id="o2" label="y" name="out.y" typeRef="integer"/>
      <output id="o3" label="z" name="z" typeRef="string"/>
      <rule id="r_eq"><inputEntry id="r1a"><text>3</text></inputEntry><inputEntry id="r1b"><text>-</text></inputEntry>
        <outputEntry id="r1x"><text>"三"</text></outputEntry><outputEntry id="r1y"><text>3</text></outputEntry>
        <outputEntry id="r1z"><text>"eq"</text></outputEntry></rule>
      <rule id="r_op"><inputEntry id="r2a"><text>&gt; 4</text></inputEntry><inputEntry id="r2b"><text>-</text></inputEntry>
        <outputEntry id="r2x"><text>"大"</text></outputEntry><outputEntry id="r2y"><text>-1</text></outputEntry>
        <outputEntry id="r2z"><text/></outputEntry></rule>
      <rule id="r_q"><inputEntry id="r3a"><text>-</text></inputEntry>
        <inputEntry id="r3b"><text>? in ("甲", "乙")</text></inputEntry>
        <outputEntry id="r3x"><text>b["k"] + "!"</text></outputEntry><outputEntry id="r3y"><text>a * 2</text></outputEntry>
        <outputEntry id="r3z"><text>"q"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""

BROKEN = TABLE.replace("<text>&gt; 4</text>", "<text>&gt; &gt; 4</text>").replace('id="cells"', 'id="broken"')


def _engine(xml: str, decision: str) -> DMNEngine:
    parser = BpmnDmnParser()
    parser.add_dmn_str(xml.encode("utf-8"))
    return parser.get_engine(decision, None)


def _task(data: dict, script_engine):
    return SimpleNamespace(data=data, workflow=SimpleNamespace(script_engine=script_engine))


def _library(monkeypatch):
    """SpiffWorkflow's own evaluation of cells and outputs, for the comparison."""
    monkeypatch.setattr(DMNEngine, "evaluate", spiff_patches._LIBRARY_DMN["evaluate"])
    monkeypatch.setattr(Rule, "output_as_dict", spiff_patches._LIBRARY_DMN["output_as_dict"])


def _outcome(engine, task):
    try:
        return "result", engine.result(task)
    except Exception as exc:  # noqa: BLE001 - the error is what is compared
        return "error", type(exc).__name__, str(exc), getattr(exc, "__notes__", None)


CASES = [{"a": 3, "b": {}}, {"a": 5, "b": {"k": "甲"}}, {"a": 1, "b": {"k": "丙"}}, {"a": 3, "b": {"k": "乙"}},
         {"a": "3", "b": {}}, {"b": {}}, {"a": 5, "b": {"k": "甲"}, "days": 1}]


@pytest.mark.parametrize("xml, decision", [(TABLE, "cells"), (BROKEN, "broken")])
def test_the_cells_decide_and_fail_as_the_library_does(monkeypatch, xml, decision):
    spiff_patches.apply()
    script_engine = make_script_engine({"days": lambda n: n})
    ours = [_outcome(_engine(xml, decision), _task(dict(data), script_engine)) for data in CASES]
    with monkeypatch.context() as m:
        _library(m)
        theirs = [_outcome(_engine(xml, decision), _task(dict(data), script_engine)) for data in CASES]
    assert ours == theirs
    if decision == "cells":
        assert ours[0][0] == "result" and ours[-1][0] == "error"  # data `days` hides a helper: refused as before
    else:
        assert {o[0] for o in ours} == {"error"}  # the cell that does not parse, as the library reports it


def test_a_constant_output_cell_is_read_once_and_the_others_evaluated(monkeypatch):
    spiff_patches.apply()
    script_engine = make_script_engine({})
    evaluated: list[str] = []
    evaluate = type(script_engine).evaluate
    monkeypatch.setattr(type(script_engine), "evaluate",
                        lambda self, task, expr, external_context=None: evaluated.append(expr)
                        or evaluate(self, task, expr, external_context))
    engine = _engine(TABLE, "cells")
    assert engine.result(_task({"a": 3, "b": {"k": "甲"}}, script_engine)) == {
        "out": [{"x": "三", "y": 3}, {"x": "甲!", "y": 6}], "z": ["eq", "q"]}
    outputs = [e for e in evaluated if e in ('"三"', "3", '"eq"', 'b["k"] + "!"', "a * 2", '"q"')]
    assert outputs == ['"三"', 'b["k"] + "!"', "a * 2", '"q"']  # the constant rule: its first cell only


def test_the_settings_table_gives_what_the_library_gives():
    parser = BpmnDmnParser()
    parser.add_dmn_file(str(ROOT / "processes" / "settings.dmn"))
    table = parser.get_engine("deadline_settings", None).decision_table
    spiff_patches.apply()
    script_engine = make_script_engine({})
    ours = DMNEngine(table).result(_task({}, script_engine))
    library = spiff_patches._LIBRARY_DMN["output_as_dict"](
        DMNEngine(table).decide(_task({}, script_engine))[0], _task({}, script_engine))
    # the same values in the same order: the step's journal event carries them as JSON text
    assert json.dumps(ours, ensure_ascii=False) == json.dumps(library, ensure_ascii=False)
    assert len(ours["limits"]) > 30
