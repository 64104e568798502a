"""Timer benchmarks (second part of `make bench`).

A. Firing 100 due timers among 1,000 and among 100,000 open cases: the worker reads the indexed timer table
   only, so the second should cost about the same as the first (goal: at most twice).
B. 10,000 due timers fired by one worker process, then by two worker processes, on PostgreSQL: every timer
   fires exactly once, and the speed-up of two over one is reported.

Set-up: real cases are started through the runtime; the many other open cases are copies of a real case's
rows (state, work item, a timer due months later), inserted in SQL so that set-up takes seconds, not hours.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from engine.clock import SHANGHAI, SettableClock
from engine.definitions import SourceFile

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
TIMER_CASE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="urn:bench">
<bpmn:process id="timer_case" name="期限测试" isExecutable="true">
  <bpmn:startEvent id="start"/>
  <bpmn:userTask id="handle" name="办理"><bpmn:extensionElements><spiffworkflow:properties>
    <spiffworkflow:property name="role" value="unit_handler"/></spiffworkflow:properties></bpmn:extensionElements>
  </bpmn:userTask>
  <bpmn:boundaryEvent id="limit" name="期限" cancelActivity="false" attachedToRef="handle">
    <bpmn:timerEventDefinition><bpmn:timeDate>workdays(5)</bpmn:timeDate></bpmn:timerEventDefinition>
  </bpmn:boundaryEvent>
  <bpmn:endEvent id="reminded"/>
  <bpmn:endEvent id="end"/>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="handle"/>
  <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="end"/>
  <bpmn:sequenceFlow id="f3" sourceRef="limit" targetRef="reminded"/>
</bpmn:process></bpmn:definitions>"""


def _container(url: str, tmp: Path, clock):
    from engine.calendar import seed_from_chinesecalendar
    from infra.db import make_engine, make_session_factory
    from infra.migrate import upgrade
    from web.bootstrap import bootstrap
    from web.settings import Settings

    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as s, s.begin():
        seed_from_chinesecalendar(s, at=T0)
    engine.dispose()
    return bootstrap(Settings.from_env(database_url=url, var_dir=tmp, secret_key="bench"), clock=clock)


def _clone_cases(c, source_case_id: int, copies: int, due_at: datetime) -> None:
    """Copy a real case's rows `copies` times, each with a pending timer due at `due_at`."""
    from engine.store import Case, Timer, WorkItem

    with c.session_factory() as s, s.begin():
        case = s.get(Case, source_case_id)
        item = s.scalar(select(WorkItem).where(WorkItem.case_id == source_case_id))
        timer = s.scalar(select(Timer).where(Timer.case_id == source_case_id))
        base = dict(definition_id=case.definition_id, process_key=case.process_key, status=case.status,
                    version=case.version, state=case.state, state_format=case.state_format,
                    summary_json="{}", created_at=case.created_at, updated_at=case.updated_at,
                    started_by="bench", last_seq=case.last_seq, last_hash=case.last_hash)
        done = 0
        while done < copies:
            n = min(5000, copies - done)
            first_id = (s.scalar(select(func.max(Case.id))) or 0) + 1
            s.execute(Case.__table__.insert(), [dict(base, id=first_id + i) for i in range(n)])
            s.execute(WorkItem.__table__.insert(), [dict(
                case_id=first_id + i, task_id=item.task_id, element_id=item.element_id, name=item.name,
                process_key=item.process_key, role=item.role, state="open", created_at=item.created_at,
                due_at=due_at) for i in range(n)])
            s.execute(Timer.__table__.insert(), [dict(
                case_id=first_id + i, task_id=timer.task_id, element_id=timer.element_id, due_at=due_at,
                status="pending", attempts=0, created_at=timer.created_at, rule="WD", days=5,
                roll_forward=True, extension_days=0, provisional=False) for i in range(n)])
            done += n
    if c.engine.dialect.name == "postgresql":
        with c.engine.begin() as conn:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('case_instance','id'), "
                              "(SELECT max(id) FROM case_instance))"))
            conn.execute(text("ANALYZE"))


