"""Wiring of the exchange with the upstream petition information system (docs/exchange.md) from the settings,
shared by its area (web/exchange/: the signed push and the administrators' page), the CLI (`lianxin exchange`)
and the worker, which polls `LIANXIN_EXCHANGE_DIR` (when set) and queues the reports each round."""
from __future__ import annotations

from pathlib import Path

from services import exchange
from services.index_key import IndexKey


def index_key(container) -> IndexKey:
    """The key of the repeat index and query codes, from the deployment's secret key (as at the desk)."""
    return IndexKey.from_secret_key(container.settings.secret_key, container.settings.crypto_suite)


def poll(container, directory: Path) -> dict:
    return exchange.poll_folder(container, Path(directory), index_key(container)).as_json()


def worker_jobs(container) -> list:
    """The worker's exchange job: the watched folder (if configured), then the reports of status changes."""

    def job() -> dict:
        done: dict = {}
        folder = container.settings.exchange_dir
        if folder and Path(folder).is_dir():
            found = poll(container, Path(folder))
            done = {k: len(v) for k, v in found.items()}
        done["reports_queued"] = exchange.queue_reports(container)
        return done

    return [("exchange", job)]
