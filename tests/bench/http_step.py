"""One client over HTTP (`make bench`, part `http`; issue #21): a task completion sent to a real gunicorn process
against the same step run in this process, side by side, and the CPU time the server spends on each kind of request.

A gunicorn worker (BENCH_HTTP_THREADS threads, 4 as in the load test) serves PostgreSQL; one client in this process
registers a petition, reads it, completes its first task (分流研判) and lists the unit's tasks, one request at a time.
Every round a second petition is registered and read the same way and its first task is completed in this process
with `runtime.complete` on a container over the same database (the in-process step: lock, load, engine, work items,
timers, journal, save, commit; no HTTP, no authentication, no JSON, no response view). The two completions alternate,
so both see the same machine. Judged:

- HTTP completion p50 / in-process step p50 <= 1.5 (wall time, as the client sees it);
- the server's CPU time per completion request <= 7.5 ms (half the 15 ms measured in session 7). The CPU time is
  read from the worker process itself (/proc/<pid>/task/*/schedstat, nanoseconds, every thread of the worker)
  before and after each request, so it counts only what the server did for that request, whatever else runs on
  the machine.

Settings (environment): BENCH_HTTP_ROUNDS (100), BENCH_HTTP_THREADS (4)."""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.clock import SystemClock  # noqa: E402
from tests.bench.load import PETITION, PG_URL, percentile, prepare  # noqa: E402
from tests.bench.timers import new_pg_database  # noqa: E402
from tests.bench.verdict import judge  # noqa: E402
from tests.reliability.processes import Gunicorn, bearer, process_env, request  # noqa: E402
from tests.support.db import make_container  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_HTTP_ROUNDS", "100"))
THREADS = int(os.environ.get("BENCH_HTTP_THREADS", "4"))
RATIO_GOAL = 1.5  # HTTP completion p50 / in-process step p50, at most
CPU_GOAL_MS = 7.5  # server CPU per completion request, at most (session 7: about 15 ms)
TRIAGE = {"route": "交办转送", "triage_note": "属地办理"}
KINDS = ("register", "read", "complete", "list")


def cpu_seconds(pids: list[int]) -> float:
    """CPU time used so far by the processes `pids` (every thread), in seconds: the scheduler's nanosecond count
    where the kernel keeps it, else the clock-tick count of /proc/<pid>/stat."""
    total = 0.0
    for pid in pids:
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
            total += sum(int((t / "schedstat").read_text().split()[0]) for t in tasks) / 1e9
        except (OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class Client:
    """One client, one request at a time; each request's wall time and the server's CPU time for it, by kind."""

    def __init__(self, port: int, tokens: dict, pids: list[int]):
        self.port, self.pids = port, pids
        self.registrar, self.handler = bearer(tokens["registrar"]), bearer(tokens["handler"])
        self.wall: dict[str, list[float]] = {k: [] for k in KINDS}
        self.cpu: dict[str, list[float]] = {k: [] for k in KINDS}

    def call(self, kind: str, method: str, path: str, payload=None, headers=None, ok=(200, 201)):
        before = cpu_seconds(self.pids)
        t0 = time.perf_counter()
        status, body = request(self.port, method, path, payload, headers or self.registrar)
        self.wall[kind].append(time.perf_counter() - t0)
        self.cpu[kind].append(cpu_seconds(self.pids) - before)
        if status not in ok:
            raise AssertionError(f"{kind}: {status} {str(body)[:300]}")
        return body

    def open_task(self) -> tuple[int, int]:
        """A new petition, read back: (its first task, the case's version)."""
        made = self.call("register", "POST", "/api/cases", PETITION)
        case = self.call("read", "GET", f"/api/cases/{made['id']}")
        return case["tasks"][0]["id"], case["version"]

    def complete(self, task: int, version: int) -> None:
        self.call("complete", "POST", f"/api/tasks/{task}/complete", {"data": TRIAGE, "version": version})
        self.call("list", "GET", "/api/tasks?scope=unit&limit=20", headers=self.handler)


def in_process_step(c, task: int, version: int) -> tuple[float, float]:
    """The same completion as `runtime.complete` in this process: (wall, CPU) seconds."""
    w0, c0 = time.perf_counter(), time.process_time()
    c.runtime.complete(task, dict(TRIAGE), actor="registrar", expected_version=version)
    return time.perf_counter() - w0, time.process_time() - c0


def side_by_side(client: Client, c, rounds: int) -> dict[str, list[float]]:
    """`rounds` HTTP completions and `rounds` in-process steps, alternating which goes first."""
    steps: dict[str, list[float]] = {"wall": [], "cpu": []}
    for i in range(rounds):
        http_task, local_task = client.open_task(), client.open_task()
        if i % 2:
            client.complete(*http_task)
        wall, cpu = in_process_step(c, *local_task)
        steps["wall"].append(wall)
        steps["cpu"].append(cpu)
        if not i % 2:
            client.complete(*http_task)
    return steps


def measure(url: str, tmp: Path, rounds: int = ROUNDS) -> dict:
    tokens = prepare(url, tmp)
    c = make_container(url, SystemClock(), tmp)  # the server runs on the real clock too
    try:
        with Gunicorn(process_env(url, tmp / "var"), workers=1, threads=THREADS,
                      log_path=tmp / "gunicorn-http.log") as server:
            client = Client(server.port, tokens, server.worker_pids())
            side_by_side(client, c, 5)  # warm both: imports, connections, caches
            client = Client(server.port, tokens, server.worker_pids())
            steps = side_by_side(client, c, rounds)
    finally:
        c.engine.dispose()
    return {"rounds": rounds, "wall": client.wall, "cpu": client.cpu, "step": steps}


def ms(samples: list[float], how=statistics.median) -> float:
    return how(samples) * 1000


def report(r: dict) -> None:
    print(f"One client over HTTP: gunicorn (1 worker x {THREADS} threads) on PostgreSQL, {r['rounds']} rounds; "
          f"server CPU read from the worker process")
    print(f"    {'request':<10} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'server CPU ms (mean)':>21}")
    for kind in KINDS:
        wall, cpu = r["wall"][kind], r["cpu"][kind]
        print(f"    {kind:<10} {len(wall):>5} {percentile(wall, 50):>8.1f} {percentile(wall, 95):>8.1f} "
              f"{ms(cpu, statistics.mean):>21.2f}")
    step = r["step"]
    print(f"    in-process step (runtime.complete in this process): p50 {ms(step['wall']):.1f} ms, CPU "
          f"{ms(step['cpu'], statistics.mean):.2f} ms (mean); HTTP completion minus step: CPU "
          f"{ms(r['cpu']['complete'], statistics.mean) - ms(step['cpu'], statistics.mean):.2f} ms")
    judge("HTTP, one client: completion p50 / in-process step p50",
          ms(r["wall"]["complete"]) / ms(step["wall"]), RATIO_GOAL, ratio=True)
    judge("HTTP: server CPU per completion request (mean)", ms(r["cpu"]["complete"], statistics.mean), CPU_GOAL_MS,
          unit=" ms")
    print()


def main() -> None:
    made = new_pg_database(PG_URL)
    if made is None:
        print("HTTP: skipped (no PostgreSQL server at LIANXIN_TEST_POSTGRES_URL)\n")
        return
    url, drop = made
    try:
        with tempfile.TemporaryDirectory() as tmp:
            report(measure(url, Path(tmp)))
    finally:
        drop()


if __name__ == "__main__":
    main()