def fire_100_among(url: str, tmp: Path, open_cases: int) -> float:
    from engine.worker import Worker

    clock = SettableClock(T0)
    c = _container(url, tmp, clock)
    c.runtime.deploy([SourceFile("timer_case.bpmn", TIMER_CASE.encode())], actor="bench")
    due_soon = [c.runtime.start("timer_case", {}, "bench") for _ in range(100)]
    clock.set(T0 + timedelta(days=60))
    later = c.runtime.start("timer_case", {}, "bench")
    _clone_cases(c, later.id, open_cases - 101, T0 + timedelta(days=90))
    worker = Worker(c.runtime, c.session_factory, clock)
    t0 = time.perf_counter()
    result = worker.run_once(now=T0 + timedelta(days=10))
    elapsed = time.perf_counter() - t0
    assert result["cases_fired"] == len(due_soon), result
    c.engine.dispose()
    return elapsed


def _worker_process(url: str, now_iso: str, out):
    import tempfile

    from engine.worker import Worker
    from web.bootstrap import bootstrap
    from web.settings import Settings

    c = bootstrap(Settings.from_env(database_url=url, var_dir=Path(tempfile.mkdtemp()), secret_key="bench"),
                  clock=SettableClock(datetime.fromisoformat(now_iso)))
    result = Worker(c.runtime, c.session_factory, c.clock, name=f"bench-{os.getpid()}").run_once()
    out.put(result)
    c.engine.dispose()


def fire_many(url: str, tmp: Path, n: int, workers: int) -> dict:
    from engine.store import JournalEvent, Timer

    clock = SettableClock(T0)
    c = _container(url, tmp, clock)
    c.runtime.deploy([SourceFile("timer_case.bpmn", TIMER_CASE.encode())], actor="bench")
    first = c.runtime.start("timer_case", {}, "bench")
    with c.session_factory() as s:
        due_at = s.scalar(select(Timer.due_at).where(Timer.case_id == first.id))
    _clone_cases(c, first.id, n - 1, due_at)
    now = (T0 + timedelta(days=10)).isoformat()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker_process, args=(url, now, out)) for _ in range(workers)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    with c.session_factory() as s:
        fired_rows = s.scalar(select(func.count()).select_from(Timer).where(Timer.status == "fired"))
        events = s.execute(select(JournalEvent.case_id, func.count()).where(JournalEvent.type == "timer.fired")
                           .group_by(JournalEvent.case_id)).all()
    c.engine.dispose()
    duplicates = sum(k - 1 for _, k in events if k > 1)
    return {"seconds": elapsed, "fired": fired_rows, "cases_with_event": len(events), "duplicates": duplicates,
            "per_worker": [r["cases_fired"] for r in results]}


def new_pg_database(base_url: str):
    from infra.db import make_engine

    admin_url = base_url.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception:
        return None
    name = f"lianxin_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


def verify_many(url: str, tmp: Path, n: int) -> dict:
    """Start `n` real cases and take each through two steps, then verify every journal (chain + replay)."""
    from engine.store import WorkItem

    clock = SettableClock(T0)
    c = _container(url, tmp, clock)
    root = Path(__file__).resolve().parents[2]
    from engine.definitions import collect_files

    c.runtime.deploy(collect_files([str(root / "processes" / "simple_case.bpmn"),
                                    str(root / "processes" / "forms")]), actor="bench")
    t0 = time.perf_counter()
    for _ in range(n):
        view = c.runtime.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "bench")
        view = c.runtime.complete(view.tasks[0].id, {"signed": True}, "bench")
        c.runtime.complete(view.tasks[0].id, {"outcome": "支持", "reply_text": "已办理"}, "bench")
    build = time.perf_counter() - t0
    with c.session_factory() as s:
        ids = list(s.scalars(select(func.distinct(WorkItem.case_id))))
    t0 = time.perf_counter()
    bad = [i for i in ids if not c.runtime.verify(i).ok]
    elapsed = time.perf_counter() - t0
    c.engine.dispose()
    return {"cases": len(ids), "seconds": elapsed, "bad": len(bad), "build_seconds": build}
