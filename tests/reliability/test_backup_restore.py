"""Backups and their restore (docs/operations.md, 部署与运维): `lianxin backup` then `lianxin restore` into a new database,
on PostgreSQL (pg_dump/pg_restore) and SQLite (online backup API); every journal verifies after the restore."""
from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text, update

from engine.definitions import collect_files
from engine.store import Case, JournalEvent
from engine.worker import Worker
from infra.db import make_engine
from tests.support.db import make_container

from .processes import process_env

ROOT = Path(__file__).resolve().parents[2]


def some_cases(c, clock) -> list[int]:
    """Cases at different points: waiting on a task, one step done, a timer fired."""
    rt = c.runtime
    ids = [rt.start("simple_case", {"category": "劳动社保", "location": "county_a", "title": f"第{i}件"},
                    "registrar").id for i in range(4)]
    [task] = rt.get_case(ids[0]).tasks
    rt.complete(task.id, {"signed": True}, "handler")
    clock.advance(timedelta(days=10))
    Worker(rt, c.session_factory, clock).run_once()
    return ids


def cli(url: str, tmp: Path, *args: str):
    from web.cli.main import main

    return CliRunner().invoke(main, list(args), env=process_env(url, tmp / "var"), catch_exceptions=False)


def snapshot(url: str) -> dict:
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {"cases": conn.execute(select(Case.id, Case.status, Case.version).order_by(Case.id)).all(),
               "journal": conn.execute(select(JournalEvent.case_id, JournalEvent.seq, JournalEvent.hash)
                                       .order_by(JournalEvent.case_id, JournalEvent.seq)).all()}
    engine.dispose()
    return out


@pytest.fixture
def empty_postgres(postgres_url):
    admin = make_engine(postgres_url.rsplit("/", 1)[0] + "/postgres").execution_options(isolation_level="AUTOCOMMIT")
    name = f"lianxin_restore_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield postgres_url.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
def test_postgres_backup_restores_into_a_new_database_and_every_journal_verifies(pg_office, clock, tmp_path,
                                                                                empty_postgres):
    ids = some_cases(pg_office.c, clock)
    dump = tmp_path / "backup" / "lianxin.dump"
    r = cli(pg_office.url, tmp_path, "backup", str(dump))
    assert r.exit_code == 0, r.output
    assert dump.read_bytes().startswith(b"PGDMP") and "已备份" in r.output

    r = cli(empty_postgres, tmp_path, "restore", str(dump))
    assert r.exit_code == 0, r.output
    assert f"{len(ids)}/{len(ids)} 个案件日志校验通过" in r.output
    assert snapshot(empty_postgres) == snapshot(pg_office.url)
    restored = make_container(empty_postgres, clock, tmp_path / "restored")
    try:
        assert all(restored.runtime.verify(i).ok for i in ids)
        assert restored.runtime.get_case(ids[0]).to_dict()["data"] == pg_office.c.runtime.get_case(ids[0]).data
    finally:
        restored.engine.dispose()

    r = cli(empty_postgres, tmp_path, "restore", str(dump))  # a database holding cases is not overwritten
    assert r.exit_code != 0 and "--replace" in r.output
    r = cli(empty_postgres, tmp_path, "restore", "--replace", str(dump))
    assert r.exit_code == 0, r.output
    assert snapshot(empty_postgres) == snapshot(pg_office.url)


def test_sqlite_backup_restores_and_a_tampered_journal_is_reported(sqlite_url, clock, tmp_path):
    c = make_container(sqlite_url, clock, tmp_path)
    c.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    ids = some_cases(c, clock)
    backup = tmp_path / "lianxin-backup.db"
    r = cli(sqlite_url, tmp_path, "backup", str(backup))
    assert r.exit_code == 0, r.output
    target = f"sqlite:///{tmp_path / 'restored' / 'lianxin.db'}"
    r = cli(target, tmp_path, "restore", str(backup))
    assert r.exit_code == 0, r.output
    assert f"{len(ids)}/{len(ids)} 个案件日志校验通过" in r.output
    assert snapshot(target) == snapshot(sqlite_url)

    r = cli(target, tmp_path, "restore", str(backup))
    assert r.exit_code != 0 and "--replace" in r.output  # the target holds cases now: refused, nothing changed

    with c.session_factory() as s, s.begin():  # someone edits a step behind the engine's back
        s.execute(update(JournalEvent).where(JournalEvent.case_id == ids[1], JournalEvent.seq == 1)
                  .values(actor="somebody_else"))
    c.engine.dispose()
    r = cli(sqlite_url, tmp_path, "backup", str(backup))
    assert r.exit_code == 0
    r = cli(target, tmp_path, "restore", "--replace", str(backup))
    assert r.exit_code == 1
    assert f"案件 {ids[1]}: 第 1 号事件起校验失败" in r.output
    assert f"{len(ids) - 1}/{len(ids)}" in r.output

    dump = tmp_path / "not-sqlite.dump"
    dump.write_bytes(b"PGDMP fake")
    r = cli(target, tmp_path, "restore", "--replace", str(dump))
    assert r.exit_code != 0 and "SQLite" in r.output
