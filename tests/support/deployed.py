"""The standard deployment, recorded once per test process and put back instead of deploying again.

Deploying processes/ runs every smoke simulation (1.5-3 s); the features and the office apps of the integration
tests each deploy the same bundle onto the same freshly migrated database. `once(engine, key, run)` runs `run`
(the real deployment, through the API or the runtime) the first time, then records what the database holds
(SQLite: a copy made with the online backup API; PostgreSQL: every table with rows, as binary COPY, and the id
sequences). Later calls with the same key put that recording back instead of running `run` again, but only when
the database is in the state the recording started from (same row count in every table, same sequence values,
part of the key): otherwise `run` runs as usual, and its result is recorded for that state. What `run` checks (an HTTP 201, say) is checked by the first call of each key,
and a deployment that fails records nothing, so every later call fails the same way.

The key says what the result depends on besides the database: the caller's own parts (actor, comment, the
clock's instant) and `container_key(container)` (the processes folder's content, the settings but the per-test
paths, the handlers). In-memory caches of the runtime are not part of the recording: they fill on first use.
See docs/testing.md (测试用时).
"""
from __future__ import annotations

import atexit
import dataclasses
import hashlib
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from engine.db import Base

# Seeded once by the template and left alone by a deployment (tests/support/db.py truncates around them).
KEEP_TABLES = {"alembic_version", "calendar_day", "calendar_year"}
_TMP: Path | None = None


@dataclass
class _Recording:
    before: tuple  # the database's fingerprint when `run` started
    sqlite_file: Path | None = None
    tables: list[tuple[str, bytes]] = dataclasses.field(default_factory=list)  # PostgreSQL: (table, COPY data)
    sequences: list[tuple[str, int | None]] = dataclasses.field(default_factory=list)


_RECORDINGS: dict[tuple, _Recording] = {}
STATS = {"recorded": 0, "restored": 0}  # how often each happened in this process


def _digest_dir(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(Path(path).rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(path)).encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def container_key(container) -> tuple:
    """What of a container a deployment's result depends on: processes folder content, settings, handlers."""
    settings = container.settings
    values = tuple((f.name, repr(getattr(settings, f.name))) for f in dataclasses.fields(settings)
                   if f.name not in ("database_url", "var_dir", "processes_dir"))
    registry = container.runtime.handlers
    handlers = tuple(sorted(_function_key(name, registry.get(name).fn) for name in registry.names()))
    return (_digest_dir(settings.processes_dir), values, handlers, container.engine.dialect.name)


def _function_key(name: str, fn) -> tuple:
    qualname = getattr(fn, "__qualname__", "")
    if not qualname or "<locals>" in qualname or "<lambda>" in qualname:
        return (name, "instance", id(fn))  # a closure or an object: its state may differ, so no sharing
    return (name, getattr(fn, "__module__", ""), qualname)


def _tables(conn) -> list[str]:
    """Every table a deployment may write, parents before children (the models' order, then any other)."""
    present = set(inspect(conn).get_table_names())
    ordered = [t.name for t in Base.metadata.sorted_tables if t.name in present]
    return [t for t in ordered + sorted(present - set(ordered)) if t not in KEEP_TABLES]


def _sequences(conn) -> list[tuple[str, int | None]]:
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text("SELECT sequencename, last_value FROM pg_sequences "
                                 "WHERE schemaname = current_schema() ORDER BY sequencename"))
    else:
        if not conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first():
            return []
        rows = conn.execute(text("SELECT name, seq FROM sqlite_sequence ORDER BY name"))
    return [(r[0], r[1]) for r in rows]


def _fingerprint(engine: Engine) -> tuple:
    with engine.connect() as conn:
        names = sorted(inspect(conn).get_table_names())
        counts = conn.execute(text(" UNION ALL ".join(
            f"SELECT '{n}', COUNT(*) FROM \"{n}\"" for n in names))).all() if names else []
        return tuple(sorted((r[0], r[1]) for r in counts)), tuple(_sequences(conn))


def _tmp() -> Path:
    global _TMP
    if _TMP is None:
        _TMP = Path(tempfile.mkdtemp(prefix="lianxin-deployed-"))
        atexit.register(shutil.rmtree, _TMP, True)
    return _TMP


def _sqlite_copy(source: str, target: str) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _record(engine: Engine, before: tuple) -> _Recording:
    recording = _Recording(before)
    if engine.dialect.name == "sqlite":
        recording.sqlite_file = _tmp() / f"deployed-{len(_RECORDINGS)}.db"
        _sqlite_copy(engine.url.database, str(recording.sqlite_file))
        return recording
    with engine.connect() as conn:
        tables = _tables(conn)
        recording.sequences = _sequences(conn)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            for table in tables:
                cur.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")')
                if not cur.fetchone()[0]:
                    continue
                with cur.copy(f'COPY "{table}" TO STDOUT (FORMAT BINARY)') as copy:
                    recording.tables.append((table, b"".join(bytes(block) for block in copy)))
        raw.rollback()
    finally:
        raw.close()
    return recording


def _restore(engine: Engine, recording: _Recording) -> None:
    if recording.sqlite_file is not None:
        _sqlite_copy(str(recording.sqlite_file), engine.url.database)
        return
    with engine.connect() as conn:
        tables = _tables(conn)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
            for table, data in recording.tables:
                with cur.copy(f'COPY "{table}" FROM STDIN (FORMAT BINARY)') as copy:
                    copy.write(data)
            for name, value in recording.sequences:
                if value is None:
                    cur.execute("SELECT setval(%s, 1, false)", (name,))
                else:
                    cur.execute("SELECT setval(%s, %s, true)", (name, value))
        raw.commit()
    finally:
        raw.close()


def once(engine: Engine, key: tuple, run: Callable[[], object]) -> None:
    """Run `run` (a deployment) or put back what it left the first time it ran from this same state."""
    before = _fingerprint(engine)
    key = (engine.dialect.name, str(engine.url) if engine.dialect.name != "sqlite" else "", *key, before)
    recording = _RECORDINGS.get(key)
    if recording is not None:
        _restore(engine, recording)
        STATS["restored"] += 1
        return
    run()
    _RECORDINGS[key] = _record(engine, before)
    STATS["recorded"] += 1
