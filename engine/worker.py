"""The timer worker: fires due timers through the runtime, exactly once, with several workers at once.

The unit of exclusivity is the case: a worker locks the case row (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on
SQLite `BEGIN IMMEDIATE` already admits one writer), fires everything of that case that is due, and commits the
timer rows with the case state in the same transaction. Cases with nothing due are never loaded: the candidates
come from the indexed `timer` table alone.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from .clock import Clock
from .runtime import Conflict, Runtime
from .store import Case, Incident, Timer

log = logging.getLogger("lianxin.worker")

BACKOFF_BASE = timedelta(seconds=30)
MAX_ATTEMPTS = 5


class Worker:
    def __init__(self, runtime: Runtime, session_factory: sessionmaker, clock: Clock, *, name: str | None = None,
                 batch: int = 200, max_attempts: int = MAX_ATTEMPTS):
        self.runtime = runtime
        self.session_factory = session_factory
        self.clock = clock
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.batch = batch
        self.max_attempts = max_attempts
        self._stop = threading.Event()

    def run_once(self, now: datetime | None = None) -> dict:
        """Fire what is due at `now` (default: the clock). Returns counts."""
        now = now or self.clock.now()
        fired = failed = skipped = 0
        while True:
            candidates = self._candidate_cases(now)
            if not candidates:
                break
            progress = 0
            for case_id in candidates:
                outcome = self._fire_case(case_id, now)
                if outcome == "fired":
                    fired += 1
                    progress += 1
                elif outcome == "failed":
                    failed += 1
                    progress += 1
                else:
                    skipped += 1
            if progress == 0:
                break
        return {"worker": self.name, "now": now.isoformat(), "cases_fired": fired, "failed": failed,
                "skipped": skipped}

    def run_forever(self, poll_seconds: float = 5.0) -> None:
        log.info("worker %s polling every %.1fs", self.name, poll_seconds)
        while not self._stop.is_set():
            try:
                result = self.run_once()
                if result["cases_fired"] or result["failed"]:
                    log.info("worker %s: %s", self.name, result)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:  # keep polling; the next round retries
                log.exception("worker %s: round failed", self.name)
            self._stop.wait(poll_seconds)

    def stop(self) -> None:
        self._stop.set()

    def _candidate_cases(self, now: datetime) -> list[int]:
        with self.runtime.read_sessions() as s:
            rows = s.execute(
                select(Timer.case_id).where(
                    Timer.status == "pending", Timer.due_at <= now,
                    (Timer.next_attempt_at.is_(None)) | (Timer.next_attempt_at <= now))
                .order_by(Timer.due_at).limit(self.batch)).all()
        seen: dict[int, None] = {}
        for r in rows:
            seen.setdefault(r.case_id, None)
        return list(seen)

    def _fire_case(self, case_id: int, now: datetime) -> str:
        with self.session_factory() as s:
            with s.begin():
                locked = s.scalar(select(Case.id).where(Case.id == case_id)
                                  .with_for_update(skip_locked=True))
                if locked is None:
                    return "skipped"  # another worker has this case
                try:
                    with s.begin_nested():
                        self.runtime.fire_timers(case_id, "timer", now=now, session=s)
                    return "fired"
                except Conflict:
                    return "skipped"  # nothing due any more: fired or cancelled by someone else
                except (KeyboardInterrupt, SystemExit):
                    raise  # the worker is being stopped: the case's transaction rolls back
                except BaseException as exc:  # not only Exception: one case must not stop the worker
                    log.exception("worker %s: case %s timer failed", self.name, case_id)
                    self._record_failure(s, case_id, now, exc)
                    return "failed"

    def _record_failure(self, s, case_id: int, now: datetime, exc: BaseException) -> None:
        due = s.scalars(select(Timer).where(Timer.case_id == case_id, Timer.status == "pending",
                                            Timer.due_at <= now)).all()
        for t in due:
            t.attempts += 1
            t.last_error = f"{exc.__class__.__name__}: {exc}"[:2000]
            if t.attempts >= self.max_attempts:
                # Never a silent loss: the case gets an incident an admin sees and retries after the fix.
                t.status = "failed"
                case = s.get(Case, case_id)
                case.status = "incident"
                s.add(Incident(case_id=case_id, task_id=t.task_id, element_id=t.element_id, kind="timer",
                               message=f"定时器 {t.label or t.element_id} 连续 {t.attempts} 次触发失败：{t.last_error}"
                                       f"（timer failed {t.attempts} times; fix the cause, then retry the incident）",
                               at=now))
            else:
                t.next_attempt_at = now + BACKOFF_BASE * (2 ** (t.attempts - 1))
