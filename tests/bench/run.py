"""`make bench`: side-by-side timings in one run (medians), never assertions.

1. A persisted user-task step (load, complete, engine steps, save, journal, commit) on SQLite and PostgreSQL,
   against the bare SpiffWorkflow library doing load, complete and save in memory on the same definition.
2. A step at loop 1,000 against a step at loop 1 (the long-case guarantee).
Then the load test (`tests/bench/load.py`), then the timer benchmarks (`tests/bench/timers.py`), then the scale
probe (`tests/bench/scale.py`: BENCH_SCALE_CASES cases, default 100,000; 0 leaves it out).
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.clock import SHANGHAI, SettableClock  # noqa: E402
from engine.definitions import SourceFile  # noqa: E402
from tests.support import bpmn  # noqa: E402

STEPS = int(os.environ.get("BENCH_STEPS", "300"))
PG_URL = os.environ.get("LIANXIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class BareLibrary:
    """The library alone: deserialize, complete the ready user task, engine steps, serialize; in memory,
    with the library's own serializer."""

    def __init__(self, steps: int):
        from lxml import etree
        from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
        from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
        from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

        parser = SpiffBpmnParser()
        parser.add_bpmn_xml(etree.fromstring(bpmn.LOOP.encode("utf-8")), filename="loop.bpmn")
        spec = parser.get_spec("loop_case")
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
        self.states = []
        for _ in range(steps):
            wf = BpmnWorkflow(spec, {})
            wf.do_engine_steps()
            self.states.append(self.serializer.serialize_json(wf))

    def step(self, i: int) -> None:
        from SpiffWorkflow.util.task import TaskState

        wf = self.serializer.deserialize_json(self.states[i])
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        task.set_data(done=False, note="继续办理")
        task.run()
        wf.do_engine_steps()
        self.states[i] = self.serializer.serialize_json(wf)


