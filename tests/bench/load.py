"""Load (`make bench`, after the step timings): gunicorn workers on PostgreSQL plus two timer workers, and N
concurrent clients on loopback registering petitions, reading each, completing its first task and listing the
unit's tasks, for a bounded time. Two load models are run one after the other against the same server:

- office (the one the goal is judged on): each client is a person at a desk, pausing before every action for a
  random time averaging BENCH_LOAD_THINK seconds (1 s; exponentially distributed, so the clients' requests arrive
  as independent people's do), so 50 clients offer at most 50 requests/s. The clients start at random points of
  their round (register, read, complete, list): with a fixed pause and a common start, all 50 would register in the
  same second, read in the next and complete in the one after, a lock-step no office shows (measured before the
  pauses were made random: the completion second asked for more CPU than the machine has, p95 95-150 ms; with
  BENCH_LOAD_LOCKSTEP=1 that lock-step model runs too, as a third, unjudged model);
- saturation: the same clients in a closed loop WITHOUT think time, each sending its next request the moment the
  last one is answered. This is a saturation test: it measures the most the machine serves, and its latency is
  mostly queueing (by Little's law about clients / throughput), not the cost of a request.

For each model: throughput, p50/p95/p99 latency per kind of request, and errors. Goal: zero errors and p95 <
100 ms at 50 concurrent clients on this machine, judged on the office model.

Settings (environment): BENCH_LOAD_CLIENTS (50), BENCH_LOAD_SECONDS (30, per model), BENCH_LOAD_THINK (1.0),
BENCH_WEB_WORKERS (4), BENCH_WEB_THREADS (4), BENCH_LOAD_LOCKSTEP (unset). Clients use API tokens (as integrations do), one connection per
request.
"""
from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "50"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "30"))
THINK = float(os.environ.get("BENCH_LOAD_THINK", "1.0"))
LOCKSTEP = os.environ.get("BENCH_LOAD_LOCKSTEP", "") in ("1", "yes", "true")
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "4"))
WEB_THREADS = int(os.environ.get("BENCH_WEB_THREADS", "4"))
PG_URL = os.environ.get("LIANXIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

PETITION = {"channel": "来访", "title": "拖欠工资", "request": "请求支付拖欠的三个月工资", "category": "劳动社保",
            "location": "county_a", "facts": "某公司拖欠工资三个月，多次协商未果。",
            "petitioners": [{"name": "张三", "phone": "13800000000"}]}


class Recorder:
    """Latency and errors of the requests sent from `since` on (perf_counter); errors are kept from the start."""

    def __init__(self, since: float = 0.0):
        self.since = since
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.sent = 0  # every request, the ramp's too (the server's CPU time is read over the whole run)

    def call(self, kind: str, port: int, method: str, path: str, payload=None, headers=None, ok=(200, 201)):
        from tests.reliability.processes import request

        t0 = time.perf_counter()
        try:
            status, body = request(port, method, path, payload, headers)
        except OSError as exc:
            status, body = 0, {"error": repr(exc)}
        elapsed = time.perf_counter() - t0
        with self.lock:
            self.sent += 1
            if t0 >= self.since:
                self.latency[kind].append(elapsed)
            if status not in ok:
                self.errors[kind].append(f"{status} {str(body)[:200]}")
        return status, body


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def prepare(url: str, tmp: Path) -> dict[str, str]:
    """Migrate, seed the calendar, deploy processes/, load the demo organisation; API tokens for the clients."""
    from sqlalchemy import select

    from engine.clock import SettableClock
    from engine.definitions import collect_files
    from infra.accounts import User, create_token
    from services.organisation import load_organisation
    from tests.support.db import START, _migrate_and_seed, make_container

    _migrate_and_seed(url)
    c = make_container(url, SettableClock(START), tmp)
    c.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="bench")
    tokens = {}
    with c.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    now = datetime.now(START.tzinfo)  # the server runs on the real clock: a token made at START would have expired
    with c.session_factory() as s, s.begin():
        for name in ("registrar", "handler"):
            tokens[name] = create_token(s, s.scalar(select(User).where(User.username == name)), "bench", now)
    c.engine.dispose()
    return tokens


