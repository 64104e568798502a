"""Real processes for the reliability tests: gunicorn serving `web.wsgi:app` and `lianxin worker`, started as
subprocesses on a fresh PostgreSQL database, plus a small JSON client that needs no third-party library."""
from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.db import TEST_MASTER_KEY

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def process_env(database_url: str, var_dir: Path, **extra: str) -> dict:
    """The environment of a gunicorn or worker process. Its secret key and master key are the test containers'
    (tests.support.db.make_container), so journals sealed by the processes verify in the test and back, and the
    parties they seal open in the test."""
    env = dict(os.environ)
    env.update(LIANXIN_DATABASE_URL=database_url, LIANXIN_VAR_DIR=str(var_dir), LIANXIN_SECRET_KEY="test-secret",
               LIANXIN_MASTER_KEY=TEST_MASTER_KEY, LIANXIN_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000", PYTHONUNBUFFERED="1",
               LIANXIN_DEMO="1")  # the demo users sign in as in `make run` (web/signin.py)
    env.pop("LIANXIN_SMTP_URL", None)
    env.pop("LIANXIN_SMS_GATEWAY_URL", None)
    env.update(extra)
    return env


def _wait_for(predicate, what: str, timeout: float = 30.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"gave up waiting for {what}")


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


@dataclass
class Gunicorn:
    """`gunicorn web.wsgi:app` with the deployment sample's settings (docs/deploy/gunicorn.conf.py) on a free
    loopback port (gunicorn binds port 0 and logs the port it got)."""
    env: dict
    workers: int = 4
    threads: int = 1
    log_path: Path | None = None
    proc: subprocess.Popen | None = None
    port: int = 0
    extra_args: list[str] = field(default_factory=list)

    def start(self) -> Gunicorn:
        assert self.log_path is not None
        self._log = open(self.log_path, "w")  # noqa: SIM115 (the server writes to it until stop())
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(ROOT / "docs" / "deploy" / "gunicorn.conf.py"),
             "-w", str(self.workers), "--threads", str(self.threads), "-b", "127.0.0.1:0",
             "--graceful-timeout", "5", *self.extra_args, "web.wsgi:app"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited: {self.log_path.read_text()[-3000:]}")
            m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", self.log_path.read_text())
            return int(m.group(1)) if m else None

        try:
            self.port = _wait_for(listening, "gunicorn to listen")
            _wait_for(lambda: len(self.worker_pids()) == self.workers and self._answers(), "gunicorn workers")
        except BaseException:
            self.stop()  # `with` does not call __exit__ when __enter__ fails: no server is left running
            raise
        return self

    def _answers(self) -> bool:
        try:
            return request(self.port, "GET", "/api/clock")[0] == 200
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        return children_of(self.proc.pid)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def lianxin(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "lianxin"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def start_worker(env: dict, *args: str, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "a")  # noqa: SIM115 (closed in `finally`; the child keeps its own copy)
    try:
        return subprocess.Popen([str(BIN / "lianxin"), "worker", *args], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    finally:
        log.close()


def request(port: int, method: str, path: str, payload=None, headers: dict | None = None,
            timeout: float = 60) -> tuple[int, dict | None]:
    """One HTTP request on its own connection; returns (status, JSON body or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        body = None
        hdrs = dict(headers or {})
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False).encode()
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return resp.status, data
    finally:
        conn.close()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
