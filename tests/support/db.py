"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, a container with a settable clock.

PostgreSQL tests use `LIANXIN_TEST_POSTGRES_URL` (default postgresql://postgres@127.0.0.1:5432/postgres): a fresh
database is created for the test session and dropped afterwards. Where no server answers, those tests skip and
say why; CI has a server, so nothing skips there (see .ci/run, which sets LIANXIN_REQUIRE_POSTGRES=1).
"""
from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text

from engine.clock import SHANGHAI, SettableClock
from engine.db import Base
from engine.store import Case
from infra.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("LIANXIN_PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")  # tests only: cheap sign-ins
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"
START = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)  # a Monday, a working day
KEEP_TABLES = {"alembic_version", "calendar_day", "calendar_year"}


def _migrate_and_seed(url: str) -> None:
    from engine.calendar import seed_from_chinesecalendar
    from infra.db import make_session_factory
    from infra.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as s, s.begin():
        seed_from_chinesecalendar(s, at=START)
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate_and_seed(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url():
    base = os.environ.get("LIANXIN_TEST_POSTGRES_URL", PG_DEFAULT)
    admin_url = base if "+psycopg" in base else base.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # no server here: say so
        if os.environ.get("LIANXIN_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"PostgreSQL not reachable at {base} ({exc.__class__.__name__}); set LIANXIN_TEST_POSTGRES_URL")
    name = f"lianxin_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    _migrate_and_seed(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    """Empty every table but the seeded calendar; a year a test imported or changed is put back as seeded."""
    engine = make_engine(url)
    tables = [t.name for t in Base.metadata.sorted_tables if t.name not in KEEP_TABLES]
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        changed = conn.execute(text("SELECT year FROM calendar_year WHERE source <> 'chinesecalendar' "
                                    "OR version <> 1")).scalars().all()
        if changed:
            conn.execute(text("DELETE FROM calendar_day WHERE year = ANY(:y)"), {"y": list(changed)})
            conn.execute(text("DELETE FROM calendar_year WHERE year = ANY(:y)"), {"y": list(changed)})
    if changed:
        from engine.calendar import seed_from_chinesecalendar
        from infra.db import make_session_factory

        with make_session_factory(engine)() as s, s.begin():
            seed_from_chinesecalendar(s, years=[y for y in changed if 2004 <= y <= 2026], at=START)
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "lianxin.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    path = tmp_path / "lianxin.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(START)


# One office, one master key (like the secret key above): containers built over the same database open its parties.
TEST_MASTER_KEY = "dGVzdC1tYXN0ZXIta2V5IQ=="  # base64 of 16 bytes, tests only


def make_container(url: str, clock, tmp_path, handlers=None, **settings_overrides):
    from web.bootstrap import bootstrap
    from web.settings import Settings

    # Demo mode: the demo users sign in with `demo` and, privileged or not, without a second factor, as in
    # `make run` (web/signin.py); tests of the second factor and of demo accounts outside demo mode say demo=False.
    values = dict(database_url=url, var_dir=tmp_path / "var", secret_key="test-secret", allow_clock_control=True,
                  demo=True, master_key=TEST_MASTER_KEY)
    values.update(settings_overrides)
    settings = Settings.from_env(**values)
    return bootstrap(settings, clock=clock, handlers=handlers)


@pytest.fixture
def container(database_url, clock, tmp_path):
    c = make_container(database_url, clock, tmp_path)
    yield c
    c.engine.dispose()


@pytest.fixture
def sqlite_container(sqlite_url, clock, tmp_path):
    c = make_container(sqlite_url, clock, tmp_path)
    yield c
    c.engine.dispose()


def demo_office(sqlite_template: Path, tmp: Path):
    """A container on a copy of the migrated SQLite template with the demo office (organisation, users, cases)."""
    from engine.clock import SettableClock
    from web.setup import initialise

    shutil.copy(sqlite_template, tmp / "lianxin.db")
    # Its own copy of processes/: the tests that call every endpoint (the API fuzz, the access matrix) also call
    # the ones that write there (the designers' lane table) and must not change the shipped files.
    shutil.copytree(ROOT / "processes", tmp / "processes")
    c = make_container(f"sqlite:///{tmp / 'lianxin.db'}", SettableClock(START), tmp, processes_dir=tmp / "processes")
    initialise(c, demo=True)
    return c


def first_case_id(container) -> int:
    """The first case's id: not always 1, since on PostgreSQL a deploy's rolled-back smoke simulation uses ids."""
    with container.session_factory() as s:
        return s.scalar(select(func.min(Case.id)))


def statements_while(container, run) -> list[str]:
    """The SQL statements the container's engine told its `before_cursor_execute` listeners of while `run()` ran,
    whitespace folded."""
    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split()))

    event.listen(container.engine, "before_cursor_execute", note)
    try:
        run()
    finally:
        event.remove(container.engine, "before_cursor_execute", note)
    return seen
