"""Where the rate limits count: in Redis when LIANXIN_REDIS_URL is set (a Redis server on 127.0.0.1:6379, keys
under a random prefix), else in the database's `rate_limit_counter` table, shared by every process on it
(a second process counts at the same moment and no hit is lost), on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from infra.db import make_engine
from infra.rate_limits import DatabaseStorage, RateLimitCounter
from tests.support.db import make_container
from tests.support.web import office_app

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("LIANXIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HITS = 60


def test_database_counters_are_shared_by_processes_counting_at_once(database_url):
    engine = make_engine(database_url)
    storage = DatabaseStorage(engine=engine, clock=lambda: 1_000_000.0)
    script = textwrap.dedent(f"""
        from infra.db import make_engine
        from infra.rate_limits import DatabaseStorage
        storage = DatabaseStorage(engine=make_engine({database_url!r}), clock=lambda: 1_000_000.0)
        print("ready", flush=True)
        for _ in range({HITS}):
            storage.incr("shared-key", 600)
    """)
    other = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert other.stdout.readline().strip() == "ready"
        for _ in range(HITS):
            storage.incr("shared-key", 600)
        assert other.wait(timeout=120) == 0
    finally:
        other.stdout.close()
    assert storage.get("shared-key") == 2 * HITS
    assert storage.get_expiry("shared-key") == 1_000_600.0
    later = DatabaseStorage(engine=engine, clock=lambda: 1_000_600.0)  # the window has run out
    assert later.get("shared-key") == 0
    assert later.incr("shared-key", 600) == 1 and later.get_expiry("shared-key") == 1_001_200.0
    later.clear("shared-key")
    assert later.get("shared-key") == 0 and later.check()
    engine.dispose()


@pytest.fixture
def redis_client():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # a Redis server is part of the test set-up: fail loudly when it is missing
    yield client
    client.close()


def test_counters_live_in_redis_when_a_redis_url_is_set(database_url, clock, tmp_path, redis_client):
    prefix = f"lianxin-test-{uuid.uuid4().hex[:12]}"
    c = make_container(database_url, clock, tmp_path, redis_url=REDIS_URL, rate_limit_prefix=prefix)
    try:
        app = office_app(c, deploy=False)
        client = app.test_client()
        for _ in range(c.settings.signin_failures_per_account):
            assert client.post("/api/session", json={"username": "handler", "password": "x"}).status_code == 401
        r = client.post("/api/session", json={"username": "handler", "password": "demo"})
        assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= c.settings.signin_window_minutes * 60
        keys = [k.decode() for k in redis_client.scan_iter(match=f"*{prefix}*")]
        assert len(keys) == 2 and all("signin-" in k for k in keys)  # per account and per address
        with c.session_factory() as s:
            assert s.scalar(select(func.count()).select_from(RateLimitCounter)) == 0
    finally:
        for key in redis_client.scan_iter(match=f"*{prefix}*"):
            redis_client.delete(key)
        c.engine.dispose()


def test_counters_live_in_the_database_without_a_redis_url(container):
    app = office_app(container, deploy=False)
    assert container.settings.redis_url is None
    r = app.test_client().post("/api/session", json={"username": "handler", "password": "x"})
    assert r.status_code == 401
    with container.session_factory() as s:
        keys = s.scalars(select(RateLimitCounter.key)).all()
    assert len(keys) == 2 and all("handler" not in k for k in keys)  # digests, not the username


def test_limits_are_bounded_settings(monkeypatch):
    from web.settings import Settings

    with pytest.raises(ValueError, match="LIANXIN_SIGNIN_FAILURES_PER_ACCOUNT must be a whole number from 3"):
        Settings.from_env(database_url="sqlite://", secret_key="k", signin_failures_per_account=0)
    monkeypatch.setenv("LIANXIN_QUERY_WINDOW_MINUTES", "soon")
    with pytest.raises(ValueError, match="LIANXIN_QUERY_WINDOW_MINUTES must be a whole number"):
        Settings.from_env(database_url="sqlite://", secret_key="k")
    monkeypatch.setenv("LIANXIN_QUERY_WINDOW_MINUTES", "30")
    assert Settings.from_env(database_url="sqlite://", secret_key="k").query_window_minutes == 30


def test_an_unreachable_redis_refuses_rather_than_letting_guesses_through(database_url, clock, tmp_path):
    c = make_container(database_url, clock, tmp_path, redis_url="redis://127.0.0.1:1/0")  # nothing listens
    try:
        app = office_app(c, deploy=False)
        r = app.test_client().post("/api/session", json={"username": "handler", "password": "demo"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "60"
        assert "LIANXIN_REDIS_URL" in r.get_json()["error"]["message"]
        page = app.test_client().post("/query", data={"case_no": "XF1", "code": "X"})
        assert page.status_code == 503 and "服务暂时不可用" in page.get_data(as_text=True)
    finally:
        c.engine.dispose()
