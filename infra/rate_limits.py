"""Rate-limit counters in our own database, for the `limits` library (which Flask-Limiter uses) when no Redis is
configured: the `rate_limit_counter` table, shared by every web process that uses the same database.

`limits` keeps a fixed window as a counter with an expiry; `incr` starts a fresh window when the stored one has
run out. Each `incr` is one upsert statement (INSERT ... ON CONFLICT DO UPDATE ... RETURNING, on SQLite and on
PostgreSQL), so two processes counting at the same moment never lose a hit. Time comes from the `clock` given
(seconds since the epoch), so tests move the container's clock instead of sleeping.

Keys are made by the web layer from digests, never from usernames, case numbers or addresses in clear.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import ClassVar

from limits.storage import Storage
from sqlalchemy import Float, Integer, String, case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base

log = logging.getLogger("lianxin.rate_limits")
SCHEME = "lianxin-db"
MAX_KEY = 200


class RateLimitCounter(Base):
    __tablename__ = "rate_limit_counter"
    key: Mapped[str] = mapped_column(String(MAX_KEY), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # seconds since the epoch


def _stored_key(key: str) -> str:
    if len(key) <= MAX_KEY:
        return key
    return key[:MAX_KEY - 65] + "~" + hashlib.sha256(key.encode("utf-8")).hexdigest()


class DatabaseStorage(Storage):
    """`limits` storage on our database: `lianxin-db://` with the options `engine` and `clock`."""

    STORAGE_SCHEME: ClassVar[list[str]] = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, *, engine: Engine,
                 clock: Callable[[], float] = time.time, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.engine = engine
        self.clock = clock
        self._table = RateLimitCounter.__table__

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now, t = self.clock(), self._table
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        ran_out = t.c.expires_at <= now
        stmt = insert(t).values(key=_stored_key(key), hits=amount, expires_at=now + expiry)
        stmt = stmt.on_conflict_do_update(index_elements=[t.c.key], set_={
            "hits": case((ran_out, amount), else_=t.c.hits + amount),
            "expires_at": case((ran_out, now + expiry), else_=t.c.expires_at),
        }).returning(t.c.hits)
        with self.engine.begin() as conn:
            hits = conn.execute(stmt).scalar_one()
        if hits == amount:  # a new window began: a good moment to drop the windows that ran out long ago
            self._sweep(now)
        return int(hits)

    def _sweep(self, now: float) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(self._table).where(self._table.c.expires_at < now - 3600))
        except SQLAlchemyError as err:  # best effort: another process may be sweeping the same rows
            log.info("rate-limit sweep skipped: %s", err.__class__.__name__)

    def _live(self, key: str):
        t = self._table
        with self.engine.connect() as conn:
            conn.execution_options(lianxin_read=True)  # SQLite: a plain BEGIN, no write lock
            return conn.execute(select(t.c.hits, t.c.expires_at).where(
                t.c.key == _stored_key(key), t.c.expires_at > self.clock())).first()

    def get(self, key: str) -> int:
        row = self._live(key)
        return int(row.hits) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._live(key)
        return float(row.expires_at) if row else self.clock()

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execution_options(lianxin_read=True)
                conn.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return conn.execute(delete(self._table)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(self._table).where(self._table.c.key == _stored_key(key)))
