"""Connecting to the database: the engine (SQLite or PostgreSQL) and the session factories.

The tables themselves are declared on `engine.db.Base` (one metadata for all); this module only opens
connections, with the SQLite settings every unit of work relies on (WAL, foreign keys, BEGIN IMMEDIATE).
"""
from __future__ import annotations

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Let SQLAlchemy issue BEGIN itself, so that BEGIN IMMEDIATE below takes the write lock
            # at the start of a unit of work instead of failing half-way with "database is locked".
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Reads (see make_read_session_factory) take no write lock, so they never wait behind a command.
            if conn.get_execution_options().get("lianxin_read"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # No pre-ping: it costs a round trip per unit of work; stale connections are recycled instead.
    return create_engine(url, pool_recycle=1800, pool_size=10, max_overflow=20)


def make_session_factory(engine: Engine, info: dict | None = None) -> sessionmaker:
    """`info`: what every session of the factory carries (the journal's sealer, see engine.journal)."""
    return sessionmaker(bind=engine, expire_on_commit=False, info=dict(info or {}))


def make_read_session_factory(engine: Engine) -> sessionmaker:
    """Sessions for queries only. On SQLite they start a deferred transaction instead of BEGIN IMMEDIATE."""
    return sessionmaker(bind=engine.execution_options(lianxin_read=True), expire_on_commit=False)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
