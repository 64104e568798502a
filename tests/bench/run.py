"""`make bench`: side-by-side timings in one run (medians), judged: one verdict line per goal (MET / NOT MET, the
figure and the goal), and a summary of all verdicts at the end. Never assertions.

1. The engine (tests/bench/engine_steps.py), on SQLite and PostgreSQL: a persisted user-task step against the
   floor (the bare SpiffWorkflow library, state only, spec cached, in memory), on the minimal loop and on a
   realistic petition step; a step at round 1,000 of a case whose data grows every round against a step at
   round 1. Goals: <= 2x the floor on SQLite, <= 3x on PostgreSQL; round 1,000 <= 1.5x round 1.
2. The calendar: WD(60) on a snapshot.
3. One client over HTTP (`tests/bench/http_step.py`): a completion through gunicorn against the same step in
   this process (goal: <= 1.5x), and the server's CPU time per completion request (goal: <= 7.5 ms).
   Then the load test (`tests/bench/load.py`), then the timer benchmarks (`tests/bench/timers.py`).
4. The scale probe (`tests/bench/scale.py`): the task list, the case search and /api/stats at BENCH_SCALE_CASES
   cases (default 100,000; 0 leaves it out).

The load average is printed before and after each engine measurement; a measurement during which the load moved
is run again (tests/bench/verdict.py). BENCH_PARTS (engine,calendar,http,load,timers,scale; default all) picks parts.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench import engine_steps, scale  # noqa: E402
from tests.bench.verdict import fmt_load, judge, judge_flag, load_average, steady, summary  # noqa: E402

PG_URL = os.environ.get("LIANXIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PARTS = set(os.environ.get("BENCH_PARTS", "engine,calendar,http,load,timers,scale").split(","))
STEP_GOALS = {"SQLite": 2.0, "PostgreSQL": 3.0}  # persisted step / floor, at most
LONG_GOAL = 1.5  # a step at round 1,000 / a step at round 1, at most


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def engine_part(label: str, url: str, tmp: Path) -> None:
    c = engine_steps.make_container(url, tmp)
    try:
        steps = steady(f"{label} steps", lambda: engine_steps.side_by_side(c, engine_steps.STEPS))
        for name, r in steps.items():
            print(f"{label} {name}: persisted step {r['ours_ms']:.2f} ms, floor {r['floor_ms']:.2f} ms; CPU time in "
                  f"this process {r['ours_cpu_ms']:.2f} ms against {r['floor_cpu_ms']:.2f} ms "
                  f"(x{r['ours_cpu_ms'] / max(r['floor_cpu_ms'], 1e-6):.2f}, not judged)")
            least = r["floor_ms"] + r["db_ms"]
            print(f"{label} {name}: the database's own part (lock the row, read the state, write it back, one "
                  f"journal row, commit; through the driver) {r['db_ms']:.2f} ms (CPU here {r['db_cpu_ms']:.2f} ms); "
                  f"floor + database = {least:.2f} ms, already x{least / r['floor_ms']:.2f} of the floor; persisted "
                  f"step / (floor + database) = x{r['ours_ms'] / least:.2f} (not judged)")
            judge(f"{label}, {name} process: persisted step / floor", r["ours_ms"] / r["floor_ms"],
                  STEP_GOALS[label], ratio=True)
        case = engine_steps.LongCase(c)
        long = steady(f"{label} long case", case.sample)
        print(f"{label} long case (data growing every round): round 1 {long['round1_ms']:.2f} ms, "
              f"round {long['rounds']:,} {long['late_ms']:.2f} ms; CPU time {long['round1_cpu_ms']:.2f} ms against "
              f"{long['late_cpu_ms']:.2f} ms (x{long['late_cpu_ms'] / max(long['round1_cpu_ms'], 1e-6):.2f}, not judged)")
        judge(f"{label}, growing case: step at round {long['rounds']:,} / step at round 1",
              long["late_ms"] / long["round1_ms"], LONG_GOAL, ratio=True)
    finally:
        c.engine.dispose()


def main() -> None:
    print(f"Lianxin benchmark, {engine_steps.STEPS} steps per process and backend (medians), load average "
          f"{fmt_load(load_average())} at the start.\n")
    if "engine" in PARTS:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            engine_part("SQLite", f"sqlite:///{tmp / 'bench.db'}", tmp)
            pg = _pg_database()
            if pg is None:
                print("PostgreSQL: skipped (no server at LIANXIN_TEST_POSTGRES_URL)")
            else:
                url, drop = pg
                try:
                    engine_part("PostgreSQL", url, tmp)
                finally:
                    drop()
        print()
    if "calendar" in PARTS:
        calendar_deadline(Path(tempfile.mkdtemp()))
    if "http" in PARTS:
        from tests.bench import http_step

        http_step.main()  # one client: a completion over HTTP against the same step in this process
    if "load" in PARTS:
        from tests.bench import load

        load.main()  # the system under load (gunicorn, timer workers, concurrent clients)
    if "timers" in PARTS:
        timers(Path(tempfile.mkdtemp()))
    if "scale" in PARTS and scale.CASES > 0:  # lists, search and statistics at BENCH_SCALE_CASES cases
        scale.main()
    print(f"\nload average at the end: {fmt_load(load_average())}")
    summary()


def calendar_deadline(tmp: Path, runs: int = 2000) -> None:
    """WD(60) on a calendar snapshot, the computation behind every due date (goal: well under a millisecond)."""
    from datetime import date

    from engine.calendar import CalendarService, seed_from_chinesecalendar
    from engine.calendar.models import CalendarDay, CalendarYear
    from engine.db import Base
    from infra.db import make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{tmp / 'calendar.db'}")
    Base.metadata.create_all(engine, tables=[CalendarYear.__table__, CalendarDay.__table__])
    factory = make_session_factory(engine)
    with factory() as session:
        seed_from_chinesecalendar(session, range(2025, 2027))
        session.commit()
    cal = CalendarService(factory).calendar()
    start = date(2026, 1, 5)
    samples = [timed(lambda: cal.add_workdays(start, 60)) for _ in range(runs)]
    engine.dispose()
    print(f"Calendar: WD(60) from 2026-01-05 on a snapshot, {runs} runs: median "
          f"{statistics.median(samples) * 1e6:.0f} µs, mean {statistics.mean(samples) * 1e6:.0f} µs")
    judge("calendar: WD(60) on a snapshot, median", statistics.median(samples) * 1000, 1.0, unit=" ms")
    print()


def timers(tmp: Path) -> None:
    from tests.bench import timers as tb

    big = int(os.environ.get("BENCH_OPEN_CASES", "100000"))
    many = int(os.environ.get("BENCH_DUE_TIMERS", "10000"))
    if big:
        among(tb, tmp, big)
    if many:
        two_workers(tb, tmp, many)
    n = int(os.environ.get("BENCH_VERIFY_CASES", "10000"))
    if not n:
        return
    r = tb.verify_many(f"sqlite:///{tmp / 'verify.db'}", tmp, n)
    print(f"Audit: verifying {r['cases']:,} journals (hash chain + full replay) took {r['seconds']:.1f} s "
          f"({r['cases'] / r['seconds']:.0f} cases/s, {r['bad']} failures); building them took "
          f"{r['build_seconds']:.1f} s")


def among(tb, tmp: Path, big: int) -> None:
    """100 due timers among 1,000 and among `big` open cases, on both databases."""
    print(f"Timers: firing 100 due timers among 1,000 and among {big:,} open cases")
    for label, make_url in (("SQLite", lambda n: (f"sqlite:///{tmp / f'timers_{n}.db'}", None)),
                            ("PostgreSQL", lambda n: tb.new_pg_database(PG_URL))):
        row = []
        for n in (1000, big):
            made = make_url(n)
            if made is None:
                row = None
                break
            url, drop = made
            try:
                row.append(tb.fire_100_among(url, tmp, n))
            finally:
                if drop:
                    drop()
        if row is None:
            print(f"  {label}: skipped (no server)")
            continue
        print(f"  {label}: {row[0] * 1000:.0f} ms among 1,000; {row[1] * 1000:.0f} ms among {big:,}")
        judge(f"timers, {label}: 100 due among {big:,} / among 1,000", row[1] / row[0], 2.0, ratio=True)


def two_workers(tb, tmp: Path, many: int) -> None:
    """One timer worker process against two on PostgreSQL: due timers fired per second, duplicates, CPU."""
    rounds = int(os.environ.get("BENCH_TIMER_ROUNDS", "2"))
    print(f"Timers: {many:,} due timers fired by one worker process and by two (PostgreSQL, {rounds} rounds, "
          f"alternating which goes first; a firing records a reminder and puts a notice in the outbox)")
    r = steady("timer workers", lambda: tb.compare_workers(PG_URL, tmp, many, rounds), repeats=2)
    if not r:
        print("  PostgreSQL: skipped (no server)")
        return
    for workers, runs in r["runs"].items():
        for run in runs:
            print(f"  {workers} worker process(es): {run['fired']:,} fired in {run['seconds']:.1f} s "
                  f"({run['fired'] / run['seconds']:.0f}/s), per worker {run['per_worker']}, duplicates "
                  f"{run['duplicates']}, notices {run['notices']:,}; {_cpu_text(run)}")
    ratio = r["rate"][2] / r["rate"][1]
    judge("timers, PostgreSQL: due timers fired per second, two worker processes / one", ratio, 1.6,
          ratio=True, at_least=True)
    everything = [run for runs in r["runs"].values() for run in runs]
    bad = [run for run in everything if run["duplicates"] or run["fired"] != many or run["notices"] != many]
    judge_flag("timers, PostgreSQL: every due timer fired once, one notice each", not bad,
               f"{sum(run['duplicates'] for run in everything)} duplicates, "
               f"{sum(many - run['fired'] for run in everything)} missed", "0 duplicates, 0 missed")
    if all(run["pg_cpu"] is not None for run in everything):
        per = {w: statistics.median((run["worker_cpu"] + run["pg_cpu"]) / run["fired"] for run in runs)
               for w, runs in r["runs"].items()}
        print(f"  CPU per fired timer (workers + their PostgreSQL backends), two workers / one: "
              f"{per[2] * 1000:.2f} / {per[1] * 1000:.2f} ms = x{per[2] / per[1]:.2f} (not judged; above x1 is work "
              f"that two workers add: waiting for each other, firing what the other fired)")
        cpu = per[2]
        cores = os.cpu_count() or 1
        ceiling = cores / cpu / r["rate"][1]
        print(f"  what the machine allows: {cores} cores / {cpu * 1000:.2f} ms CPU per fired timer (workers + "
              f"their PostgreSQL backends, two workers) = {cores / cpu:.0f}/s at most, x{ceiling:.2f} of one "
              f"worker's {r['rate'][1]:.0f}/s, if nothing else ran on the machine")


def _cpu_text(run: dict) -> str:
    worker = run["worker_cpu"] / run["fired"] * 1000
    if run["pg_cpu"] is None:
        return f"CPU per fired timer {worker:.2f} ms in the workers (PostgreSQL's not readable)"
    pg = run["pg_cpu"] / run["fired"] * 1000
    return (f"CPU per fired timer {worker:.2f} ms in the workers + {pg:.2f} ms in PostgreSQL = {worker + pg:.2f} ms; "
            f"busy {(run['worker_cpu'] + run['pg_cpu']) / run['seconds']:.2f} cores")


def _pg_database():
    from tests.bench.timers import new_pg_database

    return new_pg_database(PG_URL)


if __name__ == "__main__":
    main()
