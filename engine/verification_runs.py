"""Verification runs: every case's journal checked (hash chain, seals, replay) in the background by the worker,
so that an auditor without a shell can check the whole database and watch the progress.

A run covers the cases that existed when it was asked for (ids up to `upto_case_id`). The worker takes a run for
a slice of time, verifies cases in id order in batches and commits, after each batch, the cursor, the counts and
the failures together: a worker killed mid-batch loses at most that batch, which the next worker verifies again.
Several workers never work on one run at once: the one that took it renews `heartbeat_at`; a run whose heartbeat
is older than `LEASE` is taken over (its worker died).
"""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Integer, String, Text, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base
from .store import ID, UTC_DT, Case

log = logging.getLogger("lianxin.verification")

LEASE = timedelta(seconds=60)
ACTIVE = ("queued", "running")
MAX_FAILURES_KEPT = 1000  # a run over a badly damaged database still ends; the count stays exact


class VerificationRun(Base):
    __tablename__ = "verification_run"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTC_DT)
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued, running, done
    upto_case_id: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(Integer)
    checked: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)  # the last case id verified
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    failures: Mapped[str] = mapped_column(Text, default="[]")  # [{case_id, seq, reason}]


class RunInProgress(Exception):
    def __init__(self, run: VerificationRun):
        super().__init__(f"run {run.id} is {run.status}")
        self.run = run


def request_run(s: Session, username: str, now: datetime) -> VerificationRun:
    """Queue a run over every case that exists now. One run at a time: raises RunInProgress with the active one.
    Two auditors asking at the same moment take turns (an advisory lock on PostgreSQL; SQLite's writer lock), so
    the second sees the first one's run."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(74659)"))
    active = s.scalar(select(VerificationRun).where(VerificationRun.status.in_(ACTIVE))
                      .order_by(VerificationRun.id).limit(1))
    if active is not None:
        raise RunInProgress(active)
    upto, total = s.execute(select(func.coalesce(func.max(Case.id), 0), func.count(Case.id))).one()
    run = VerificationRun(requested_by=username, requested_at=now, status="queued", upto_case_id=int(upto),
                          total=int(total), checked=0, failed=0, cursor=0, failures="[]")
    s.add(run)
    s.flush()
    return run


def as_dict(run: VerificationRun) -> dict:
    return {"id": run.id, "requested_by": run.requested_by, "requested_at": run.requested_at, "status": run.status,
            "total": run.total, "checked": run.checked, "failed": run.failed, "started_at": run.started_at,
            "finished_at": run.finished_at, "failures": json.loads(run.failures or "[]")}


def work(runtime, session_factory, now_fn, worker: str, *, seconds: float = 3.0, batch: int = 50) -> dict:
    """Verify cases of the oldest active run, one batch at least, more while `seconds` last. Returns what was done
    (for the worker's log)."""
    deadline = time.monotonic() + seconds
    run_id = _take(session_factory, now_fn(), worker)
    if run_id is None:
        return {"run": None, "checked": 0}
    checked = 0
    while True:
        with session_factory() as s:
            run = s.get(VerificationRun, run_id)
            cursor, upto = run.cursor, run.upto_case_id
            ids = list(s.scalars(select(Case.id).where(Case.id > cursor, Case.id <= upto)
                                 .order_by(Case.id).limit(batch)))
        problems = []
        for case_id in ids:
            try:
                result = runtime.verify(case_id)
            except DBAPIError:
                raise  # the database went away: the batch is tried again next round
            except Exception as exc:  # noqa: BLE001 - one case that cannot even be checked must not stop the run
                log.exception("verification run %s: case %s could not be checked", run_id, case_id)
                problems.append({"case_id": case_id, "seq": None,
                                 "reason": f"无法校验（could not be checked）：{exc.__class__.__name__}: {exc}"[:500]})
                continue
            if not result.ok:
                problems.append({"case_id": case_id, "seq": result.first_bad_seq, "reason": result.reason})
        done = _record(session_factory, run_id, worker, ids, problems, now_fn())
        checked += len(ids)
        if done or time.monotonic() >= deadline:
            break
    return {"run": run_id, "checked": checked}


def _take(session_factory, now: datetime, worker: str) -> int | None:
    """The oldest active run this worker may work on now (queued, its own, or one whose worker went silent)."""
    with session_factory() as s, s.begin():
        run = s.scalar(select(VerificationRun).where(VerificationRun.status.in_(ACTIVE))
                       .order_by(VerificationRun.id).limit(1).with_for_update(skip_locked=True))
        if run is None:
            return None
        if run.status == "running" and run.worker != worker and run.heartbeat_at is not None \
                and now - run.heartbeat_at < LEASE:
            return None  # another worker is on it
        if run.status == "running" and run.worker != worker:
            log.warning("verification run %s: taking over from %s (silent since %s)", run.id, run.worker,
                        run.heartbeat_at)
        run.status, run.worker, run.heartbeat_at = "running", worker, now
        run.started_at = run.started_at or now
        return run.id


def _record(session_factory, run_id: int, worker: str, ids: list[int], problems: list[dict], now: datetime) -> bool:
    """Move the cursor past `ids` with their failures, in one transaction; True when the run is finished."""
    with session_factory() as s, s.begin():
        run = s.get(VerificationRun, run_id, with_for_update=True)
        if run.worker != worker or run.status != "running":
            return True  # taken over meanwhile: the other worker goes on from the committed cursor
        if ids:
            run.cursor = ids[-1]
            run.checked += len(ids)
            run.failed += len(problems)
            kept = json.loads(run.failures or "[]")
            kept.extend(problems[:max(0, MAX_FAILURES_KEPT - len(kept))])
            run.failures = json.dumps(kept, ensure_ascii=False)
        run.heartbeat_at = now
        finished = not ids or s.scalar(select(func.count(Case.id)).where(
            Case.id > run.cursor, Case.id <= run.upto_case_id)) == 0
        if finished:
            run.status, run.finished_at = "done", now
            run.total = run.checked  # cases removed meanwhile (none are, but the figure must add up)
            log.info("verification run %s done: %s cases, %s failed", run.id, run.checked, run.failed)
        return finished

