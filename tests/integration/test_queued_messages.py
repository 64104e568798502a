"""Messages taken before the process waits for them (engine QueueMessage): kept, delivered the moment a task waits
for them, journaled, replayed to the same state; refused when the process could never receive them or when one of
the same name is already waiting to be delivered."""
from __future__ import annotations

import pytest

from engine.definitions import SourceFile
from engine.errors import Conflict
from engine.handlers import HandlerRegistry
from services import register_all
from tests.support import bpmn
from tests.support.db import make_container

LATER = bpmn.process("later_msg", f"""
<bpmn:startEvent id="start"/>
{bpmn.user_task("sign_off", "审核")}
<bpmn:intermediateCatchEvent id="wait_docs" name="等待补充材料">
  <bpmn:messageEventDefinition id="md1" messageRef="msg_docs"/>
</bpmn:intermediateCatchEvent>
{bpmn.user_task("review_docs", "审查材料")}
<bpmn:endEvent id="end"/>
{bpmn.flow("f1", "start", "sign_off")}
{bpmn.flow("f2", "sign_off", "wait_docs")}
{bpmn.flow("f3", "wait_docs", "review_docs")}
{bpmn.flow("f4", "review_docs", "end")}
""", "稍后等待消息").replace("</bpmn:definitions>", '<bpmn:message id="msg_docs" name="补充材料"/></bpmn:definitions>')


@pytest.fixture
def rt(database_url, clock, tmp_path):
    c = make_container(database_url, clock, tmp_path, handlers=register_all(HandlerRegistry()))
    c.runtime.deploy([SourceFile("later.bpmn", LATER.encode())], actor="designer")
    yield c.runtime
    c.engine.dispose()


def test_a_message_taken_early_is_delivered_when_the_process_reaches_its_wait(rt):
    case = rt.start("later_msg", {}, "registrar")
    assert rt.waiting_messages(case.id) == []
    rt.queue_message(case.id, "补充材料", {"docs": ["身份证"]}, "bureau")
    assert rt.queued_messages(case.id) == [{"name": "补充材料", "payload": {"docs": ["身份证"]}}]
    assert [t.name for t in rt.get_case(case.id).tasks] == ["审核"]
    [task] = rt.get_case(case.id).tasks
    case = rt.complete(task.id, {}, "handler")
    assert [t.name for t in case.tasks] == ["审查材料"]  # the wait took the queued message at once
    assert rt.queued_messages(case.id) == [] and rt.waiting_messages(case.id) == []
    [queued] = [e for e in rt.history(case.id) if e["type"] == "message.queued"]
    assert queued["data"]["payload"] == {"docs": ["身份证"]} and queued["actor"] == "bureau"
    check = rt.verify(case.id)
    assert check.ok, check.reason


def test_a_message_the_process_never_receives_or_one_already_queued_is_refused(rt):
    case = rt.start("later_msg", {}, "registrar")
    with pytest.raises(Conflict, match="没有接收消息"):
        rt.queue_message(case.id, "复查申请", {}, "bureau")
    rt.queue_message(case.id, "补充材料", {}, "bureau")
    with pytest.raises(Conflict, match="不能重复提出"):
        rt.queue_message(case.id, "补充材料", {}, "bureau")
    assert rt.queued_messages(case.id) == [{"name": "补充材料", "payload": {}}]
