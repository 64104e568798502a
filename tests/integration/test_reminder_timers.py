"""Reminder timers (`lianxin:kind="reminder"`, `yellow_at(deadline, lead)`): they fire when the deadline turns
yellow, are no deadline themselves (not in the case's deadline list, not the work item's due date), and follow
their deadline when the clock stops and restarts or a calendar year is imported."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.clock import SHANGHAI
from engine.definitions import SourceFile
from engine.store import Timer
from engine.worker import Worker

ROOT = Path(__file__).resolve().parents[2]

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" xmlns:lianxin="urn:lianxin:bpmn"
  id="Definitions_reminder" targetNamespace="urn:lianxin:test">
  <bpmn:process id="reminder_demo" name="临期提醒示例" isExecutable="true">
    <bpmn:laneSet id="LaneSet_r">
      <bpmn:lane id="Lane_r" name="承办单位" lianxin:role="unit_handler">
        <bpmn:flowNodeRef>Start_r</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Task_do</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>End_r</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Timer_limit</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>End_late</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Timer_remind</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Script_reminded</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>End_reminded</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="Start_r"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_do" name="办理"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="End_r"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:boundaryEvent id="Timer_limit" name="办理期限" cancelActivity="false" attachedToRef="Task_do">
      <bpmn:outgoing>F3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="Timer_limit_def"><bpmn:timeDate>DEADLINE</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="End_late"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>
    <bpmn:boundaryEvent id="Timer_remind" name="临期提醒" cancelActivity="false" attachedToRef="Task_do" lianxin:kind="reminder">
      <bpmn:outgoing>F4</bpmn:outgoing>
      <bpmn:timerEventDefinition id="Timer_remind_def"><bpmn:timeDate>yellow_at(DEADLINE, 3)</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:scriptTask id="Script_reminded"><bpmn:incoming>F4</bpmn:incoming><bpmn:outgoing>F5</bpmn:outgoing>
      <bpmn:script>reminded = True</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="End_reminded"><bpmn:incoming>F5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start_r" targetRef="Task_do"/>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_do" targetRef="End_r"/>
    <bpmn:sequenceFlow id="F3" sourceRef="Timer_limit" targetRef="End_late"/>
    <bpmn:sequenceFlow id="F4" sourceRef="Timer_remind" targetRef="Script_reminded"/>
    <bpmn:sequenceFlow id="F5" sourceRef="Script_reminded" targetRef="End_reminded"/>
  </bpmn:process>
</bpmn:definitions>
"""