def client_loop(rec: Recorder, port: int, tokens: dict, until: float, counts: dict, think: float = 0.0,
                lockstep: bool = False) -> None:
    """One client: register, read, complete the first task, list the unit's tasks; again until `until`. With
    `think` > 0 it pauses before every action for a random time averaging `think` seconds, as a person at a desk
    does, and its first pause is drawn over a whole round (four actions), so the clients do not act in step.
    `lockstep`: every pause exactly `think`, the first within one pause (all clients in the same phase)."""
    from tests.reliability.processes import bearer

    registrar, handler = bearer(tokens["registrar"]), bearer(tokens["handler"])
    first = [random.uniform(0, think if lockstep else 4 * think)]

    def ready() -> bool:
        if think:
            pause = first.pop() if first else think if lockstep else random.expovariate(1 / think)
            time.sleep(max(0.0, min(pause, until - time.monotonic())))  # no request is sent after `until`
        return time.monotonic() < until

    while ready():
        status, made = rec.call("register  POST /api/cases", port, "POST", "/api/cases", PETITION, registrar)
        if status != 201 or not ready():
            continue
        status, case = rec.call("read      GET /api/cases/{id}", port, "GET", f"/api/cases/{made['id']}",
                                headers=registrar)
        if status != 200 or not case.get("tasks") or not ready():
            continue
        task = case["tasks"][0]
        status, _ = rec.call("complete  POST /api/tasks/{id}/complete", port, "POST",
                             f"/api/tasks/{task['id']}/complete",
                             {"data": {"route": "交办转送", "triage_note": "属地办理"}, "version": case["version"]},
                             registrar)
        with rec.lock:
            if time.perf_counter() >= rec.since:
                counts["petitions"] += 1
                counts["completed"] += status == 200
        if not ready():
            break
        rec.call("list      GET /api/tasks", port, "GET", "/api/tasks?scope=unit&limit=20", headers=handler)


def drive(port: int, tokens: dict, think: float, lockstep: bool = False, pids: list[int] = ()
          ) -> tuple[Recorder, dict, float]:
    """SECONDS of measurement, after a ramp of one round (4 x think) while the clients start one by one. The CPU
    time the server processes `pids` used over the whole run, per request sent, is counts["server_cpu_ms"]."""
    from tests.bench.http_step import cpu_seconds

    ramp = 4 * think
    rec = Recorder(since=time.perf_counter() + ramp)
    counts: dict[str, int] = defaultdict(int)
    until = time.monotonic() + ramp + SECONDS
    threads = [threading.Thread(target=client_loop, args=(rec, port, tokens, until, counts, think, lockstep))
               for _ in range(CLIENTS)]
    cpu0 = cpu_seconds(pids)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts["server_cpu_ms"] = (cpu_seconds(pids) - cpu0) * 1000 / max(rec.sent, 1)
    return rec, counts, SECONDS  # the window the requests were sent in (the last answers may come just after)


