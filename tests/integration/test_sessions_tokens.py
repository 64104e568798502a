"""Sessions and API tokens end (issue #15, point 11), on SQLite and PostgreSQL: a copy of a session cookie is
refused after the user signs out (API and page) or changes the password, remember cookies likewise; tokens expire
and can be revoked from the command line, and are then refused with 401."""
from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask_login.utils import encode_cookie
from sqlalchemy import select

from infra.accounts import ApiToken, User, create_token
from tests.support.web import office_app, page_sign_in
from web.cli.main import main

COMMENT = "已电话联系信访人，约定本周五面谈。"


@pytest.fixture
def app(container):
    return office_app(container)


@pytest.fixture
def case_id(container):
    """A petition transferred to the county HRSS bureau, where the `handler` may comment on it."""
    rt = container.runtime
    view = rt.start("petition_case", {
        "title": "工伤认定久拖不决", "channel": "来访", "category": "劳动社保", "location": "county_a",
        "request": "要求尽快作出工伤认定", "facts": "2025年受伤，至今未认定", "registering_unit": "city_bureau",
        "petitioner": {"name": "李四", "phone": "13800001111"}}, actor="registrar")
    triage = next(t for t in rt.get_case(view.id).tasks if t.name == "分流研判")
    rt.complete(triage.id, {"route": "交办转送"}, actor="registrar")
    return view.id


def api_sign_in(app, username="handler", password="demo"):
    client = app.test_client()
    r = client.post("/api/session", json={"username": username, "password": password})
    assert r.status_code == 201, r.get_json()
    return client, r.get_json()["csrf_token"]


def copy_of(app, client, name="session"):
    """Another client holding a copy of `client`'s cookie, as a thief or a second tab would."""
    other = app.test_client()
    other.set_cookie(name, client.get_cookie(name).value)
    return other


def comment(client, case_id, token):
    return client.post(f"/api/cases/{case_id}/comments", json={"body": COMMENT}, headers={"X-CSRF-Token": token})


def test_the_old_cookie_cannot_post_a_comment_after_delete_session(app, case_id):
    client, token = api_sign_in(app)
    stolen = copy_of(app, client)
    assert comment(stolen, case_id, token).status_code == 201  # the copy works while the session lasts
    assert client.delete("/api/session").status_code == 200
    refused = comment(stolen, case_id, token)
    assert refused.status_code == 401 and "登录" in refused.get_json()["error"]["message"]
    assert stolen.get("/api/session").status_code == 401
    again, token = api_sign_in(app)  # signing in again gives a new session that works
    assert comment(again, case_id, token).status_code == 201


def test_the_page_sign_out_ends_the_session_too(app, case_id):
    client = page_sign_in(app, "handler")
    stolen = copy_of(app, client)
    token = stolen.get("/api/session").get_json()["csrf_token"]
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    from tests.support.web import csrf_of

    assert client.post("/logout", data={"csrf_token": csrf_of(page)}).status_code == 302
    assert comment(stolen, case_id, token).status_code == 401
    assert stolen.get(f"/cases/{case_id}").status_code == 302  # the pages send it to sign in


def test_a_password_change_ends_every_other_session(app, container, case_id):
    laptop, laptop_token = api_sign_in(app)
    phone, phone_token = api_sign_in(app)
    wrong = laptop.put("/api/session/password", json={"password": "nope", "new_password": "A-longer-secret1"},
                       headers={"X-CSRF-Token": laptop_token})
    assert wrong.status_code == 403 and comment(phone, case_id, phone_token).status_code == 201
    short = laptop.put("/api/session/password", json={"password": "demo", "new_password": "short"},
                       headers={"X-CSRF-Token": laptop_token})
    assert short.status_code == 422 and "8" in short.get_json()["error"]["message"]
    r = laptop.put("/api/session/password", json={"password": "demo", "new_password": "A-longer-secret1"},
                   headers={"X-CSRF-Token": laptop_token})
    assert r.status_code == 200
    assert comment(phone, case_id, phone_token).status_code == 401  # the other session has ended
    assert comment(laptop, case_id, r.get_json()["csrf_token"]).status_code == 201  # the changer's goes on
    assert app.test_client().post("/api/session", json={"username": "handler", "password": "demo"}).status_code == 401
    api_sign_in(app, password="A-longer-secret1")


def test_a_remember_cookie_is_refused_after_sign_out(app, container, case_id):
    with container.session_factory() as s:
        user = s.scalar(select(User).where(User.username == "handler"))
        ident = f"{user.id}:{user.session_version}"
    with app.app_context():
        remember = encode_cookie(ident)
    kept = app.test_client()
    kept.set_cookie("remember_token", remember)
    assert kept.get("/api/session").status_code == 200  # the cookie signs its holder in
    client, _ = api_sign_in(app)
    client.delete("/api/session")
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remember)
    assert fresh.get("/api/session").status_code == 401
    with app.app_context():
        old_style = encode_cookie(str(ident.split(":")[0]))  # a cookie naming the user id alone
    legacy = app.test_client()
    legacy.set_cookie("remember_token", old_style)
    assert legacy.get("/api/session").status_code == 401


