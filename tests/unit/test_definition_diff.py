"""services.definition_diff: what changed between two versions' files, named so that a designer finds it (issue #19
point 3): a DMN cell by table, row and column; a timer, a condition, a lane's role, a rename, a form field; a move
in the diagram as "layout only"; text that differs without meaning as "format only", never as no change."""
from __future__ import annotations

import json
from pathlib import Path

from services.definition_diff import compare

ROOT = Path(__file__).resolve().parents[2]

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" xmlns:lianxin="urn:lianxin:bpmn"
    id="Defs" targetNamespace="urn:test">
  <bpmn:process id="p" name="测试" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_unit" name="承办单位" lianxin:role="unit_handler">
        <bpmn:flowNodeRef>Start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Task_handle</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Gateway</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="Lane_bureau" name="信访局" lianxin:role="bureau">
        <bpmn:flowNodeRef>Task_notify</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_handle" name="办理">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="form" value="handling.schema.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="Timer_limit" name="办理期限" attachedToRef="Task_handle">
      <bpmn:timerEventDefinition id="TED_1"><bpmn:timeDate>days(limits["handle_days"])</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:exclusiveGateway id="Gateway" name="是否告知" default="F_no"/>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_handle"/>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_handle" targetRef="Gateway"/>
    <bpmn:sequenceFlow id="F_yes" name="是" sourceRef="Gateway" targetRef="Task_notify">
      <bpmn:conditionExpression>outcome == "accepted"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:serviceTask id="Task_notify" name="告知">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="notify" resultVariable="notice">
          <spiffworkflow:parameters><spiffworkflow:parameter id="template" type="str" value="'accepted'"/></spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="D"><bpmndi:BPMNPlane id="Plane" bpmnElement="p">
    <bpmndi:BPMNShape id="Task_handle_di" bpmnElement="Task_handle"><dc:Bounds x="100" y="80" width="100" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="Task_notify_di" bpmnElement="Task_notify"><dc:Bounds x="300" y="80" width="100" height="80"/></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def bpmn_diff(new_text: str):
    return compare({"p.bpmn": BPMN}, {"p.bpmn": new_text})


def only(diff):
    [element] = diff.elements
    return element, {f.key: (f.label, f.old, f.new) for f in element.fields}


def test_a_dmn_cell_is_named_by_table_row_and_column():
    settings = (ROOT / "processes" / "settings.dmn").read_text(encoding="utf-8")
    cell = '<outputEntry id="Out_t4"><text>10</text></outputEntry>'
    diff = compare({"settings.dmn": settings}, {"settings.dmn": settings.replace(cell, cell.replace("10", "7"))})
    [decision] = diff.decisions
    assert (decision.file, decision.decision_id, decision.name, decision.change) == (
        "settings.dmn", "deadline_settings", "时限设置", "changed")
    [c] = decision.cells
    assert (c.rule_id, c.row, c.column_id, c.column, c.kind, c.old, c.new) == (
        "Rule_settings_default", 1, "Output_t4", "13710 群体性政策性问题阶段性方案（工作日）", "output", "10", "7")
    [row] = decision.table["rows"]
    marked = [(cell["text"], cell["old"]) for cell in row["cells"] if cell["changed"]]
    assert row["change"] == "changed" and marked == [("7", "10")]
    assert [(f.name, f.change) for f in diff.files] == [("settings.dmn", "changed")]
    assert diff.elements == [] and diff.counts()["cells"] == 1
    assert (c.variable, c.readers) == ("limits.t4", ())  # no process file in the comparison


def test_a_changed_setting_names_the_timers_that_read_it():
    settings = (ROOT / "processes" / "settings.dmn").read_text(encoding="utf-8")
    process = (ROOT / "processes" / "leader_13710.bpmn").read_text(encoding="utf-8")
    cell = '<outputEntry id="Out_t4"><text>10</text></outputEntry>'
    diff = compare({"settings.dmn": settings, "leader_13710.bpmn": process},
                   {"settings.dmn": settings.replace(cell, cell.replace("10", "7")), "leader_13710.bpmn": process})
    [c] = diff.decisions[0].cells
    assert "T4 期限（10个工作日）（Timer_t4）" in c.readers  # the deadline it moves
    assert "督办：逾期未制定工作方案（Task_supervise_t4）" in c.readers  # and the script that reads it too


