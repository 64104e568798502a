"""The timer worker that also delivers notifications and runs the auditors' verification runs: one process, one
loop, three jobs (and the composition root's `jobs`: the exchange with the upstream system, docs/exchange.md).

A round fires the timers that are due and then delivers the outbox at the same instant, so a notification asked
for by a timer's step goes out in the same round. A failing timer round does not hold up deliveries. Then, for a
few seconds at most, it verifies journals of a requested verification run (engine.verification_runs), so that
timers are never more than a few seconds late because of an audit.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from engine import verification_runs
from engine.worker import Worker
from infra.delivery import Deliverer

log = logging.getLogger("lianxin.worker")


class DeliveringWorker(Worker):
    def __init__(self, deliverer: Deliverer, *args, verify_seconds: float = 3.0,
                 jobs: Sequence[tuple[str, Callable[[], dict]]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.deliverer = deliverer
        self.verify_seconds = verify_seconds
        self.jobs = tuple(jobs)  # (name, job): run before the deliveries of each round, a failure logged only

    def _run_jobs(self) -> dict:
        done = {}
        for name, job in self.jobs:
            try:
                done[name] = job()
            except Exception:  # a failing job must never stop timers or deliveries: logged, tried next round
                log.exception("worker %s: job %s failed", self.name, name)
                done[name] = {"error": True}
        return done

    def run_once(self, now: datetime | None = None) -> dict:
        now = now or self.clock.now()
        try:
            result = super().run_once(now)
        finally:
            jobs = self._run_jobs()
            delivered = self.deliverer.run_once(now)
            if any(delivered[k] for k in ("sent", "failed", "dead", "interrupted")):
                log.info("worker %s notifications: %s", self.name, delivered)
        result["notifications"] = delivered
        if jobs:
            result["jobs"] = jobs
        try:
            verified = verification_runs.work(self.runtime, self.session_factory, self.clock.now, self.name,
                                              seconds=self.verify_seconds)
        except Exception:  # an audit must never stop timers: logged, tried again next round
            log.exception("worker %s: verification round failed", self.name)
            verified = {"run": None, "checked": 0, "error": True}
        if verified["checked"]:
            log.info("worker %s verification: %s", self.name, verified)
        result["verification"] = verified
        return result