@pytest.fixture
def run_cli(database_url, tmp_path, monkeypatch):
    """`lianxin ...` on the test's database; the containers the commands build are closed after each."""
    import web.cli.common

    built = []
    real = web.cli.common.container
    monkeypatch.setattr(web.cli.common, "container", lambda *a, **kw: built.append(real(*a, **kw)) or built[-1])

    def run(args, *_ignored):
        env = {"LIANXIN_VAR_DIR": str(tmp_path / "var"), "LIANXIN_DATABASE_URL": database_url,
               "LIANXIN_SECRET_KEY": "test-secret"}
        try:
            return CliRunner().invoke(main, args, env=env, catch_exceptions=False)
        finally:
            while built:
                built.pop().engine.dispose()

    return run


def test_a_revoked_token_gets_401(app, container, case_id, database_url, tmp_path, run_cli):
    made = run_cli(["token", "create", "handler", "--label", "interface", "--days", "30"], database_url, tmp_path)
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[0]
    assert secret.startswith("lx_") and "有效期至" in made.stderr
    bearer = {"Authorization": f"Bearer {secret}"}
    client = app.test_client()
    assert client.post(f"/api/cases/{case_id}/comments", json={"body": COMMENT}, headers=bearer).status_code == 201
    listing = run_cli(["token", "list", "handler"], database_url, tmp_path)
    assert listing.exit_code == 0 and secret not in listing.output
    [row] = [line.split("\t") for line in listing.stdout.splitlines()[1:]]
    assert row[1] == "interface" and row[4] == "active"
    revoked = run_cli(["token", "revoke", row[0]], database_url, tmp_path)
    assert revoked.exit_code == 0 and "已吊销" in revoked.output
    refused = client.post(f"/api/cases/{case_id}/comments", json={"body": COMMENT}, headers=bearer)
    assert refused.status_code == 401 and "吊销" in refused.get_json()["error"]["message"]
    assert "\trevoked\t" in run_cli(["token", "list", "handler"], database_url, tmp_path).stdout
    missing = run_cli(["token", "revoke", "999999"], database_url, tmp_path)
    assert missing.exit_code == 1 and "token list" in missing.output


def test_an_expired_token_gets_401(app, container, case_id):
    with container.session_factory() as s, s.begin():
        user = s.scalar(select(User).where(User.username == "handler"))
        secret = create_token(s, user, "short", container.clock.now(), days=1)
    bearer = {"Authorization": f"Bearer {secret}"}
    client = app.test_client()
    assert client.get(f"/api/cases/{case_id}", headers=bearer).status_code == 200
    container.clock.advance(timedelta(days=1))
    refused = client.get(f"/api/cases/{case_id}", headers=bearer)
    assert refused.status_code == 401 and "过期" in refused.get_json()["error"]["message"]


def test_tokens_from_before_expiry_run_out_after_the_default_lifetime(app, container, case_id):
    with container.session_factory() as s, s.begin():
        user = s.scalar(select(User).where(User.username == "handler"))
        secret = create_token(s, user, "old", container.clock.now())
        s.flush()
        s.scalar(select(ApiToken).where(ApiToken.label == "old")).expires_at = None
    bearer = {"Authorization": f"Bearer {secret}"}
    assert app.test_client().get(f"/api/cases/{case_id}", headers=bearer).status_code == 200
    container.clock.advance(timedelta(days=90))
    assert app.test_client().get(f"/api/cases/{case_id}", headers=bearer).status_code == 401


def test_tokens_made_before_the_upgrade_get_the_default_lifetime_from_the_upgrade(database_url):
    """Migration 0011 gives tokens in use an expiry 90 days after the upgrade (not after they were made, which
    would cut older integrations off at once), on both databases."""
    from alembic import command
    from sqlalchemy import text

    from engine.clock import SystemClock
    from infra.db import make_engine, make_session_factory
    from infra.migrate import alembic_config, upgrade

    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0010_verification_runs")
            conn.execute(text("INSERT INTO app_user (username, display_name, password_hash, active) "
                              "VALUES ('old_integration', 'x', 'x', :t)"), {"t": True})
            conn.execute(text("INSERT INTO api_token (user_id, token_hash, label, created_at, revoked, uses) "
                              "SELECT id, 'h', 'old', :at, :f, 0 FROM app_user WHERE username = 'old_integration'"),
                         {"at": START_OF_2020, "f": False})
        upgrade(engine)
        with make_session_factory(engine)() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.label == "old"))
            assert (row.expires_at - SystemClock().now()).days in (89, 90)  # 90 days from the upgrade
    finally:
        engine.dispose()


START_OF_2020 = "2020-01-01 00:00:00"
