"""Sign-in under attack (issue #15, point 9), on SQLite and PostgreSQL: wrong passwords are limited per account
and per address (429 with Retry-After, the right password refused too until the window ends), the page and the
API share the counters, and an unknown username costs the same password hash and gets the same answer."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from infra import accounts
from infra.rate_limits import RateLimitCounter
from tests.support.web import csrf_of, office_app

ELSEWHERE = {"REMOTE_ADDR": "10.0.0.7"}


@pytest.fixture
def app(container):
    return office_app(container, deploy=False)


def sign_in(client, username, password, **kw):
    return client.post("/api/session", json={"username": username, "password": password}, **kw)


def test_250_wrong_passwords_then_the_right_one_is_refused_until_the_window_passes(app, container):
    settings = container.settings
    client = app.test_client()
    statuses = [sign_in(client, "handler", f"guess-{i}").status_code for i in range(250)]
    limit = settings.signin_failures_per_account
    assert statuses[:limit] == [401] * limit and set(statuses[limit:]) == {429}
    right = sign_in(client, "handler", "demo")
    assert right.status_code == 429
    retry = int(right.headers["Retry-After"])
    assert 0 < retry <= settings.signin_window_minutes * 60
    error = right.get_json()["error"]
    assert error["code"] == "too_many_attempts" and "分钟后再试" in error["message"]
    assert error["details"]["retry_after"] == retry
    # the same account from another address: the account's counter is full there too
    assert sign_in(app.test_client(), "handler", "demo", environ_base=ELSEWHERE).status_code == 429
    # another account from the same address: 10 failures are well below the address's limit
    assert sign_in(app.test_client(), "county", "demo").status_code == 201
    container.clock.advance(timedelta(seconds=retry - 1))
    assert sign_in(client, "handler", "demo").status_code == 429
    container.clock.advance(timedelta(seconds=1))
    assert sign_in(client, "handler", "demo").status_code == 201


def test_wrong_passwords_for_many_accounts_from_one_address_close_that_address_only(app, container):
    limit = container.settings.signin_failures_per_address
    client = app.test_client()
    for i in range(limit):
        assert sign_in(client, f"user{i}", "guess").status_code == 401
    assert sign_in(client, "county", "demo").status_code == 429  # any account from this address
    assert sign_in(app.test_client(), "county", "demo", environ_base=ELSEWHERE).status_code == 201


def test_addresses_of_one_ipv6_network_count_together(app, container):
    limit = container.settings.signin_failures_per_address
    client = app.test_client()
    for i in range(limit):  # a fresh address of the same /64 for every guess
        r = sign_in(client, f"user{i}", "guess", environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{i + 1:x}"})
        assert r.status_code == 401
    assert sign_in(client, "county", "demo", environ_base={"REMOTE_ADDR": "2001:db8:1:2::ffff"}).status_code == 429
    assert sign_in(client, "county", "demo", environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"}).status_code == 201


def test_the_sign_in_page_shares_the_counters_and_explains_in_chinese(app, container):
    client = app.test_client()
    for _ in range(container.settings.signin_failures_per_account):
        token = csrf_of(client.get("/login").get_data(as_text=True))
        r = client.post("/login", data={"username": "handler", "password": "guess", "csrf_token": token})
        assert r.status_code == 401
    assert sign_in(client, "handler", "demo").status_code == 429  # the API counts what the page counted
    token = csrf_of(client.get("/login").get_data(as_text=True))  # the form itself is still served
    page = client.post("/login", data={"username": "handler", "password": "demo", "csrf_token": token})
    assert page.status_code == 429 and int(page.headers["Retry-After"]) > 0
    assert "尝试次数过多" in page.get_data(as_text=True) and "分钟后再试" in page.get_data(as_text=True)
    english = client.post("/login?lang=en", data={"username": "handler", "password": "demo", "csrf_token": token})
    assert "Too many attempts" in english.get_data(as_text=True)


def test_right_sign_ins_are_not_counted(app, container):
    client = app.test_client()
    for _ in range(container.settings.signin_failures_per_account + 5):
        assert sign_in(client, "handler", "demo").status_code == 201
    with container.session_factory() as s:  # only failures are counted (in the database: no Redis here)
        assert s.scalar(select(func.count()).select_from(RateLimitCounter)) == 0
    assert sign_in(client, "handler", "guess").status_code == 401
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(RateLimitCounter)) == 2  # account and address


def test_an_unknown_username_runs_the_password_hash_and_gets_the_same_answer(app, monkeypatch):
    checked = []
    real = accounts.check_password_hash

    def recording(stored, password):
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(accounts, "check_password_hash", recording)
    client = app.test_client()
    unknown = sign_in(client, "nobody-here", "guess")
    assert len(checked) == 1 and checked[0] == accounts.dummy_password_hash()
    method = checked[0].split("$")[0]
    known = sign_in(client, "handler", "guess")
    assert len(checked) == 2 and checked[1].split("$")[0] == method  # the dummy is made the same way
    assert unknown.status_code == known.status_code == 401
    assert unknown.get_json() == known.get_json()


def test_an_inactive_users_password_is_checked_too(app, container, monkeypatch):
    with container.session_factory() as s, s.begin():
        s.scalar(select(accounts.User).where(accounts.User.username == "handler")).active = False
    checked = []
    real = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))
    assert sign_in(app.test_client(), "handler", "demo").status_code == 401
    assert len(checked) == 1
