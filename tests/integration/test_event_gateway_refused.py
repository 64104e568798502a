"""An event-based gateway (wait for whichever event comes first) is refused at deployment with the element named;
the office models such a race with boundary events on the waiting task."""
from __future__ import annotations

import pytest

from engine.definitions import DefinitionError, SourceFile

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:lianxin="urn:lianxin:bpmn"
  id="Definitions_race" targetNamespace="urn:lianxin:test">
  <bpmn:message id="Message_reply" name="reply"/>
  <bpmn:process id="race_demo" name="等待答复或超时" isExecutable="true">
    <bpmn:startEvent id="Start_x"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:eventBasedGateway id="Gateway_race" name="先到者">
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing><bpmn:outgoing>F3</bpmn:outgoing>
    </bpmn:eventBasedGateway>
    <bpmn:intermediateCatchEvent id="Catch_reply"><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F4</bpmn:outgoing>
      <bpmn:messageEventDefinition id="Def_reply" messageRef="Message_reply"/></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="Catch_timeout"><bpmn:incoming>F3</bpmn:incoming><bpmn:outgoing>F5</bpmn:outgoing>
      <bpmn:timerEventDefinition id="Def_timeout"><bpmn:timeDuration>"P3D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="End_reply"><bpmn:incoming>F4</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="End_timeout"><bpmn:incoming>F5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start_x" targetRef="Gateway_race"/>
    <bpmn:sequenceFlow id="F2" sourceRef="Gateway_race" targetRef="Catch_reply"/>
    <bpmn:sequenceFlow id="F3" sourceRef="Gateway_race" targetRef="Catch_timeout"/>
    <bpmn:sequenceFlow id="F4" sourceRef="Catch_reply" targetRef="End_reply"/>
    <bpmn:sequenceFlow id="F5" sourceRef="Catch_timeout" targetRef="End_timeout"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_event_based_gateway_is_refused_naming_the_element(container):
    with pytest.raises(DefinitionError) as caught:
        container.runtime.deploy([SourceFile("race_demo.bpmn", BPMN.encode())], actor="designer")
    [problem] = [p for p in caught.value.problems if p.element_id == "Gateway_race"]
    assert problem.file == "race_demo.bpmn" and problem.line == 7
    assert "不支持事件网关" in problem.message and "eventBasedGateway is not supported" in problem.message
    assert "boundary events" in problem.message
    assert str(problem).startswith("race_demo.bpmn:7 Gateway_race: ")
    assert container.runtime.list_definitions() == []  # nothing was deployed
