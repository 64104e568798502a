"""The timer worker: fires due timers through the runtime, exactly once, with several workers at once.

A round claims a batch of due timers in one statement and one short transaction: on PostgreSQL
`UPDATE timer ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT batch) RETURNING case_id`, so two workers
never claim the same rows and never wait for each other; on SQLite `BEGIN IMMEDIATE` admits one writer, which
makes the same statement exclusive. A claim is a lease: the timer's `next_attempt_at` moves to `now + LEASE`, so
other workers pass it by until then, and the claims of a worker that died are taken over when the lease ends.

Then each claimed case is fired in its own short transaction. The unit of exclusivity is still the case: the
worker locks the case row (`FOR UPDATE SKIP LOCKED`), fires everything of that case that is due, and commits the
timer rows with the case state in the same transaction, so a timer fires once even when a lease ran out while
its worker was still busy. A case that someone else holds (a user's step, another worker) is skipped and its
claims are given back at the end of the batch. Cases with nothing due are never loaded: the candidates come from
the indexed `timer` table alone. There is no shared row that every firing updates, and no pause between batches
while timers are due.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from .clock import Clock
from .runtime import Conflict, Runtime
from .store import Case, Incident, Timer

log = logging.getLogger("lianxin.worker")

BACKOFF_BASE = timedelta(seconds=30)
MAX_ATTEMPTS = 5
# How long a worker's claim on a due timer holds. Firing a case takes milliseconds; a worker that died leaves its
# claims, and another worker fires them once the lease has ended.
LEASE = timedelta(minutes=2)


class Worker:
    def __init__(self, runtime: Runtime, session_factory: sessionmaker, clock: Clock, *, name: str | None = None,
                 batch: int = 50, max_attempts: int = MAX_ATTEMPTS, lease: timedelta = LEASE):
        self.runtime = runtime
        self.session_factory = session_factory
        self.clock = clock
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.batch = batch
        self.max_attempts = max_attempts
        self.lease = lease
        self._stop = threading.Event()

    def run_once(self, now: datetime | None = None) -> dict:
        """Fire what is due at `now` (default: the clock), batch after batch until nothing is left. Returns counts."""
        now = now or self.clock.now()
        counts: Counter[str] = Counter()
        while True:
            claimed = self._claim(now)
            if not claimed:
                break
            outcomes = {case_id: self._fire_case(case_id, now) for case_id in claimed}
            counts.update(outcomes.values())
            skipped = [case_id for case_id, outcome in outcomes.items() if outcome == "skipped"]
            if skipped:
                self._give_back(skipped, now)
            if len(skipped) == len(outcomes):
                break  # everything claimed is held by someone else: try again next round
        return {"worker": self.name, "now": now.isoformat(), "cases_fired": counts["fired"],
                "failed": counts["failed"], "skipped": counts["skipped"] + counts["done"]}

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

    def _claim(self, now: datetime) -> list[int]:
        """Claim up to `batch` due timers (one statement), oldest first; returns their cases, each once."""
        due = (select(Timer.id).where(
            Timer.status == "pending", Timer.due_at <= now,
            (Timer.next_attempt_at.is_(None)) | (Timer.next_attempt_at <= now))
            .order_by(Timer.due_at).limit(self.batch).with_for_update(skip_locked=True))
        with self.session_factory() as s, s.begin():
            rows = s.execute(update(Timer).where(Timer.id.in_(due.scalar_subquery()))
                             .values(next_attempt_at=now + self.lease).returning(Timer.case_id, Timer.due_at),
                             execution_options={"synchronize_session": False}).all()
        return list(dict.fromkeys(r.case_id for r in sorted(rows, key=lambda r: r.due_at)))

    def _give_back(self, case_ids: list[int], now: datetime) -> None:
        """End this worker's leases on the timers of cases it skipped, so that the next round takes them."""
        with self.session_factory() as s, s.begin():
            s.execute(update(Timer).where(Timer.case_id.in_(case_ids), Timer.status == "pending",
                                          Timer.next_attempt_at == now + self.lease).values(next_attempt_at=None),
                      execution_options={"synchronize_session": False})

    def _fire_case(self, case_id: int, now: datetime) -> str:
        with self.session_factory() as s:
            with s.begin():
                locked = s.scalar(select(Case.id).where(Case.id == case_id)
                                  .with_for_update(skip_locked=True))
                if locked is None:
                    return "skipped"  # another worker or a user's step has this case
                try:
                    with s.begin_nested():
                        self.runtime.fire_timers(case_id, "timer", now=now, session=s)
                    return "fired"
                except Conflict:
                    return "done"  # nothing due any more: fired or cancelled by someone else
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
