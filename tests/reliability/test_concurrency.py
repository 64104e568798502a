"""Concurrency with real processes on PostgreSQL: 50 clients completing the same task through gunicorn, and
several `lianxin worker` processes firing the same due timers."""
from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.store import JournalEvent, Timer

from .processes import Gunicorn, bearer, request, start_worker

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CLIENTS = 50
TIMER_WORKERS = 3
TIMER_CASES = 60


def test_fifty_concurrent_completions_one_wins_over_gunicorn(pg_office, tmp_path):
    designer, handler = bearer(pg_office.token("designer")), bearer(pg_office.token("handler"))
    with Gunicorn(pg_office.env(), workers=4, threads=2, log_path=tmp_path / "gunicorn.log") as server:
        status, started = request(server.port, "POST", "/api/process-definitions/simple_case/instances",
                                  {"data": {"category": "劳动社保", "location": "county_a"}}, designer)
        assert status == 201, started
        status, listed = request(server.port, "GET", "/api/tasks?scope=unit", headers=handler)
        [task] = [t for t in listed["tasks"] if t["case_id"] == started["id"]]
        barrier = threading.Barrier(CLIENTS)
        replies: list[tuple[int, dict]] = []
        lock = threading.Lock()

        def submit():
            barrier.wait()
            reply = request(server.port, "POST", f"/api/tasks/{task['id']}/complete",
                            {"data": {"signed": True}, "version": started["version"]}, handler)
            with lock:
                replies.append(reply)

        threads = [threading.Thread(target=submit) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    codes = sorted(code for code, _ in replies)
    assert codes == [200] + [409] * (CLIENTS - 1)
    assert all(body["error"]["code"] == "conflict" for code, body in replies if code == 409), replies[:3]
    events = pg_office.c.runtime.history(started["id"])
    assert [e["type"] for e in events].count("task.submitted") == 1
    assert pg_office.c.runtime.verify(started["id"]).ok


def test_several_worker_processes_fire_every_timer_once(pg_office, tmp_path):
    rt = pg_office.c.runtime
    cases = [rt.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar").id
             for _ in range(TIMER_CASES)]
    now = pg_office.c.clock.now() + timedelta(days=10)  # the 5-working-day sign limit is past
    log = tmp_path / "workers.log"
    workers = [start_worker(pg_office.env(), "--now", now.isoformat(), "--poll", "0.1", "--name", f"w{i}", log_path=log)
               for i in range(TIMER_WORKERS)]
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with pg_office.c.session_factory() as s:
                pending = s.scalar(select(func.count()).select_from(Timer).where(
                    Timer.status == "pending", Timer.due_at <= now))
            if pending == 0:
                break
            assert all(w.poll() is None for w in workers), log.read_text()[-2000:]
            time.sleep(0.1)
        time.sleep(0.5)  # a few more polls of every worker: none may fire anything again
        assert all(w.poll() is None for w in workers), log.read_text()[-2000:]
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
            w.wait(10)
    with pg_office.c.session_factory() as s:
        fired = dict(s.execute(select(JournalEvent.case_id, func.count()).where(
            JournalEvent.type == "timer.fired").group_by(JournalEvent.case_id)).all())
    assert fired == {c: 1 for c in cases}
    for c in cases:
        reminders = [e for e in rt.history(c) if e["type"] == "service.called" and e["data"]["handler"] == "remind"]
        assert len(reminders) == 1
        assert rt.verify(c).ok
