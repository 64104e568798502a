"""The engine's step timings for `make bench`, side by side in one run (medians).

- The floor: the bare SpiffWorkflow library doing what a step must do at the least — restore the case's state
  (the state only, onto the process spec parsed once and cached), complete the ready user task, run the engine
  on, write the state out — in memory, with the library's own script engine (no sandbox, no journal, no
  database). Lianxin's persisted step (lock, load, complete, engine steps, work items, timers, journal with hash
  and seal, save, commit) is measured one for one with a floor step, so machine noise hits both.
- Two processes: the minimal loop (one user task and a gateway) and a realistic petition step (a boundary
  deadline computed with the calendar, a script filing the opinion, a decision table, a handler;
  tests/bench/processes.py).
- The long case: the realistic process whose data grows every round (an opinion appended to a list, a comment
  added to a dict), a step at round 1,000 against a step at round 1, measured alternately.
- The database's own part (printed, not judged): what any persisted step asks of the database at the least — one
  transaction through the driver, on the same database with the same settings, that locks the case's row, reads
  its state, writes the floor's new state back and appends one journal row, then commits. A persisted step can
  never cost less than the floor plus this; the bench prints the step against that sum too, so a reader can tell
  the engine's overhead from the database's.
"""
from __future__ import annotations

import os
import statistics
import time
from datetime import datetime
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.calendar import seed_from_chinesecalendar
from engine.clock import SHANGHAI, SettableClock
from engine.context import CommandContext, command_scope
from engine.definitions import SourceFile
from engine.state import StateCodec
from infra.db import make_engine, make_session_factory
from infra.migrate import upgrade
from tests.bench import processes
from tests.support import bpmn
from web.bootstrap import bootstrap
from web.settings import Settings

STEPS = int(os.environ.get("BENCH_STEPS", "300"))
LONG_ROUNDS = int(os.environ.get("BENCH_LONG_ROUNDS", "1000"))
LONG_SAMPLES = int(os.environ.get("BENCH_LONG_SAMPLES", "100"))
FIXED_DUE = "2026-03-23T00:00:00+08:00"
BENCH_NOW = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


CPU: dict[str, list[float]] = {}  # CPU time of this thread per labelled step, beside the wall-clock samples


def timed(fn, cpu_label: str | None = None) -> float:
    """Wall-clock seconds of `fn()`; with `cpu_label`, its CPU time in this thread is kept in CPU too. On a
    shared machine the CPU time shows what a step costs when the wall clock also holds waits for the disk
    (SQLite's commit) and for other processes."""
    c0, t0 = time.thread_time(), time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    if cpu_label is not None:
        CPU.setdefault(cpu_label, []).append(time.thread_time() - c0)
    return wall


def cpu_ms(label: str) -> float:
    return median_ms(CPU.pop(label, [0.0]))


class Floor:
    """The bare library on one process: specs parsed once, each case's state held as the library writes it
    without the spec (engine.state's by-reference converter is the library's own converter minus the spec)."""

    def __init__(self, bpmn_text: str, process_key: str, dmn_text: str | None = None):
        class _Engine(PythonScriptEngine):
            def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
                return '{"unit": "住建局", "task": "办理", "level": "催办"}'

        parser = SpiffBpmnParser()
        parser.add_bpmn_xml(etree.fromstring(bpmn_text.encode("utf-8")), filename=f"{process_key}.bpmn")
        if dmn_text is not None:
            parser.add_dmn_xml(etree.fromstring(dmn_text.encode("utf-8")), filename=f"{process_key}.dmn")
        self.spec = parser.get_spec(process_key)
        self.subprocess_specs = parser.get_subprocess_specs(process_key)
        self.script_engine = _Engine(environment=TaskDataEnvironment({"workdays": lambda n, start=None: FIXED_DUE}))
        self.codec = StateCodec()
        self.states: list[str] = []

    def start(self) -> int:
        wf = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=self.script_engine)
        with command_scope(CommandContext(0, "bench", BENCH_NOW)):  # Lianxin pins the library's clock to commands
            wf.do_engine_steps()
        self.states.append(self.codec.dumps(wf))
        return len(self.states) - 1

    def step(self, i: int, data: dict) -> None:
        wf = self.codec.loads(self.states[i], self.spec, self.subprocess_specs, self.script_engine)
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        with command_scope(CommandContext(0, "bench", BENCH_NOW)):
            task.set_data(**data)
            task.run()
            wf.do_engine_steps()
        self.states[i] = self.codec.dumps(wf)


