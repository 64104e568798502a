"""The timer worker that also delivers notifications: one process, one loop, both jobs.

A round fires the timers that are due and then delivers the outbox at the same instant, so a notification asked
for by a timer's step goes out in the same round. A failing timer round does not hold up deliveries.
"""
from __future__ import annotations

import logging
from datetime import datetime

from .delivery import Deliverer
from .worker import Worker

log = logging.getLogger("lianxin.worker")


class DeliveringWorker(Worker):
    def __init__(self, deliverer: Deliverer, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.deliverer = deliverer

    def run_once(self, now: datetime | None = None) -> dict:
        now = now or self.clock.now()
        try:
            result = super().run_once(now)
        finally:
            delivered = self.deliverer.run_once(now)
            if any(delivered[k] for k in ("sent", "failed", "dead", "interrupted")):
                log.info("worker %s notifications: %s", self.name, delivered)
        result["notifications"] = delivered
        return result
