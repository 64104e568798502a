"""Replaying a case from its journal: step-by-step snapshots, and detection of a state changed behind the
journal's back."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from engine.definitions import SourceFile, collect_files
from engine.handlers import HandlerRegistry
from engine.worker import Worker
from services import register_all
from tests.support import bpmn
from tests.support.db import make_container

ROOT = Path(__file__).resolve().parents[2]
DATA = {"category": "劳动社保", "location": "county_a"}


def deploy(c):
    c.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")


def test_snapshots_step_by_step(container):
    deploy(container)
    rt = container.runtime
    case = rt.start("simple_case", DATA, "registrar")
    case = rt.complete(case.tasks[0].id, {"signed": True}, "handler")
    history = rt.history(case.id)
    submitted = [e["seq"] for e in history if e["type"] == "task.submitted"][0]
    before = rt.replay(case.id, seq=submitted - 1)
    assert [a["element_id"] for a in before.active if a["state"] == "ready"] == ["Task_sign"]
    assert "Task_choose_unit" in before.completed and "Task_sign" not in before.completed
    after = rt.replay(case.id, seq=history[-1]["seq"])
    assert [a["element_id"] for a in after.active if a["state"] == "ready"] == ["Task_reply"]
    assert after.data["signed"] is True and "signed" not in before.data
    assert before.flows == ["Flow_to_choose", "Flow_to_record", "Flow_to_sign"]
    assert after.flows == before.flows + ["Flow_to_reply"]
    assert after.data["responsible_unit"] == "county_a_hrss"


def test_verification_replays_timers_messages_deadline_changes_and_retries(database_url, clock, tmp_path):
    fail = {"on": True}
    registry = register_all(HandlerRegistry())

    @registry.register("flaky")
    def flaky(params: dict, ctx):
        if fail["on"]:
            raise ConnectionError("对方系统超时")
        return {"ok": params["value"]}

    c = make_container(database_url, clock, tmp_path, handlers=registry)
    try:
        deploy(c)
        rt = c.runtime
        rt.deploy([SourceFile("svc.bpmn", bpmn.SERVICE.encode()), SourceFile("msg.bpmn", bpmn.MESSAGE.encode())],
                  actor="designer")
        a = rt.start("simple_case", DATA, "registrar")
        clock.advance(timedelta(days=1))
        rt.pause_deadlines(a.id, "county", "等待补充材料")
        clock.advance(timedelta(days=3))
        rt.resume_deadlines(a.id, "county", "材料已补齐")
        a = rt.complete(rt.get_case(a.id).tasks[0].id, {"signed": True}, "handler")
        rt.extend_deadline(a.id, "Timer_reply_limit", 10, "leader", "批准延期")
        clock.advance(timedelta(days=80))
        Worker(rt, c.session_factory, clock).run_once()
        b = rt.start("svc_case", {"amount": 2}, "registrar")
        fail["on"] = False
        rt.retry_incidents(b.id, "admin")
        m = rt.start("msg_case", {}, "registrar")
        rt.deliver_message(m.id, "补充材料", {"docs": ["身份证"]}, "bureau")
        for case_id in (a.id, b.id, m.id):
            result = rt.verify(case_id)
            assert result.ok, (case_id, result.reason)
        types = {e["type"] for e in rt.history(a.id)}
        assert {"deadlines.paused", "deadlines.resumed", "deadline.extended", "timer.fired"} <= types
    finally:
        c.engine.dispose()


def test_a_state_changed_outside_the_engine_is_detected(container):
    deploy(container)
    rt = container.runtime
    case = rt.start("simple_case", DATA, "registrar")
    rt.complete(case.tasks[0].id, {"signed": True}, "handler")
    assert rt.verify(case.id).ok
    with container.engine.begin() as conn:
        state = conn.execute(text("select state from case_instance where id = :id"), {"id": case.id}).scalar_one()
        doctored = state.replace('"county_a_hrss"', '"county_b_hrss"')
        assert doctored != state
        conn.execute(text("update case_instance set state = :s where id = :id"), {"s": doctored, "id": case.id})
    result = rt.verify(case.id)
    assert not result.ok
    assert "不一致" in result.reason
    assert result.first_bad_seq == rt.history(case.id)[-1]["seq"]


def test_changed_input_in_the_journal_breaks_the_chain_at_that_event(container):
    deploy(container)
    rt = container.runtime
    case = rt.start("simple_case", DATA, "registrar")
    rt.complete(case.tasks[0].id, {"signed": True}, "handler")
    [submitted] = [e for e in rt.history(case.id) if e["type"] == "task.submitted"]
    forged = dict(submitted["data"], data={"signed": False})
    with container.engine.begin() as conn:
        conn.execute(text("update journal_event set data = :d where case_id = :c and seq = :s"),
                     {"d": json.dumps(forged, ensure_ascii=False), "c": case.id, "s": submitted["seq"]})
    result = rt.verify(case.id)
    assert not result.ok and result.first_bad_seq == submitted["seq"]
