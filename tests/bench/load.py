"""Load (`make bench`, after the step timings): gunicorn workers on PostgreSQL plus two timer workers, and N
concurrent clients on loopback registering petitions and completing the first task of each, for a bounded time.
Reports throughput, p50/p95/p99 latency per kind of request and errors. Goal: zero errors and p95 < 100 ms at
50 concurrent clients on this machine.

Settings (environment): BENCH_LOAD_CLIENTS (50), BENCH_LOAD_SECONDS (30), BENCH_WEB_WORKERS (4),
BENCH_WEB_THREADS (4). Clients use API tokens (as integrations do), one connection per request.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "50"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "30"))
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "4"))
WEB_THREADS = int(os.environ.get("BENCH_WEB_THREADS", "4"))
PG_URL = os.environ.get("LIANXIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

PETITION = {"channel": "来访", "title": "拖欠工资", "request": "请求支付拖欠的三个月工资", "category": "劳动社保",
            "location": "county_a", "facts": "某公司拖欠工资三个月，多次协商未果。",
            "petitioners": [{"name": "张三", "phone": "13800000000"}]}


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)

    def call(self, kind: str, port: int, method: str, path: str, payload=None, headers=None, ok=(200, 201)):
        from tests.reliability.processes import request

        t0 = time.perf_counter()
        try:
            status, body = request(port, method, path, payload, headers)
        except OSError as exc:
            status, body = 0, {"error": repr(exc)}
        elapsed = time.perf_counter() - t0
        with self.lock:
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

    from engine.accounts import User, create_token
    from engine.clock import SettableClock
    from engine.definitions import collect_files
    from services.organisation import load_organisation
    from tests.support.db import START, _migrate_and_seed, make_container

    _migrate_and_seed(url)
    c = make_container(url, SettableClock(START), tmp)
    c.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="bench")
    tokens = {}
    with c.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    with c.session_factory() as s, s.begin():
        for name in ("registrar", "handler"):
            tokens[name] = create_token(s, s.scalar(select(User).where(User.username == name)), "bench", START)
    c.engine.dispose()
    return tokens


def client_loop(rec: Recorder, port: int, tokens: dict, until: float, counts: dict) -> None:
    from tests.reliability.processes import bearer

    registrar, handler = bearer(tokens["registrar"]), bearer(tokens["handler"])
    while time.monotonic() < until:
        status, made = rec.call("register  POST /api/cases", port, "POST", "/api/cases", PETITION, registrar)
        if status != 201:
            continue
        status, case = rec.call("read      GET /api/cases/{id}", port, "GET", f"/api/cases/{made['id']}",
                                headers=registrar)
        if status != 200 or not case.get("tasks"):
            continue
        task = case["tasks"][0]
        status, _ = rec.call("complete  POST /api/tasks/{id}/complete", port, "POST",
                             f"/api/tasks/{task['id']}/complete",
                             {"data": {"route": "交办转送", "triage_note": "属地办理"}, "version": case["version"]},
                             registrar)
        rec.call("list      GET /api/tasks", port, "GET", "/api/tasks?scope=unit&limit=20", headers=handler)
        with rec.lock:
            counts["petitions"] += 1
            counts["completed"] += status == 200


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
            rec = Recorder()
            counts: dict[str, int] = defaultdict(int)
            until = time.monotonic() + SECONDS
            started = time.perf_counter()
            threads = [threading.Thread(target=client_loop, args=(rec, server.port, tokens, until, counts))
                       for _ in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        alive = sum(w.poll() is None for w in workers)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
            w.wait(10)
    everything = [x for samples in rec.latency.values() for x in samples]
    errors = sum(len(e) for e in rec.errors.values())
    print(f"Load: {CLIENTS} clients for {elapsed:.0f} s against gunicorn ({WEB_WORKERS} workers x {WEB_THREADS} "
          f"threads) on PostgreSQL, with 2 timer workers polling ({alive} still running at the end)")
    print(f"  {len(everything):,} requests, {len(everything) / elapsed:.0f} requests/s; "
          f"{counts['petitions']:,} petitions registered and triaged ({counts['petitions'] / elapsed:.1f}/s); "
          f"errors {errors}")
    print(f"  {'request':<42} {'n':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for kind, samples in sorted(rec.latency.items()):
        print(f"  {kind:<42} {len(samples):>7} {percentile(samples, 50):>8.1f} {percentile(samples, 95):>8.1f} "
              f"{percentile(samples, 99):>8.1f}")
    print(f"  {'all':<42} {len(everything):>7} {percentile(everything, 50):>8.1f} "
          f"{percentile(everything, 95):>8.1f} {percentile(everything, 99):>8.1f}")
    for kind, messages in rec.errors.items():
        print(f"  errors in {kind.split()[0]}: {len(messages)}, e.g. {messages[0]}")
    p95 = percentile(everything, 95) if everything else float("inf")
    if CLIENTS < 50:
        verdict = f"not judged (stated for 50 clients, this run had {CLIENTS})"
    else:
        verdict = "met" if errors == 0 and p95 < 100 else "NOT met"
    # Closed loop, no think time: by Little's law each client waits about CLIENTS / throughput per request.
    print(f"  goal (zero errors, p95 < 100 ms at 50 clients): {verdict}; mean time in the system "
          f"{CLIENTS / (len(everything) / elapsed) * 1000:.0f} ms per request (clients / throughput); "
          f"median of medians {statistics.median(statistics.median(s) for s in rec.latency.values()) * 1000:.1f} ms\n")


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