class DbFloor:
    """The database's own part of a persisted step: lock the case row, read its state, write a state of the same
    size back, append one journal row, commit — through the driver, on a connection of the container's engine
    (so SQLite's WAL and BEGIN IMMEDIATE, PostgreSQL's settings, are the application's own)."""

    def __init__(self, engine, states: list[str], offset: int = 0):
        self.states, self.offset = states, offset  # case i's row is offset + i
        self.sqlite = engine.dialect.name == "sqlite"
        self.conn = engine.raw_connection()
        self.mark = "?" if self.sqlite else "%s"
        cur = self.conn.cursor()
        if self.sqlite:
            cur.execute("BEGIN")
        cur.execute("CREATE TABLE IF NOT EXISTS bench_floor_case (id INTEGER PRIMARY KEY, version INTEGER NOT NULL, "
                    "state TEXT NOT NULL)")
        serial = "INTEGER PRIMARY KEY AUTOINCREMENT" if self.sqlite else "BIGSERIAL PRIMARY KEY"
        cur.execute(f"CREATE TABLE IF NOT EXISTS bench_floor_log (id {serial}, case_id INTEGER NOT NULL, "
                    "body TEXT NOT NULL)")
        self.conn.commit()

    def add(self, i: int) -> None:
        cur = self.conn.cursor()
        if self.sqlite:
            cur.execute("BEGIN IMMEDIATE")
        cur.execute(f"INSERT INTO bench_floor_case (id, version, state) VALUES ({self.mark}, 1, {self.mark})",
                    (self.offset + i, self.states[i]))
        self.conn.commit()

    def step(self, i: int) -> None:
        """SQLite: BEGIN IMMEDIATE, SELECT, UPDATE, INSERT, COMMIT on the one connection. PostgreSQL: the same in a
        pipeline, two round trips (BEGIN and the locking SELECT; the writes and COMMIT), the fewest possible when
        the state written depends on the state read."""
        m, row = self.mark, self.offset + i
        journal = '{"kind":"task.completed","version":%d}'
        if self.sqlite:
            cur = self.conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            cur.execute(f"SELECT version, state FROM bench_floor_case WHERE id = {m}", (row,))
            version, _ = cur.fetchone()
            cur.execute(f"UPDATE bench_floor_case SET version = {m}, state = {m} WHERE id = {m}",
                        (version + 1, self.states[i], row))
            cur.execute(f"INSERT INTO bench_floor_log (case_id, body) VALUES ({m}, {m})", (row, journal % version))
            self.conn.commit()
            return
        pg = self.conn.driver_connection
        with pg.pipeline():
            cur = pg.cursor()
            cur.execute(f"SELECT version, state FROM bench_floor_case WHERE id = {m} FOR UPDATE", (row,))
            version, _ = cur.fetchone()
            cur.execute(f"UPDATE bench_floor_case SET version = {m}, state = {m} WHERE id = {m}",
                        (version + 1, self.states[i], row))
            cur.execute(f"INSERT INTO bench_floor_log (case_id, body) VALUES ({m}, {m})", (row, journal % version))
            pg.commit()

    def close(self) -> None:
        self.conn.close()