def persisted(url: str, steps: int, tmp: Path) -> dict:
    """Persisted steps interleaved one for one with bare-library steps, so that machine noise hits both."""
    from engine.calendar import seed_from_chinesecalendar
    from infra.db import make_engine, make_session_factory
    from infra.migrate import upgrade
    from web.bootstrap import bootstrap
    from web.settings import Settings

    clock = SettableClock(datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as s, s.begin():
        seed_from_chinesecalendar(s, at=clock.now())
    engine.dispose()
    c = bootstrap(Settings.from_env(database_url=url, var_dir=tmp, secret_key="bench"), clock=clock)
    c.runtime.deploy([SourceFile("loop.bpmn", bpmn.LOOP.encode("utf-8"))], actor="bench")
    cases = [c.runtime.start("loop_case", {}, "bench") for _ in range(steps)]
    items = [v.tasks[0].id for v in cases]
    bare = BareLibrary(steps)
    ours, theirs = [], []
    holder = {}
    for i in range(steps):
        theirs.append(timed(lambda i=i: bare.step(i)))

        def step(i=i):
            holder["v"] = c.runtime.complete(items[i], {"done": False, "note": "继续办理"}, "bench")
        ours.append(timed(step))
        items[i] = holder["v"].tasks[0].id
    # long case: a step at loop 1,000 against a step at loop 1, measured alternately so noise hits both
    long_case = c.runtime.start("loop_case", {}, "bench")
    for _ in range(1000):
        long_case = c.runtime.complete(long_case.tasks[0].id, {"done": False}, "bench")
    fresh = [c.runtime.start("loop_case", {}, "bench").tasks[0].id for _ in range(100)]
    early, late = [], []
    for item in fresh:
        early.append(timed(lambda item=item: c.runtime.complete(item, {"done": False}, "bench")))
        target = long_case.tasks[0].id
        late.append(timed(lambda target=target: holder.__setitem__("v", c.runtime.complete(target, {"done": False}, "bench"))))
        long_case = holder["v"]
    c.engine.dispose()
    return {"median_ms": median_ms(ours), "bare_ms": median_ms(theirs), "loop1_ms": median_ms(early),
            "loop1000_ms": median_ms(late)}


def report(label: str, res: dict) -> None:
    print(f"{label}: persisted step {res['median_ms']:.2f} ms, bare library {res['bare_ms']:.2f} ms "
          f"-> x{res['median_ms'] / res['bare_ms']:.2f}")
    print(f"{' ' * len(label)}  long case: loop 1 {res['loop1_ms']:.2f} ms, loop 1000 {res['loop1000_ms']:.2f} ms "
          f"-> x{res['loop1000_ms'] / res['loop1_ms']:.2f}")


def main() -> None:
    print(f"Lianxin benchmark: {STEPS} user-task steps per backend, medians; each persisted step "
          f"(load, complete, engine steps, save, journal, commit) is interleaved with a bare-library step "
          f"(deserialize, complete, engine steps, serialize in memory) on the same definition.\n")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        report("SQLite    ", persisted(f"sqlite:///{tmp / 'bench.db'}", STEPS, tmp))
        pg = _pg_database()
        if pg is None:
            print("PostgreSQL: skipped (no server at LIANXIN_TEST_POSTGRES_URL)")
        else:
            url, drop = pg
            try:
                report("PostgreSQL", persisted(url, STEPS, tmp))
            finally:
                drop()
    print("\ngoals: SQLite median <= 5 ms and <= 3x the bare library; loop 1000 <= 2x loop 1\n")
    calendar_deadline(Path(tempfile.mkdtemp()))
    from tests.bench import load

    load.main()  # second part: the system under load (gunicorn, timer workers, concurrent clients)
    timers(Path(tempfile.mkdtemp()))
    from tests.bench import scale

    if scale.CASES > 0:  # third part: lists, search and statistics at BENCH_SCALE_CASES cases (0: left out)
        scale.main()


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
          f"{statistics.median(samples) * 1e6:.0f} µs, mean {statistics.mean(samples) * 1e6:.0f} µs "
          f"(goal: well under 1 ms)\n")


def timers(tmp: Path) -> None:
    from tests.bench import timers as tb

    big = int(os.environ.get("BENCH_OPEN_CASES", "100000"))
    many = int(os.environ.get("BENCH_DUE_TIMERS", "10000"))
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
        print(f"  {label}: {row[0] * 1000:.0f} ms among 1,000; {row[1] * 1000:.0f} ms among {big:,} "
              f"-> x{row[1] / row[0]:.2f} (goal <= 2)")
    made = tb.new_pg_database(PG_URL)
    if made is None:
        print("Two workers on PostgreSQL: skipped (no server)")
        return
    results = {}
    for workers in (1, 2):
        url, drop = tb.new_pg_database(PG_URL)
        try:
            results[workers] = tb.fire_many(url, tmp, many, workers)
        finally:
            drop()
    made[1]()
    for workers, r in results.items():
        print(f"  {workers} worker process(es): {many:,} due timers in {r['seconds']:.1f} s "
              f"({many / r['seconds']:.0f}/s), fired {r['fired']:,}, duplicates {r['duplicates']}, "
              f"per worker {r['per_worker']}")
    print(f"  speed-up of two workers over one: x{results[1]['seconds'] / results[2]['seconds']:.2f}")
    n = int(os.environ.get("BENCH_VERIFY_CASES", "10000"))
    r = tb.verify_many(f"sqlite:///{tmp / 'verify.db'}", tmp, n)
    print(f"Audit: verifying {r['cases']:,} journals (hash chain + full replay) took {r['seconds']:.1f} s "
          f"({r['cases'] / r['seconds']:.0f} cases/s, {r['bad']} failures); building them took "
          f"{r['build_seconds']:.1f} s")


def _pg_database():
    from tests.bench.timers import new_pg_database

    return new_pg_database(PG_URL)


if __name__ == "__main__":
    main()
