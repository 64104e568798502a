"""The timer worker: several at once, each timer fired exactly once; failures retried with backoff."""
from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from engine.definitions import collect_files
from engine.store import Case, JournalEvent, Timer
from engine.worker import LEASE, Worker
from tests.support.db import _truncate_postgres, make_container

ROOT = Path(__file__).resolve().parents[2]


def test_two_workers_fire_every_timer_once(container, clock):
    rt = container.runtime
    rt.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    cases = [rt.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar")
             for _ in range(30)]
    clock.advance(timedelta(days=10))
    workers = [Worker(rt, container.session_factory, clock, name=f"w{i}") for i in range(2)]
    results = []
    barrier = threading.Barrier(2)

    def run(w):
        barrier.wait()
        results.append(w.run_once())

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["cases_fired"] for r in results) == len(cases)
    assert all(r["failed"] == 0 for r in results)
    with container.session_factory() as s:
        fired = s.scalar(select(func.count()).select_from(Timer).where(Timer.status == "fired"))
        timer_events = s.scalar(select(func.count()).select_from(JournalEvent).where(JournalEvent.type == "timer.fired"))
    assert fired == len(cases) and timer_events == len(cases)
    for case in cases:
        reminders = [e for e in rt.history(case.id) if e["type"] == "service.called"
                     and e["data"]["handler"] == "remind"]
        assert len(reminders) == 1


def test_a_failing_timer_is_retried_with_backoff(container, clock, monkeypatch):
    rt = container.runtime
    rt.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    case = rt.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar")
    clock.advance(timedelta(days=10))
    worker = Worker(rt, container.session_factory, clock)
    original = rt._fire_in

    def broken(*args, **kwargs):
        raise OSError("磁盘暂时不可用")

    monkeypatch.setattr(rt, "_fire_in", broken)
    assert worker.run_once()["failed"] == 1
    with container.session_factory() as s:
        row = s.scalar(select(Timer).where(Timer.case_id == case.id, Timer.element_id == "Timer_sign_limit"))
        assert (row.status, row.attempts) == ("pending", 1) and "磁盘暂时不可用" in row.last_error
        assert row.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert worker.run_once()["cases_fired"] == 0  # backing off
    monkeypatch.setattr(rt, "_fire_in", original)
    clock.advance(timedelta(seconds=31))
    assert worker.run_once()["cases_fired"] == 1
    assert [e for e in rt.history(case.id) if e["type"] == "timer.fired"]


def test_the_worker_loads_only_cases_with_something_due(container, clock, monkeypatch):
    rt = container.runtime
    rt.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    early = [rt.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "r") for _ in range(3)]
    clock.advance(timedelta(days=3))
    late = [rt.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "r") for _ in range(4)]
    clock.advance(timedelta(days=5))  # Tue 03-10: the early ones are due (03-09), the late ones not (03-12)
    loaded = []
    original = rt._load

    def counting_load(s, case):
        loaded.append(case.id)
        return original(s, case)

    monkeypatch.setattr(rt, "_load", counting_load)
    result = Worker(rt, container.session_factory, clock).run_once()
    assert result["cases_fired"] == 3
    assert sorted(loaded) == sorted(c.id for c in early)
    assert not set(loaded) & {c.id for c in late}


def test_a_timer_failing_every_time_becomes_an_incident(container, clock, monkeypatch):
    rt = container.runtime
    rt.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    case = rt.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar")
    clock.advance(timedelta(days=10))
    worker = Worker(rt, container.session_factory, clock, max_attempts=2)
    original = rt._fire_in
    monkeypatch.setattr(rt, "_fire_in", lambda *a, **k: (_ for _ in ()).throw(OSError("接口不可用")))
    worker.run_once()
    clock.advance(timedelta(minutes=5))
    worker.run_once()
    view = rt.get_case(case.id)
    assert view.status == "incident"
    assert "连续 2 次" in view.incidents[0].message and "接口不可用" in view.incidents[0].message
    monkeypatch.setattr(rt, "_fire_in", original)
    rt.retry_incidents(case.id, "admin")  # the retry runs the engine at a time past the due date: it fires
    assert worker.run_once()["cases_fired"] == 0
    assert rt.get_case(case.id).status == "waiting"
    reminders = [e for e in rt.history(case.id) if e["type"] == "service.called" and e["data"]["handler"] == "remind"]
    assert len(reminders) == 1


def _due_cases(container, clock, n):
    rt = container.runtime
    rt.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    cases = [rt.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar").id
             for _ in range(n)]
    clock.advance(timedelta(days=10))
    return cases


def test_two_workers_claim_disjoint_batches_in_one_statement_each(container, clock):
    cases = _due_cases(container, clock, 6)
    first, second = (Worker(container.runtime, container.session_factory, clock, name=f"w{i}", batch=3)
                     for i in range(2))
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(container.engine, "before_cursor_execute", record)
    try:
        mine = first._claim(clock.now())
    finally:
        event.remove(container.engine, "before_cursor_execute", record)
    claims = [s for s in statements if s.lstrip().upper().startswith("UPDATE TIMER")]
    assert len(claims) == 1, "one claim statement for the whole batch"
    theirs = second._claim(clock.now())
    assert len(mine) == len(theirs) == 3 and not set(mine) & set(theirs)
    assert sorted(mine + theirs) == sorted(cases)
    assert second._claim(clock.now()) == [], "everything due is claimed: nothing left to take"


def test_the_claims_of_a_worker_that_died_are_taken_over_when_the_lease_ends(container, clock):
    cases = _due_cases(container, clock, 4)
    now = clock.now()
    dead = Worker(container.runtime, container.session_factory, clock, name="dead")
    assert sorted(dead._claim(now)) == sorted(cases)  # ... and the worker dies before it fires any of them
    survivor = Worker(container.runtime, container.session_factory, clock, name="survivor")
    assert survivor.run_once(now)["cases_fired"] == 0, "the leases still hold"
    assert survivor.run_once(now + LEASE + timedelta(seconds=1))["cases_fired"] == len(cases)
    with container.session_factory() as s:
        events = dict(s.execute(select(JournalEvent.case_id, func.count()).where(
            JournalEvent.type == "timer.fired").group_by(JournalEvent.case_id)).all())
    assert events == {c: 1 for c in cases}


@pytest.fixture
def pg_container(postgres_url, clock, tmp_path):
    """PostgreSQL only: on SQLite (one writer) a case cannot be held while a worker runs."""
    _truncate_postgres(postgres_url)
    c = make_container(postgres_url, clock, tmp_path)
    yield c
    c.engine.dispose()


@pytest.mark.postgres
def test_a_case_held_by_someone_else_is_skipped_and_its_claims_given_back(pg_container, clock):
    container = pg_container
    cases = _due_cases(container, clock, 3)
    held = cases[0]
    worker = Worker(container.runtime, container.session_factory, clock)
    with container.session_factory() as user, user.begin():  # a user's step holds the first case
        user.execute(select(Case.id).where(Case.id == held).with_for_update())
        result = worker.run_once(clock.now())
    assert result["cases_fired"] == 2 and result["skipped"] >= 1, result
    with container.session_factory() as s:
        timer = s.scalar(select(Timer).where(Timer.case_id == held, Timer.status == "pending"))
    assert timer is not None and timer.next_attempt_at is None, "the claim was given back"
    assert worker.run_once(clock.now())["cases_fired"] == 1, "fired at once, not after the lease"