def report(title: str, rec: Recorder, counts: dict, elapsed: float, judged: bool, *, closed_loop: bool = True,
           why_not_judged: str = "saturation test: latency here is queueing") -> None:
    from tests.bench.verdict import judge_flag

    everything = [x for samples in rec.latency.values() for x in samples]
    errors = sum(len(e) for e in rec.errors.values())
    print(f"  {title}")
    print(f"    {len(everything):,} requests, {len(everything) / elapsed:.0f} requests/s; "
          f"{counts['petitions']:,} petitions registered and triaged ({counts['petitions'] / elapsed:.1f}/s); "
          f"errors {errors}")
    print(f"    {'request':<42} {'n':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for kind, samples in sorted(rec.latency.items()):
        print(f"    {kind:<42} {len(samples):>7} {percentile(samples, 50):>8.1f} {percentile(samples, 95):>8.1f} "
              f"{percentile(samples, 99):>8.1f}")
    if everything:
        print(f"    {'all':<42} {len(everything):>7} {percentile(everything, 50):>8.1f} "
              f"{percentile(everything, 95):>8.1f} {percentile(everything, 99):>8.1f}")
    for kind, messages in rec.errors.items():
        print(f"    errors in {kind.split()[0]}: {len(messages)}, e.g. {messages[0]}")
    if counts.get("server_cpu_ms"):
        print(f"    server CPU time (gunicorn workers, read from their processes): {counts['server_cpu_ms']:.1f} ms "
              f"per request of the mix ({rec.sent:,} requests, ramp included)")
    p95 = percentile(everything, 95) if everything else float("inf")
    if not judged:
        verdict = f"not judged on this model ({why_not_judged})"
    elif CLIENTS < 50:
        verdict = f"not judged (stated for 50 clients, this run had {CLIENTS})"
    else:
        verdict = "met" if errors == 0 and p95 < 100 else "NOT met"
        judge_flag(f"load, office model, {CLIENTS} clients in another process: zero errors and p95 < 100 ms",
                   errors == 0 and p95 < 100, f"{errors} errors, p95 {p95:.1f} ms", "0 errors, p95 < 100 ms")
    line = f"    goal (zero errors, p95 < 100 ms at 50 clients): {verdict}"
    if everything and not judged and closed_loop:  # each client waits about CLIENTS / throughput per request
        line += (f"; mean time in the system {CLIENTS / (len(everything) / elapsed) * 1000:.0f} ms per request "
                 f"(clients / throughput); median of medians "
                 f"{statistics.median(statistics.median(s) for s in rec.latency.values()) * 1000:.1f} ms")
    print(line)


def run(url: str, tmp: Path) -> None:
    import signal

    from tests.reliability.processes import Gunicorn, process_env, start_worker

    tokens = prepare(url, tmp)
    env = process_env(url, tmp / "var")
    log = tmp / "workers.log"
    workers = [start_worker(env, "--poll", "1", "--name", f"timer-{i}", log_path=log) for i in range(2)]
    try:
        with Gunicorn(env, workers=WEB_WORKERS, threads=WEB_THREADS, log_path=tmp / "gunicorn.log") as server:
            warm = Recorder()  # each worker process imports and connects once before the clock starts
            for _ in range(WEB_WORKERS * 2):
                client_loop(warm, server.port, tokens, time.monotonic() + 0.01, defaultdict(int))
            pids = server.worker_pids()
            office = drive(server.port, tokens, THINK, pids=pids)
            saturation = drive(server.port, tokens, 0.0, pids=pids)
            lockstep = drive(server.port, tokens, THINK, lockstep=True, pids=pids) if LOCKSTEP else None
            recycled = set(server.worker_pids()) != set(pids)
        alive = sum(w.poll() is None for w in workers)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
            w.wait(10)
    print(f"Load: {CLIENTS} clients, {SECONDS:.0f} s per model, against gunicorn ({WEB_WORKERS} workers x "
          f"{WEB_THREADS} threads) on PostgreSQL, with 2 timer workers polling ({alive} still running at the end); "
          f"the clients are threads of this process, the server and the timer workers processes of their own"
          f"{'; a web worker was replaced during the run: its CPU time is missing' if recycled else ''}")
    report(f"office model (judged): each client pauses {THINK:g} s on average (exponentially distributed) before "
           f"every action", *office, judged=True)
    report("saturation model (a saturation test, not judged): closed loop without think time", *saturation,
           judged=False)
    if lockstep is not None:
        report(f"lock-step model (not judged): every client pauses exactly {THINK:g} s, all in the same phase",
               *lockstep, judged=False, closed_loop=False, why_not_judged="for comparison: no office acts in step")
    print()


def main() -> None:
    from tests.bench.timers import new_pg_database

    made = new_pg_database(PG_URL)
    if made is None:
        print("Load: skipped (no PostgreSQL server at LIANXIN_TEST_POSTGRES_URL)\n")
        return
    url, drop = made
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run(url, Path(tmp))
    finally:
        drop()


if __name__ == "__main__":
    main()