def test_dmn_rules_added_removed_and_moved():
    routing = (ROOT / "processes" / "routing.dmn").read_text(encoding="utf-8")
    start, end = routing.index('      <rule id="Rule_labour">'), routing.index('      <rule id="Rule_housing">')
    labour = routing[start:end]
    moved = routing[:start] + routing[end:].replace('      <rule id="Rule_default">', labour + '      <rule id="Rule_default">')
    decision = compare({"r.dmn": routing}, {"r.dmn": moved}).decisions[0]
    assert {(r.rule_id, r.change) for r in decision.rules} >= {("Rule_labour", "moved"), ("Rule_housing", "moved")}
    assert decision.cells == ()
    dropped = routing[:start] + routing[end:]
    decision = compare({"r.dmn": routing}, {"r.dmn": dropped}).decisions[0]
    removed = [r for r in decision.rules if r.change == "removed"]
    assert [(r.rule_id, r.old_row, r.cells["内容分类"]) for r in removed] == [("Rule_labour", 2, '"劳动社保"')]
    assert decision.table["rows"][-1]["rule_id"] == "Rule_labour" and decision.table["rows"][-1]["change"] == "removed"
    decision = compare({"r.dmn": dropped}, {"r.dmn": routing}).decisions[0]
    assert [(r.rule_id, r.row, r.change) for r in decision.rules if r.change == "added"] == [("Rule_labour", 2, "added")]


def test_a_timer_duration_change_names_the_expression_and_the_setting_it_read():
    element, fields = only(bpmn_diff(BPMN.replace('days(limits["handle_days"])', "days(30)")))
    assert (element.element_id, element.change, element.type_label, element.name) == (
        "Timer_limit", "changed", "边界事件", "办理期限")
    assert fields["timer.date"] == ("计时器到期时间（timeDate）", 'days(limits["handle_days"])', "days(30)")
    assert fields["timer.setting"] == ("计时器读取的时限设置", "办结（limits.handle_days）", None)
    duration = BPMN.replace('<bpmn:timeDate>days(limits["handle_days"])</bpmn:timeDate>',
                            "<bpmn:timeDuration>PT2H</bpmn:timeDuration>")
    _element, fields = only(compare({"p.bpmn": duration}, {"p.bpmn": duration.replace("PT2H", "PT4H")}))
    assert fields == {"timer.duration": ("计时器时长（timeDuration）", "PT2H", "PT4H")}


def test_a_condition_change():
    element, fields = only(bpmn_diff(BPMN.replace('outcome == "accepted"', 'outcome in ("accepted", "partly")')))
    assert (element.element_id, element.type_label) == ("F_yes", "顺序流")
    assert fields["condition"] == ("条件", 'outcome == "accepted"', 'outcome in ("accepted", "partly")')


def test_a_lane_role_change_is_listed_once_on_the_lane():
    element, fields = only(bpmn_diff(BPMN.replace('lianxin:role="bureau"', 'lianxin:role="county_office"')))
    assert (element.element_id, element.type_label) == ("Lane_bureau", "泳道")
    assert fields == {"attr:lianxin:role": ("泳道角色", "bureau", "county_office")}


def test_a_task_moved_to_another_lane():
    moved = BPMN.replace("<bpmn:flowNodeRef>Gateway</bpmn:flowNodeRef>", "").replace(
        "<bpmn:flowNodeRef>Task_notify</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>Task_notify</bpmn:flowNodeRef><bpmn:flowNodeRef>Gateway</bpmn:flowNodeRef>")
    changes = {e.element_id: {f.key: (f.old, f.new) for f in e.fields} for e in bpmn_diff(moved).elements}
    assert changes["Gateway"] == {"lane": ("承办单位（Lane_unit）", "信访局（Lane_bureau）")}
    assert set(changes) == {"Gateway", "Lane_unit", "Lane_bureau"}  # and each lane's members


def test_a_rename_a_form_and_a_handler_parameter():
    element, fields = only(bpmn_diff(BPMN.replace('name="办理">', 'name="调查核实">')))
    assert (element.element_id, element.name) == ("Task_handle", "调查核实")
    assert fields == {"name": ("名称", "办理", "调查核实")}
    _e, fields = only(bpmn_diff(BPMN.replace('value="handling.schema.json"', 'value="review.schema.json"')))
    assert fields == {"property:form": ("表单", "handling.schema.json", "review.schema.json")}
    _e, fields = only(bpmn_diff(BPMN.replace("value=\"'accepted'\"", "value=\"'rejected'\"")))
    assert fields == {"operator.param:template": ("处理程序参数 template", "'accepted'（str）", "'rejected'（str）")}


