"""Timer benchmarks (second part of `make bench`).

A. Firing 100 due timers among 1,000 and among 100,000 open cases: the worker reads the indexed timer table
   only, so the second should cost about the same as the first (goal: at most twice).
B. `BENCH_DUE_TIMERS` (default 10,000) due timers fired by one worker process, then by two worker processes, on
   PostgreSQL: the due timers fired per second, every timer fired exactly once (one `timer.fired` event and one
   notice per case), and the CPU time per fired timer in the workers and in their PostgreSQL backends.

A firing does what a deadline does in the office: the case's boundary timer on 办理 fires, a reminder is recorded
for the unit (handler `remind`) and a notice to the petitioner goes into the outbox (handler `notify`), and the
journal, the timer row and the case state are written in the case's transaction.

Set-up: real cases are started through the runtime; the many other open cases are copies of a real case's
rows (state, work item, a timer due at the same time), inserted in SQL so that set-up takes seconds, not hours.
The measured processes are the worker processes alone: each starts, connects and signals that it is ready, and
the clock starts when all are told to go, so start-up is not measured and the bench process (which made the
data) only waits while they work.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from engine.clock import SHANGHAI, SettableClock
from engine.definitions import SourceFile
from tests.support import bpmn

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
CASE_DATA = {"case_no": "XFBENCH0001", "petitioner": {"name": "张三", "phone": "13812340000"}}
TIMER_CASE = bpmn.process("timer_case", f"""
<bpmn:startEvent id="start"/>
{bpmn.user_task("handle", "办理")}
<bpmn:boundaryEvent id="limit" name="办理期限" cancelActivity="false" attachedToRef="handle">
  <bpmn:timerEventDefinition id="td1"><bpmn:timeDate>workdays(5)</bpmn:timeDate></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
{bpmn.REMIND_UNIT}
{bpmn.tell_petitioner("告知信访人", "notice", "县住建局")}
<bpmn:endEvent id="reminded"/>
<bpmn:endEvent id="end"/>
{bpmn.flow("f1", "start", "handle")}
{bpmn.flow("f2", "handle", "end")}
{bpmn.flow("f3", "limit", "remind_unit")}
{bpmn.flow("f4", "remind_unit", "tell_petitioner")}
{bpmn.flow("f5", "tell_petitioner", "reminded")}
""", "期限测试")


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
    due_soon = [c.runtime.start("timer_case", CASE_DATA, "bench") for _ in range(100)]
    clock.set(T0 + timedelta(days=60))
    later = c.runtime.start("timer_case", CASE_DATA, "bench")
    _clone_cases(c, later.id, open_cases - 101, T0 + timedelta(days=90))
    worker = Worker(c.runtime, c.session_factory, clock)
    t0 = time.perf_counter()
    result = worker.run_once(now=T0 + timedelta(days=10))
    elapsed = time.perf_counter() - t0
    assert result["cases_fired"] == len(due_soon), result
    c.engine.dispose()
    return elapsed


def _worker_process(url: str, now_iso: str, ready, go, out, leave) -> None:
    """One measured worker process: start, connect, say ready; on `go`, fire everything due; report; and keep
    its connections until `leave`, so that the bench can read what their PostgreSQL backends spent.

    Each worker is a session of its own, as two `lianxin worker` services started by systemd are: Linux shares
    the CPU between sessions first (autogroup), so two workers left in the bench's session would share one
    session's part of a busy machine and could not be faster than one."""
    import tempfile

    os.setsid()

    from engine.worker import Worker
    from web.bootstrap import bootstrap
    from web.settings import Settings

    c = bootstrap(Settings.from_env(database_url=url, var_dir=Path(tempfile.mkdtemp()), secret_key="bench"),
                  clock=SettableClock(datetime.fromisoformat(now_iso)))
    worker = Worker(c.runtime, c.session_factory, c.clock, name=f"bench-{os.getpid()}")
    worker.run_once(now=T0)  # nothing is due yet: connects and runs the claim once
    ready.put(os.getpid())
    go.wait()
    cpu0 = time.process_time()
    result = worker.run_once()
    result.update(ended=time.monotonic(), cpu=time.process_time() - cpu0)
    out.put(result)
    leave.wait()
    c.engine.dispose()


def _backend_cpu(c) -> dict[int, float] | None:
    """CPU seconds spent so far by each PostgreSQL backend of this database (other than ours); None when the
    server's processes cannot be read (a server on another machine)."""
    with c.engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND pid <> pg_backend_pid()")).scalars().all()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return cpu


def fire_many(url: str, tmp: Path, n: int, workers: int) -> dict:
    """`n` due timers fired by `workers` worker processes (PostgreSQL): wall time from `go` to the last worker's
    end, CPU time of the workers and of their PostgreSQL backends, and what was fired (duplicates included)."""
    from engine.store import JournalEvent, Outbox, Timer

    clock = SettableClock(T0)
    c = _container(url, tmp, clock)
    c.runtime.deploy([SourceFile("timer_case.bpmn", TIMER_CASE.encode())], actor="bench")
    first = c.runtime.start("timer_case", CASE_DATA, "bench")
    with c.session_factory() as s:
        due_at = s.scalar(select(Timer.due_at).where(Timer.case_id == first.id))
    _clone_cases(c, first.id, n - 1, due_at)
    now = (T0 + timedelta(days=10)).isoformat()
    ctx = mp.get_context("spawn")
    ready, out, go, leave = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Event()
    procs = [ctx.Process(target=_worker_process, args=(url, now, ready, go, out, leave)) for _ in range(workers)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=300)
    pg_before = _backend_cpu(c)
    t0 = time.monotonic()
    go.set()
    results = [out.get() for _ in procs]
    elapsed = max(r["ended"] for r in results) - t0
    pg_after = _backend_cpu(c)
    leave.set()
    for p in procs:
        p.join()
    with c.session_factory() as s:
        fired_rows = s.scalar(select(func.count()).select_from(Timer).where(Timer.status == "fired"))
        events = s.execute(select(JournalEvent.case_id, func.count()).where(JournalEvent.type == "timer.fired")
                           .group_by(JournalEvent.case_id)).all()
        notices = s.execute(select(Outbox.case_id, func.count()).group_by(Outbox.case_id)).all()
    c.engine.dispose()
    pg_cpu = None
    if pg_before is not None and pg_after is not None:
        pg_cpu = sum(v - pg_before.get(pid, 0.0) for pid, v in pg_after.items())
    return {"seconds": elapsed, "fired": fired_rows, "cases_with_event": len(events),
            "duplicates": sum(k - 1 for _, k in events if k > 1) + sum(k - 1 for _, k in notices if k > 1),
            "notices": sum(k for _, k in notices), "per_worker": [r["cases_fired"] for r in results],
            "worker_cpu": sum(r["cpu"] for r in results), "pg_cpu": pg_cpu}


def compare_workers(pg_url: str, tmp: Path, n: int, rounds: int) -> dict:
    """One worker process against two, `rounds` times, alternating which goes first; each on a fresh database.
    Returns every run and the medians of the throughputs."""
    runs: dict[int, list[dict]] = {1: [], 2: []}
    for i in range(rounds):
        for workers in ((1, 2) if i % 2 == 0 else (2, 1)):
            made = new_pg_database(pg_url)
            if made is None:
                return {}
            url, drop = made
            try:
                runs[workers].append(fire_many(url, tmp, n, workers))
            finally:
                drop()
    rate = {w: statistics.median(r["fired"] / r["seconds"] for r in rs) for w, rs in runs.items()}
    return {"runs": runs, "rate": rate}


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
