"""The processes the engine benchmark runs: the minimal loop (tests.support.bpmn.LOOP) and a realistic petition
step, each round of which runs what a real 办理 step runs besides the form: a boundary deadline (a timer computed
with the calendar helper `workdays`), a script that files the handler's opinion into the case data (a list of
opinions and a dict of comments that grow by one entry per round, and a counter), a decision table lookup (DMN)
and a handler (`remind`, a service task). Then a gateway sends the case round again or ends it."""
from __future__ import annotations

from engine.definitions import SourceFile
from tests.support.bpmn import REMIND_UNIT, flow, process, user_task

REALISTIC_KEY = "bench_petition"


REALISTIC = process(REALISTIC_KEY, f"""
<bpmn:startEvent id="start"/>
<bpmn:scriptTask id="init" name="建立办理记录"><bpmn:script>opinions = []
comments = {{}}
rounds = 0
category = "求决"</bpmn:script></bpmn:scriptTask>
{user_task("handle", "办理")}
<bpmn:boundaryEvent id="handle_limit" name="办理时限" attachedToRef="handle" cancelActivity="false">
  <bpmn:timerEventDefinition id="td1"><bpmn:timeDate>workdays(15)</bpmn:timeDate></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:endEvent id="limit_end" name="超期提醒已记"/>
<bpmn:scriptTask id="record" name="记录办理意见"><bpmn:script>rounds = rounds + 1
opinions.append({{"round": rounds, "text": opinion, "by": "承办人"}})
comments["r" + str(rounds)] = opinion
last_opinion = opinion</bpmn:script></bpmn:scriptTask>
<bpmn:businessRuleTask id="classify" name="判定是否受理">
  <bpmn:extensionElements><spiffworkflow:calledDecisionId>bench_route</spiffworkflow:calledDecisionId>
  </bpmn:extensionElements>
</bpmn:businessRuleTask>
{REMIND_UNIT}
<bpmn:exclusiveGateway id="done_gw" name="办完？"/>
<bpmn:endEvent id="end"/>
{flow("f0", "start", "init")}
{flow("f1", "init", "handle")}
{flow("f1b", "handle_limit", "limit_end")}
{flow("f2", "handle", "record")}
{flow("f3", "record", "classify")}
{flow("f4", "classify", "remind_unit")}
{flow("f5", "remind_unit", "done_gw")}
{flow("f6", "done_gw", "end", "done == True")}
{flow("f7", "done_gw", "handle", "done == False")}
""", "办理循环（基准）")

DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="Definitions_bench_route" name="受理判定"
  namespace="urn:lianxin:bench">
  <decision id="bench_route" name="是否受理">
    <decisionTable id="DecisionTable_bench_route" hitPolicy="UNIQUE">
      <input id="Input_category" label="信访类别">
        <inputExpression id="InputExpression_category" typeRef="string"><text>category</text></inputExpression>
      </input>
      <output id="Output_accepted" label="是否受理" name="accepted" typeRef="boolean"/>
      <rule id="Rule_litigation">
        <inputEntry id="UnaryTests_litigation"><text>"涉诉涉法"</text></inputEntry>
        <outputEntry id="Out_litigation"><text>False</text></outputEntry>
      </rule>
      <rule id="Rule_default">
        <inputEntry id="UnaryTests_default"><text>-</text></inputEntry>
        <outputEntry id="Out_default"><text>True</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""


def realistic_files() -> list[SourceFile]:
    return [SourceFile("bench_petition.bpmn", REALISTIC.encode("utf-8")),
            SourceFile("bench_route.dmn", DMN.encode("utf-8"))]


def round_data(i: int) -> dict:
    """What the handler submits in round `i`: an opinion of a realistic length, and whether to go round again."""
    return {"done": False, "opinion": f"第{i}轮办理意见：已联系信访人，核实诉求，责成责任单位于五个工作日内答复。"}