def test_multi_instance_and_added_or_removed_elements():
    mi = BPMN.replace("<bpmn:incoming>F1</bpmn:incoming>", "<bpmn:incoming>F1</bpmn:incoming>"
                      "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>units</bpmn:loopDataInputRef>"
                      "</bpmn:multiInstanceLoopCharacteristics>")
    _e, fields = only(bpmn_diff(mi))
    assert fields == {"loop": ("多实例", None, "parallel"), "loop.loopDataInputRef": ("多实例 loopDataInputRef", None, "units")}
    added = BPMN.replace("</bpmn:process>", '<bpmn:endEvent id="End" name="结束"/></bpmn:process>')
    element, fields = only(bpmn_diff(added))
    assert (element.element_id, element.change, fields["name"]) == ("End", "added", ("名称", None, "结束"))
    element, _f = only(compare({"p.bpmn": added}, {"p.bpmn": BPMN}))
    assert (element.element_id, element.change) == ("End", "removed")


def test_a_move_in_the_diagram_is_layout_only_and_reformatting_is_format_only():
    diff = bpmn_diff(BPMN.replace('<dc:Bounds x="300" y="80"', '<dc:Bounds x="340" y="120"'))
    element, fields = only(diff)
    assert (element.element_id, element.change, fields) == ("Task_notify", "layout", {})
    assert [(f.name, f.change) for f in diff.files] == [("p.bpmn", "layout")]
    diff = bpmn_diff(BPMN.replace('<bpmn:exclusiveGateway id="Gateway" name="是否告知" default="F_no"/>',
                                  '<bpmn:exclusiveGateway default="F_no"  name="是否告知" id="Gateway" ></bpmn:exclusiveGateway>'))
    assert diff.elements == [] and [(f.name, f.change) for f in diff.files] == [("p.bpmn", "format")]


def test_forms_and_files_added_or_removed():
    schema = {"type": "object", "required": ["signed"], "properties": {
        "signed": {"type": "boolean", "title": "签收"}, "note": {"type": "string", "title": "意见", "maxLength": 2000}}}
    changed = json.loads(json.dumps(schema))
    changed["properties"]["note"]["maxLength"] = 500
    changed["properties"]["reason"] = {"type": "string", "title": "理由"}
    diff = compare({"s.schema.json": json.dumps(schema)}, {"s.schema.json": json.dumps(changed, indent=2)})
    [form] = diff.forms
    fields = {f.key: (f.label, f.old, f.new) for f in form.fields}
    assert fields == {"note": ("意见（note）", "maxLength: 2000", "maxLength: 500"),
                      "reason": ("理由（reason）", None, 'type: "string"；title: "理由"')}
    assert compare({"s.schema.json": json.dumps(schema)},
                   {"s.schema.json": json.dumps(schema, indent=4)}).files[0].change == "format"
    diff = compare({"p.bpmn": BPMN}, {"p.bpmn": BPMN, "s.schema.json": json.dumps(schema)})
    assert [(f.name, f.kind, f.change) for f in diff.files] == [("s.schema.json", "form", "added")]
    assert diff.forms[0].change == "added"
    diff = compare({"p.bpmn": BPMN}, {})
    assert diff.files[0].change == "removed" and {e.change for e in diff.elements} == {"removed"}


def test_labels_go_through_the_translation_given():
    english = {"计时器到期时间（timeDate）": "Timer date (timeDate)", "边界事件": "Boundary event"}
    diff = compare({"p.bpmn": BPMN}, {"p.bpmn": BPMN.replace('days(limits["handle_days"])', "days(30)")},
                   lambda text: english.get(text, text))
    assert diff.elements[0].type_label == "Boundary event"
    assert diff.elements[0].fields[0].label == "Timer date (timeDate)"


def test_another_tools_attribute_keeps_its_prefix():
    camunda = BPMN.replace('xmlns:lianxin="urn:lianxin:bpmn"',
                           'xmlns:lianxin="urn:lianxin:bpmn" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"')
    _e, fields = only(compare({"p.bpmn": camunda}, {"p.bpmn": camunda.replace(
        '<bpmn:userTask id="Task_handle" name="办理">',
        '<bpmn:userTask id="Task_handle" name="办理" camunda:assignee="zhang">')}))
    assert fields == {"attr:camunda:assignee": ("属性 camunda:assignee", None, "zhang")}