def bj(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def due_date(at: datetime) -> str:
    return (at - timedelta(microseconds=1)).astimezone(SHANGHAI).date().isoformat()


def deploy(rt, deadline: str) -> None:
    rt.deploy([SourceFile("reminder_demo.bpmn", BPMN.replace("DEADLINE", deadline).encode())], actor="test")


def timers(container, case_id: int) -> dict[str, Timer]:
    with container.session_factory() as s:
        rows = s.scalars(select(Timer).where(Timer.case_id == case_id)).all()
        for row in rows:
            s.expunge(row)
    return {r.element_id: r for r in rows}


def test_a_reminder_is_no_deadline_and_fires_at_yellow(container, clock):
    rt = container.runtime
    deploy(rt, "days(60)")
    case = rt.start("reminder_demo", {}, "registrar")  # Mon 2026-03-02; CAL(60) -> Wed 05-06 (Labour Day break)
    assert [d["key"] for d in case.deadlines] == ["Timer_limit"]  # the reminder is not listed as a deadline
    [deadline] = case.deadlines
    assert due_date(deadline["due_at"]) == "2026-05-06"
    assert case.tasks[0].due_at == deadline["due_at"]  # the work item's due date ignores the earlier reminder
    rows = timers(container, case.id)
    # yellow counted in working days before a calendar-day deadline: Thu 04-30, Wed 05-06 ... 3 WD left from 04-30
    yellow = rt.yellow_instant(deadline["due_at"], 3)
    assert rows["Timer_remind"].due_at == yellow and yellow < deadline["due_at"]
    assert rt.alert(deadline["due_at"], yellow) == ("yellow", 3)
    assert rt.alert(deadline["due_at"], yellow - timedelta(seconds=1))[0] == "green"
    clock.set(yellow - timedelta(minutes=1))
    assert Worker(rt, container.session_factory, clock).run_once()["cases_fired"] == 0
    clock.set(yellow + timedelta(minutes=1))
    assert Worker(rt, container.session_factory, clock).run_once()["cases_fired"] == 1
    view = rt.get_case(case.id)
    assert timers(container, case.id)["Timer_remind"].status == "fired" and view.tasks  # reminded, still open
    assert [d["key"] for d in view.deadlines] == ["Timer_limit"]


def test_a_reminder_follows_its_deadline_when_the_clock_stops_and_restarts(container, clock):
    rt = container.runtime
    deploy(rt, "workdays(10)")
    case = rt.start("reminder_demo", {}, "registrar")  # WD10 from Mon 03-02 -> Mon 03-16
    clock.set(bj("2026-03-04T10:00:00"))
    rt.pause_deadlines(case.id, "county", "举行听证")
    clock.set(bj("2026-03-23T09:00:00"))
    assert Worker(rt, container.session_factory, clock).run_once()["cases_fired"] == 0  # nothing fires while paused
    resumed = rt.resume_deadlines(case.id, "county", "听证结束")
    [deadline] = resumed.deadlines
    rows = timers(container, case.id)
    assert rows["Timer_remind"].status == "pending"
    assert rows["Timer_remind"].due_at == rt.yellow_instant(deadline["due_at"], 3)
    assert resumed.tasks[0].due_at == deadline["due_at"]


def test_a_reminder_follows_its_deadline_when_a_year_is_imported(container, clock):
    rt = container.runtime
    clock.set(bj("2027-01-18T09:00:00"))  # 2027 not yet published: provisional
    deploy(rt, "workdays(10)")
    case = rt.start("reminder_demo", {}, "registrar")
    [before] = case.deadlines
    outcome = rt.import_calendar(ROOT / "tests" / "fixtures" / "calendar" / "2027.yaml", "calendar-admin")
    assert outcome["recomputed"]["moved"] >= 1
    [deadline] = rt.get_case(case.id).deadlines
    after = timers(container, case.id)["Timer_remind"]
    assert after.due_at == rt.yellow_instant(deadline["due_at"], 3)
    # the make-up Sunday 01-31 moved the deadline; the reminder now reminds of the new due time
    assert deadline["due_at"] != before["due_at"]
    reminder = json.loads(after.explanation)["reminder"]
    assert reminder == {"lead": 3, "deadline_due_at": deadline["due_at"].isoformat()}


def test_a_reminder_follows_an_approved_extension(container, clock):
    rt = container.runtime
    deploy(rt, "days(60)")
    case = rt.start("reminder_demo", {}, "registrar")
    extended = rt.extend_deadline(case.id, "Timer_limit", 20, "leader", "案情复杂，经负责人批准")
    [deadline] = extended.deadlines
    assert due_date(deadline["due_at"]) == "2026-05-26"
    remind = timers(container, case.id)["Timer_remind"]
    assert remind.due_at == rt.yellow_instant(deadline["due_at"], 3)
    assert json.loads(remind.explanation)["reminder"]["deadline_due_at"] == deadline["due_at"].isoformat()
    assert extended.tasks[0].due_at == deadline["due_at"]


@pytest.mark.parametrize("attribute, words", [
    ('lianxin:kind="alarm"', 'lianxin:kind on a timer must be "reminder"'),
])
def test_a_wrong_timer_kind_is_refused(container, attribute, words):
    from engine.definitions import DefinitionError

    text = BPMN.replace("DEADLINE", "days(60)").replace('lianxin:kind="reminder"', attribute)
    with pytest.raises(DefinitionError) as caught:
        container.runtime.deploy([SourceFile("reminder_demo.bpmn", text.encode())], actor="test")
    assert any(words in p.message and p.element_id == "Timer_remind" for p in caught.value.problems)
