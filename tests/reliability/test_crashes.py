"""Crashes: timer workers and gunicorn web workers killed with SIGKILL in the middle of their work, over and
over; afterwards nothing is lost or done twice and every journal verifies (PostgreSQL, real processes)."""
from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.definitions import SourceFile
from engine.store import Case, JournalEvent, Outbox, Timer, WorkItem
from tests.integration.test_notifications import SmsGateway
from tests.support import bpmn

from .crash_case import CRASH_CASE, case_data
from .processes import Gunicorn, bearer, lianxin, request, start_worker

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CASES = 200
KILLS = 20
DELIVERY_KILLS = 4  # a notice interrupted 5 times is dead-lettered by design; stay below that
LEASE_STEP = timedelta(minutes=6)  # each round later than the last notice lease (5 minutes)


@pytest.fixture
def sms_gateway():
    gateway = SmsGateway()
    yield gateway
    gateway.close()


def counts(office) -> tuple[int, int]:
    with office.c.session_factory() as s:
        fired = s.scalar(select(func.count()).select_from(Timer).where(Timer.status == "fired"))
        sent = s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "sent"))
    return fired, sent


def test_timer_workers_killed_mid_batch_lose_and_repeat_nothing(pg_office, sms_gateway, tmp_path):
    rt = pg_office.c.runtime
    rt.deploy([CRASH_CASE], actor="test")
    cases = [rt.start("crash_case", case_data(i), "registrar").id for i in range(CASES)]
    first = pg_office.c.clock.now() + timedelta(days=5)
    env = pg_office.env(LIANXIN_SMS_GATEWAY_URL=sms_gateway.url)
    log = tmp_path / "workers.log"
    landed = []
    for i in range(KILLS):
        now = first + LEASE_STEP * i
        fired0, sent0 = counts(pg_office)
        delivering = i >= KILLS - DELIVERY_KILLS
        worker = start_worker(env, "--now", now.isoformat(), "--poll", "0.2", "--name", f"doomed-{i}", log_path=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            fired, sent = counts(pg_office)
            if (sent > sent0) if delivering else (fired > fired0 or sent > sent0):
                break
            assert worker.poll() is None, log.read_text()[-2000:]
            time.sleep(0.005)
        else:
            raise AssertionError(f"worker {i} made no progress: {log.read_text()[-2000:]}")
        time.sleep((i % 4) * 0.007)  # land at different points of a step
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        fired, sent = counts(pg_office)
        landed.append("timers" if fired < CASES else "notices" if sent < CASES else "idle")
    # The kills fell while timers were still due, then while notices were still unsent: mid-batch every time.
    assert landed == ["timers"] * (KILLS - DELIVERY_KILLS) + ["notices"] * DELIVERY_KILLS

    final = lianxin(env, "worker", "--once", "--now", (first + LEASE_STEP * (KILLS + 1)).isoformat())
    assert final.returncode == 0, final.stderr
    result = json.loads(final.stdout.strip().splitlines()[-1])
    assert result["failed"] == 0

    with pg_office.c.session_factory() as s:
        timers = s.execute(select(Timer.case_id, Timer.status)).all()
        fired_events = dict(s.execute(select(JournalEvent.case_id, func.count()).where(
            JournalEvent.type == "timer.fired").group_by(JournalEvent.case_id)).all())
        outbox = list(s.scalars(select(Outbox)))
        open_tasks = dict(s.execute(select(WorkItem.case_id, func.count()).where(
            WorkItem.state == "open").group_by(WorkItem.case_id)).all())
        incidents = s.scalar(select(func.count()).select_from(Case).where(Case.status == "incident"))
    assert sorted(timers) == sorted((c, "fired") for c in cases)
    assert fired_events == {c: 1 for c in cases}, "every timer fired exactly once"
    assert sorted(o.case_id for o in outbox) == sorted(cases), "exactly one notice per case"
    assert {o.status for o in outbox} == {"sent"}
    assert set(sms_gateway.messages) == {o.idempotency_key for o in outbox}, "each notice reached the handset once"
    assert sorted(m["to"] for m in sms_gateway.messages.values()) == sorted(
        case_data(i)["petitioner"]["phone"] for i in range(CASES))
    assert open_tasks == {c: 1 for c in cases} and incidents == 0
    bad = [(c, r) for c in cases if not (r := pg_office.c.runtime.verify(c)).ok]
    assert bad == []


CLIENTS = 8
WEB_CASES = 24
WEB_KILLS = 8
# A connection cut by a killed worker: refused or reset (OSError), or an answer cut short (IncompleteRead).
BROKEN = (OSError, http.client.HTTPException)

SLOW_CASE = bpmn.source("slow_case", f"""
<bpmn:startEvent id="start"/>
{bpmn.user_task("first", "受理")}
<bpmn:scriptTask id="crunch" name="统计"><bpmn:script>n = 0
while n &lt; 3000000:
    n += 1</bpmn:script></bpmn:scriptTask>
{bpmn.user_task("second", "办理")}
<bpmn:endEvent id="end"/>
{bpmn.flow("f1", "start", "first")}
{bpmn.flow("f2", "first", "crunch")}
{bpmn.flow("f3", "crunch", "second")}
{bpmn.flow("f4", "second", "end")}
""", "耗时步骤")


def test_web_workers_killed_mid_request_keep_every_case_consistent(pg_office, tmp_path):
    """Clients keep stepping their cases until all kills are done, then finish each case with a last step; each
    kill waits for requests in flight. Afterwards every case holds each step exactly once, in order."""
    rt = pg_office.c.runtime
    rt.deploy([SourceFile("loop_case.bpmn", bpmn.LOOP.encode())], actor="test")
    cases = [rt.start("loop_case", {}, "registrar").id for _ in range(WEB_CASES)]
    token = pg_office.token("admin")
    problems: list[str] = []
    broken: list[int] = []
    in_flight = [0]
    lock = threading.Lock()
    kills_done = threading.Event()

    def call(port, method, path, payload=None):
        with lock:
            in_flight[0] += 1
        try:
            return request(port, method, path, payload, bearer(token))
        finally:
            with lock:
                in_flight[0] -= 1

    def submitted_steps(case_id: int) -> list[int]:
        return [e["data"]["data"]["step"] for e in rt.history(case_id) if e["type"] == "task.submitted"]

    def advance(port: int, case_id: int, step: int, last: bool) -> None:
        """Submit step `step` of a case; after a broken connection, read the case to learn whether it landed."""
        while True:
            try:
                status, case = call(port, "GET", f"/api/cases/{case_id}")
            except BROKEN:
                broken.append(case_id)
                continue
            if status != 200:
                time.sleep(0.05)
                continue
            if len(submitted_steps(case_id)) > step:
                return  # an earlier attempt committed before its worker died
            [task] = case["tasks"]
            try:
                status, reply = call(port, "POST", f"/api/tasks/{task['id']}/complete",
                                     {"data": {"done": last, "step": step}, "version": case["version"]})
            except BROKEN:
                broken.append(case_id)  # the worker died under this request: did it land?
                continue
            if status == 200:
                return
            if status >= 500 and status not in (502, 503):
                problems.append(f"case {case_id} step {step}: {status} {reply}")
            elif status not in (409, 502, 503):
                problems.append(f"case {case_id} step {step}: {status} {reply}")
                return

    with Gunicorn(pg_office.env(), workers=3, log_path=tmp_path / "gunicorn.log") as server:
        def client(mine: list[int]) -> None:
            step = 0
            while True:
                last = kills_done.is_set()
                for case_id in mine:
                    advance(server.port, case_id, step, last)
                if last:
                    return
                step += 1

        threads = [threading.Thread(target=client, args=(cases[k::CLIENTS],)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        killed = []
        for n in range(WEB_KILLS):
            deadline = time.monotonic() + 30
            while in_flight[0] < CLIENTS // 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(0.02 * (n % 3))
            pids = server.worker_pids()
            if pids:
                victim = pids[n % len(pids)]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
            time.sleep(0.3)  # let the master start a new worker
        kills_done.set()
        for t in threads:
            t.join(120)
    assert len(killed) == WEB_KILLS
    assert problems == []
    for case_id in cases:
        steps = submitted_steps(case_id)
        assert steps == list(range(len(steps))) and len(steps) >= 2, f"case {case_id}: {steps}"
        view = rt.get_case(case_id)
        assert view.status == "completed", (case_id, view.status)
        assert rt.verify(case_id).ok


def test_a_step_cut_by_killing_every_web_worker_is_rolled_back_and_retried_once(pg_office, tmp_path):
    """A step whose script runs for a while: every gunicorn worker is killed while it runs. The client's
    connection breaks; the case is as it was (the transaction never committed); the retry with the same expected
    version succeeds once; the journal verifies."""
    rt = pg_office.c.runtime
    rt.deploy([SLOW_CASE], actor="test")
    case_id = rt.start("slow_case", {}, "registrar").id
    before = rt.get_case(case_id)
    [task] = before.tasks
    token = pg_office.token("admin")
    with Gunicorn(pg_office.env(), workers=2, log_path=tmp_path / "gunicorn.log") as server:
        outcome: list = []

        def submit():
            try:
                outcome.append(request(server.port, "POST", f"/api/tasks/{task.id}/complete",
                                       {"data": {"accepted": True}, "version": before.version}, bearer(token)))
            except BROKEN as exc:
                outcome.append(exc)

        t = threading.Thread(target=submit)
        t.start()
        time.sleep(0.3)  # the request is inside the script now (about 1 s of CPU)
        victims = server.worker_pids()
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        t.join(60)
        assert len(victims) == 2 and isinstance(outcome[0], BROKEN), outcome
        after_crash = rt.get_case(case_id)
        assert (after_crash.version, [x.id for x in after_crash.tasks]) == (before.version, [task.id])
        assert rt.verify(case_id).ok
        deadline = time.monotonic() + 30
        while len(server.worker_pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        status, reply = request(server.port, "POST", f"/api/tasks/{task.id}/complete",
                                {"data": {"accepted": True}, "version": before.version}, bearer(token))
        assert status == 200, reply
        status, _ = request(server.port, "POST", f"/api/tasks/{task.id}/complete",
                            {"data": {"accepted": True}, "version": before.version}, bearer(token))
        assert status == 409
    events = rt.history(case_id)
    assert [e["type"] for e in events].count("task.submitted") == 1
    assert [t.element_id for t in rt.get_case(case_id).tasks] == ["second"]
    assert rt.verify(case_id).ok
