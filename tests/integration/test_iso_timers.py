"""Timers written as the BPMN standard writes them (bare ISO 8601 in timeDuration/timeDate/timeCycle) deploy and
fire at the right moment of the engine's clock: a PT2H boundary timer, a P7D catch event, an R3/PT1H cycle that
fires three times and then stops. Each runs on SQLite and PostgreSQL, through the worker as in production."""
from __future__ import annotations

from datetime import timedelta

from engine.worker import Worker
from tests.support.bpmn import flow, source, user_task


def timer(kind: str, value: str) -> str:
    return f"<bpmn:timerEventDefinition><bpmn:{kind}>{value}</bpmn:{kind}></bpmn:timerEventDefinition>"


BOUNDARY_PT2H = source("iso_boundary", f"""
<bpmn:startEvent id="start"/>
{user_task("handle", "办理")}
<bpmn:boundaryEvent id="Timer_2h" attachedToRef="handle">{timer("timeDuration", "PT2H")}</bpmn:boundaryEvent>
<bpmn:endEvent id="end"/>
<bpmn:endEvent id="end_late"/>
{flow("f1", "start", "handle")}
{flow("f2", "handle", "end")}
{flow("f3", "Timer_2h", "end_late")}
""")

CATCH_P7D = source("iso_wait", f"""
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="Timer_7d">{timer("timeDuration", "P7D")}</bpmn:intermediateCatchEvent>
{user_task("after", "七日后办理")}
<bpmn:endEvent id="end"/>
{flow("f1", "start", "Timer_7d")}
{flow("f2", "Timer_7d", "after")}
{flow("f3", "after", "end")}
""")

CYCLE_R3 = source("iso_cycle", f"""
<bpmn:startEvent id="start"/>
{user_task("handle", "办理")}
<bpmn:boundaryEvent id="Timer_hourly" attachedToRef="handle" cancelActivity="false">
  {timer("timeCycle", "R3/PT1H")}</bpmn:boundaryEvent>
<bpmn:endEvent id="end"/>
<bpmn:endEvent id="end_reminded"/>
{flow("f1", "start", "handle")}
{flow("f2", "handle", "end")}
{flow("f3", "Timer_hourly", "end_reminded")}
""")


def fired(runtime, case_id: int, element_id: str) -> int:
    return sum(1 for e in runtime.history(case_id) if e["type"] == "timer.fired"
               for t in e["data"]["timers"] if t["element_id"] == element_id)


def open_tasks(runtime, case_id: int) -> list[str]:
    return [t.element_id for t in runtime.get_case(case_id).tasks]


def test_a_pt2h_boundary_timer_fires_two_hours_after_the_task_opens(container, clock):
    rt = container.runtime
    rt.deploy([BOUNDARY_PT2H], actor="designer")
    started = clock.now()
    case = rt.start("iso_boundary", {}, "registrar")
    assert [t["due_at"] for t in rt.get_case(case.id).timers] == [started + timedelta(hours=2)]
    worker = Worker(rt, container.session_factory, clock)
    clock.advance(timedelta(hours=1, minutes=59))
    assert worker.run_once()["cases_fired"] == 0 and open_tasks(rt, case.id) == ["handle"]
    clock.advance(timedelta(minutes=1))
    assert worker.run_once()["cases_fired"] == 1
    view = rt.get_case(case.id)
    assert fired(rt, case.id, "Timer_2h") == 1 and view.status == "completed" and view.tasks == []


def test_a_p7d_catch_event_waits_seven_days(container, clock):
    rt = container.runtime
    rt.deploy([CATCH_P7D], actor="designer")
    started = clock.now()
    case = rt.start("iso_wait", {}, "registrar")
    assert [t["due_at"] for t in rt.get_case(case.id).timers] == [started + timedelta(days=7)]
    worker = Worker(rt, container.session_factory, clock)
    clock.advance(timedelta(days=6, hours=23))
    assert worker.run_once()["cases_fired"] == 0 and open_tasks(rt, case.id) == []
    clock.advance(timedelta(hours=1))
    assert worker.run_once()["cases_fired"] == 1
    assert open_tasks(rt, case.id) == ["after"] and fired(rt, case.id, "Timer_7d") == 1


def test_an_r3_pt1h_cycle_fires_three_times_an_hour_apart_and_then_stops(container, clock):
    rt = container.runtime
    rt.deploy([CYCLE_R3], actor="designer")
    started = clock.now()
    case = rt.start("iso_cycle", {}, "registrar")
    worker = Worker(rt, container.session_factory, clock)
    for hour in (1, 2, 3):
        clock.set(started + timedelta(hours=hour) - timedelta(minutes=1))
        assert worker.run_once()["cases_fired"] == 0
        assert fired(rt, case.id, "Timer_hourly") == hour - 1
        clock.set(started + timedelta(hours=hour))
        assert worker.run_once()["cases_fired"] == 1
        assert fired(rt, case.id, "Timer_hourly") == hour
        assert open_tasks(rt, case.id) == ["handle"]  # non-interrupting: the work item stays open
    clock.set(started + timedelta(days=2))
    assert worker.run_once()["cases_fired"] == 0
    assert fired(rt, case.id, "Timer_hourly") == 3 and rt.get_case(case.id).timers == []
