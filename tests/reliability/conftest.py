"""Fixtures for the reliability tests: a PostgreSQL office (processes deployed, demo organisation and users)
that subprocesses share through LIANXIN_DATABASE_URL, and API tokens for its users."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine.clock import SystemClock
from engine.definitions import collect_files
from infra.accounts import User, create_token
from infra.migrate import upgrade
from services.organisation import load_organisation
from tests.support.db import _truncate_postgres, make_container

from .processes import process_env

ROOT = Path(__file__).resolve().parents[2]


class PgOffice:
    def __init__(self, url: str, container, tmp_path: Path):
        self.url = url
        self.c = container
        self.tmp = tmp_path
        self._tokens: dict[str, str] = {}

    def env(self, **extra: str) -> dict:
        return process_env(self.url, self.tmp / "var", **extra)

    def token(self, username: str) -> str:
        if username not in self._tokens:
            with self.c.session_factory() as s, s.begin():
                user = s.scalar(select(User).where(User.username == username))
                # The subprocesses that present the token read the real clock, not the test's settable one (which
                # stands in March 2026): the token's lifetime counts from the real now.
                self._tokens[username] = create_token(s, user, "reliability", SystemClock().now())
        return self._tokens[username]


@pytest.fixture
def pg_office(postgres_url, clock, tmp_path):
    _truncate_postgres(postgres_url)
    c = make_container(postgres_url, clock, tmp_path)
    upgrade(c.engine)  # the subprocesses insist on the newest schema
    c.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    with c.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    yield PgOffice(postgres_url, c, tmp_path)
    c.engine.dispose()
