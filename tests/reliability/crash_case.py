"""A small process for the crash tests: a timer, then an SMS to the petitioner (through the `notify` handler and
the outbox), then a user task. Each case thus owes exactly one timer firing and exactly one SMS."""
from __future__ import annotations

from tests.support import bpmn

CRASH_CASE = bpmn.source("crash_case", f"""
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="wait_day" name="等待一日">
  <bpmn:timerEventDefinition id="td1"><bpmn:timeDate>days(1)</bpmn:timeDate></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
{bpmn.tell_petitioner("去向告知", "transfer_notice", "县人社局")}
{bpmn.user_task("handle", "办理")}
<bpmn:endEvent id="end"/>
{bpmn.flow("f1", "start", "wait_day")}
{bpmn.flow("f2", "wait_day", "tell_petitioner")}
{bpmn.flow("f3", "tell_petitioner", "handle")}
{bpmn.flow("f4", "handle", "end")}
""", "崩溃测试")


def case_data(i: int) -> dict:
    return {"case_no": f"XFCRASH{i:04d}", "petitioner": {"name": "张三", "phone": f"1381234{i:04d}"}}