def make_container(url: str, tmp: Path):
    clock = SettableClock(datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as s, s.begin():
        seed_from_chinesecalendar(s, at=clock.now())
    engine.dispose()
    c = bootstrap(Settings.from_env(database_url=url, var_dir=tmp, secret_key="bench"), clock=clock)
    c.runtime.deploy([SourceFile("loop.bpmn", bpmn.LOOP.encode("utf-8"))], actor="bench")
    c.runtime.deploy(processes.realistic_files(), actor="bench")
    return c


class Stepper:
    """Cases of one process in Lianxin, each with its open work item; `step(i)` submits case i's task."""

    def __init__(self, runtime, process_key: str):
        self.rt, self.key, self.items = runtime, process_key, []

    def start(self) -> int:
        self.items.append(self.rt.start(self.key, {}, "bench").tasks[0].id)
        return len(self.items) - 1

    def step(self, i: int, data: dict) -> None:
        view = self.rt.complete(self.items[i], data, "bench")
        self.items[i] = view.tasks[0].id


def side_by_side(c, steps: int) -> dict:
    """Floor and persisted steps, one for one, on the minimal and the realistic process."""
    pairs = {"minimal": (Floor(bpmn.LOOP, "loop_case"), Stepper(c.runtime, "loop_case")),
             "realistic": (Floor(processes.REALISTIC, processes.REALISTIC_KEY, processes.DMN),
                           Stepper(c.runtime, processes.REALISTIC_KEY))}
    samples = {name: ([], [], []) for name in pairs}
    for floor, ours in pairs.values():
        for _ in range(steps):
            floor.start(), ours.start()
    databases = {name: DbFloor(c.engine, floor.states, offset=n * steps)
                 for n, (name, (floor, _)) in enumerate(pairs.items())}
    try:
        for db in databases.values():
            for i in range(steps):
                db.add(i)
        minimal = {"done": False, "note": "继续办理"}
        for i in range(steps):
            data = {"minimal": minimal, "realistic": processes.round_data(1)}
            for name, (floor, ours) in pairs.items():
                samples[name][0].append(timed(lambda f=floor, d=data[name], i=i: f.step(i, d), f"{name} floor"))
                samples[name][1].append(timed(lambda o=ours, d=data[name], i=i: o.step(i, d), f"{name} ours"))
                samples[name][2].append(timed(lambda db=databases[name], i=i: db.step(i), f"{name} db"))
    finally:
        for db in databases.values():
            db.close()
    return {name: {"floor_ms": median_ms(f), "ours_ms": median_ms(o), "db_ms": median_ms(d),
                   "floor_cpu_ms": cpu_ms(f"{name} floor"), "ours_cpu_ms": cpu_ms(f"{name} ours"),
                   "db_cpu_ms": cpu_ms(f"{name} db")} for name, (f, o, d) in samples.items()}


class LongCase:
    """A realistic case taken to round `rounds` (its data grown by one opinion and one comment a round); `sample`
    then alternates steps of it with first steps of fresh cases (the long case goes on growing)."""

    def __init__(self, c, rounds: int = LONG_ROUNDS):
        self.ours = Stepper(c.runtime, processes.REALISTIC_KEY)
        self.rounds = rounds
        self.long_i = self.ours.start()
        for r in range(1, rounds):
            self.ours.step(self.long_i, processes.round_data(r))

    def sample(self, samples: int = LONG_SAMPLES) -> dict:
        fresh = [self.ours.start() for _ in range(samples)]
        early, late = [], []
        for i in fresh:
            early.append(timed(lambda i=i: self.ours.step(i, processes.round_data(1)), "round 1"))
            late.append(timed(lambda: self.ours.step(self.long_i, processes.round_data(self.rounds)), "late"))
            self.rounds += 1
        return {"round1_ms": median_ms(early), "late_ms": median_ms(late), "rounds": self.rounds - samples,
                "round1_cpu_ms": cpu_ms("round 1"), "late_cpu_ms": cpu_ms("late")}
