"""`lianxin backup FILE` and `lianxin restore FILE`: a consistent copy of the whole database and its way back.

PostgreSQL: `pg_dump --format=custom` (a consistent snapshot while web and worker processes keep running) and
`pg_restore`; the connection comes from LIANXIN_DATABASE_URL and the password travels in the environment, never
on a command line. SQLite: the online backup API of the `sqlite3` module (safe while the app is writing; WAL
included). A restore refuses to overwrite a database that already holds data unless told `--replace`, then checks
the schema revision and verifies every case's journal (hash chain and replay) before it reports success.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import click
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import make_url

from . import common

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


def _pg_env(url: str) -> dict:
    u = make_url(url)
    env = dict(os.environ)
    for var, value in (("PGHOST", u.host), ("PGPORT", u.port), ("PGUSER", u.username),
                       ("PGPASSWORD", u.password), ("PGDATABASE", u.database)):
        if value is not None:
            env[var] = str(value)
    return env


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise click.ClickException("内存数据库无法备份（an in-memory database cannot be backed up）")
    return Path(database)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise click.ClickException(f"找不到 {name}，请安装 PostgreSQL 客户端工具（{name} not found: install the "
                                   f"PostgreSQL client tools of the server's major version）")
    return found


def _run(args: list[str], env: dict) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise click.ClickException(f"{Path(args[0]).name} 失败（failed）：{done.stderr.strip()[-2000:]}")


def backup_database(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    if make_url(url).get_backend_name() == "postgresql":
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(partial)],
             _pg_env(url))
    else:
        _copy_sqlite(str(_sqlite_path(url)), partial)
    partial.replace(target)  # a half-written backup never carries the final name


def _copy_sqlite(source: str, target: Path, *, uri: bool = False) -> None:
    """SQLite's online backup of `source` (a path, or a `file:` URI with `uri`) into `target`."""
    src = sqlite3.connect(source, uri=uri)
    try:
        dest = sqlite3.connect(target)
        with dest:
            src.backup(dest)
        dest.close()
    finally:
        src.close()


def restore_database(url: str, source: Path, *, replace: bool) -> None:
    with open(source, "rb") as f:
        head = f.read(16)  # the kind of file, without reading a whole backup into memory
    postgres = make_url(url).get_backend_name() == "postgresql"
    if postgres and not head.startswith(PG_MAGIC):
        raise click.ClickException("这不是 pg_dump 备份文件（not a pg_dump custom-format backup; the configured "
                                   "database is PostgreSQL）")
    if not postgres and head != SQLITE_MAGIC:
        raise click.ClickException("这不是 SQLite 备份文件（not an SQLite backup; the configured database is SQLite）")
    if postgres:
        args = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        if replace:
            args += ["--clean", "--if-exists"]
        env = _pg_env(url)
        _run(args + ["--dbname", env["PGDATABASE"], str(source)], env)
        return
    path = _sqlite_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    _copy_sqlite(f"file:{source}?mode=ro", path, uri=True)


def holds_data(engine) -> bool:
    from engine.store import Case

    if "case_instance" not in inspect(engine).get_table_names():
        return False
    with engine.connect() as conn:
        return bool(conn.execute(select(func.count()).select_from(Case.__table__)).scalar())


@click.command()
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def backup(target: Path) -> None:
    """Write a consistent copy of the database to TARGET (pg_dump custom format, or an SQLite file)."""
    from ..bootstrap import bootstrap

    c = bootstrap()
    c.engine.dispose()  # pg_dump and the sqlite3 module open their own connections
    backup_database(c.settings.database_url, target)
    click.echo(f"已备份到 {target}（{target.stat().st_size} 字节）（backup written）")


@click.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="overwrite a database that already holds cases")
def restore(source: Path, replace: bool) -> None:
    """Restore a backup into the configured database, then verify every journal."""
    from ..bootstrap import bootstrap

    c = bootstrap()
    occupied = holds_data(c.engine)
    c.engine.dispose()
    if occupied and not replace:
        raise click.ClickException("目标数据库已有案件数据，未做任何更改；恢复到新建的空数据库，或加 --replace 覆盖"
                                   "（the database already holds cases: nothing changed; restore into a new empty "
                                   "database, or pass --replace）")
    restore_database(c.settings.database_url, source, replace=replace)
    c = bootstrap()
    try:
        common.require_current_schema(c)
        from engine.store import Case

        with c.session_factory() as s:
            case_ids = list(s.scalars(select(Case.id).order_by(Case.id)))
        bad = [(case_id, r) for case_id in case_ids if not (r := c.runtime.verify(case_id)).ok]
    finally:
        c.engine.dispose()
    for case_id, r in bad:
        click.echo(f"案件 {case_id}: 第 {r.first_bad_seq} 号事件起校验失败：{r.reason}", err=True)
    click.echo(f"已恢复 {source}：{len(case_ids) - len(bad)}/{len(case_ids)} 个案件日志校验通过"
               f"（restored; journals verified）")
    sys.exit(1 if bad else 0)
