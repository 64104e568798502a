"""Issue #23, point 4, on SQLite and PostgreSQL: administrators, designers and auditors sign in with a second
factor (TOTP or a one-time recovery code), accounts lock after repeated failures and open again after the lock's
minutes, new passwords keep the rules, demo accounts work only in demo mode."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from infra import lockout, security_log
from infra.accounts import User
from infra.security_log import SecurityEvent
from tests.support.accounts import STRONG, add_user, code, enrol
from tests.support.db import make_container
from tests.support.web import csrf_of, office_app
from web.app import create_app
from web.cli.main import main


@pytest.fixture
def office(database_url, clock, tmp_path):
    """Outside demo mode, with the demo organisation loaded, and real accounts beside the demo ones. The rate
    limit per account is raised so that what is seen here is the lockout (test_signin_limits has the limits)."""
    c = make_container(database_url, clock, tmp_path, demo=False, signin_failures_per_account=100)
    app = office_app(c, deploy=False)
    add_user(c, "root", "admin")
    add_user(c, "modeller", "designer")
    add_user(c, "clerk", "registrar", unit="city_bureau")
    yield app, c
    c.engine.dispose()


def sign_in(client, username, password=STRONG, otp=None):
    body = {"username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    return client.post("/api/session", json=body)


def kinds(c, actor=None) -> list[tuple[str, dict]]:
    with c.session_factory() as s:
        rows = s.scalars(select(SecurityEvent).order_by(SecurityEvent.seq)).all()
        return [(r.kind, security_log.to_dict(r)["detail"]) for r in rows if actor is None or r.actor == actor]


def test_a_privileged_sign_in_without_the_second_factor_is_refused_and_with_a_code_accepted(office):
    app, c = office
    secret, _codes = enrol(c, "root")
    client = app.test_client()
    r = sign_in(client, "root")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "second_factor_required"
    assert client.get("/api/session").status_code == 401  # no session from the password alone
    wrong = sign_in(client, "root", otp="000000" if code(c, secret) != "000000" else "111111")
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "second_factor_invalid"
    right = sign_in(client, "root", otp=code(c, secret))
    assert right.status_code == 201 and right.get_json()["roles"] == ["admin"]
    assert client.get("/api/session").status_code == 200
    # the same code a second time (overheard): refused, a later code is fine
    again = sign_in(app.test_client(), "root", otp=code(c, secret))
    assert again.status_code == 401 and again.get_json()["error"]["code"] == "second_factor_invalid"
    c.clock.advance(timedelta(seconds=30))
    assert sign_in(app.test_client(), "root", otp=code(c, secret)).status_code == 201
    assert ("sign_in", {"method": "password+totp", "roles": ["admin"]}) in kinds(c, "root")
    assert [k for k, d in kinds(c, "root") if k == "sign_in_failed" and d["reason"] == "second factor"]


def test_a_privileged_account_without_an_enrolled_factor_is_refused_with_how_to_enrol(office):
    app, c = office
    r = sign_in(app.test_client(), "modeller")
    error = r.get_json()["error"]
    assert r.status_code == 401 and error["code"] == "second_factor_not_enrolled"
    assert "lianxin user enrol-totp modeller" in error["message"]
    # a handler's account needs no second factor
    assert sign_in(app.test_client(), "clerk").status_code == 201


def test_the_sign_in_page_asks_for_the_code_on_a_page_of_its_own(office):
    app, c = office
    secret, _ = enrol(c, "root")
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    r = client.post("/login?next=/audit", data={"username": "root", "password": STRONG, "csrf_token": token})
    assert r.status_code == 302 and "/login/second-factor" in r.headers["Location"]
    assert client.get("/api/session").status_code == 401  # the password alone signs no one in
    page = client.get(r.headers["Location"])
    assert page.status_code == 200 and "动态口令" in page.get_data(as_text=True)
    token = csrf_of(page.get_data(as_text=True))
    wrong = client.post(r.headers["Location"], data={"code": "12345", "csrf_token": token})
    assert wrong.status_code == 401 and "不正确" in wrong.get_data(as_text=True)
    ok = client.post(r.headers["Location"], data={"code": code(c, secret), "csrf_token": token})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/audit")
    assert client.get("/api/session").get_json()["username"] == "root"


def test_the_code_page_without_a_password_first_sends_back_to_sign_in(office):
    app, _c = office
    r = app.test_client().get("/login/second-factor")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")


def test_a_recovery_code_works_once(office):
    app, c = office
    _secret, codes = enrol(c, "root")
    assert len(codes) == 10 and len(set(codes)) == 10
    assert sign_in(app.test_client(), "root", otp=codes[3].upper()).status_code == 201
    used = sign_in(app.test_client(), "root", otp=codes[3])
    assert used.status_code == 401 and used.get_json()["error"]["code"] == "second_factor_invalid"
    assert ("second_factor", {"action": "recovery_code_used", "left": 9}) in kinds(c, "root")


def test_five_failures_lock_the_account_for_fifteen_minutes(office):
    app, c = office
    rule = c.settings
    assert (rule.lockout_failures, rule.lockout_minutes) == (5, 15)
    client = app.test_client()
    for _ in range(4):
        assert sign_in(client, "clerk", "wrong").status_code == 401
    assert sign_in(client, "clerk").status_code == 201  # a success clears the count
    for _ in range(5):
        assert sign_in(client, "clerk", "wrong").get_json()["error"]["code"] == "unauthorized"
    locked = sign_in(app.test_client(), "clerk")  # the right password, from anywhere
    assert locked.status_code == 401 and locked.get_json()["error"]["code"] == "account_locked"
    assert "15 分钟" in locked.get_json()["error"]["message"]
    c.clock.advance(timedelta(minutes=14, seconds=59))
    assert sign_in(app.test_client(), "clerk").get_json()["error"]["code"] == "account_locked"
    c.clock.advance(timedelta(seconds=1))
    assert sign_in(app.test_client(), "clerk").status_code == 201
    assert [k for k, _ in kinds(c, "clerk")].count("lockout") == 1


def test_wrong_codes_count_towards_the_lockout(office):
    app, c = office
    secret, _ = enrol(c, "root")
    for _ in range(5):
        assert sign_in(app.test_client(), "root", otp="99999x").status_code == 401
    r = sign_in(app.test_client(), "root", otp=code(c, secret))
    assert r.get_json()["error"]["code"] == "account_locked"


def test_the_lockout_settings_are_bounded(database_url, clock, tmp_path):
    with pytest.raises(ValueError, match="LIANXIN_LOCKOUT_FAILURES must be a whole number from 3 to 20"):
        make_container(database_url, clock, tmp_path, lockout_failures=1)
    with pytest.raises(ValueError, match="LIANXIN_SECURITY_LOG_KEEP_DAYS"):
        make_container(database_url, clock, tmp_path, security_log_keep_days=30)


def test_demo_accounts_sign_in_only_in_demo_mode(office, database_url, clock, tmp_path):
    app, c = office
    r = sign_in(app.test_client(), "admin", "demo")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "demo_account"
    demo = make_container(database_url, clock, tmp_path / "demo", demo=True)
    try:
        demo_app = create_app(demo)
        for user in ("admin", "designer", "auditor"):  # privileged, yet no code: the documented demo logins
            assert sign_in(demo_app.test_client(), user, "demo").status_code == 201
        # a real admin is not a demo account: demo mode does not spare them the second factor
        assert sign_in(demo_app.test_client(), "root").get_json()["error"]["code"] == "second_factor_not_enrolled"
    finally:
        demo.engine.dispose()


def test_enrolment_by_the_user_then_the_code_is_required_even_for_a_demo_account(database_url, clock, tmp_path):
    c = make_container(database_url, clock, tmp_path, demo=True)
    try:
        app = office_app(c, deploy=False)
        client = app.test_client()
        token = sign_in(client, "auditor", "demo").get_json()["csrf_token"]
        begun = client.post("/api/account/second-factor", headers={"X-CSRF-Token": token})
        assert begun.status_code == 201
        secret, uri = begun.get_json()["secret"], begun.get_json()["otpauth_uri"]
        assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
        bad = client.post("/api/account/second-factor/confirm", json={"otp": "000000"}, headers={"X-CSRF-Token": token})
        assert bad.status_code == 422
        done = client.post("/api/account/second-factor/confirm", json={"otp": code(c, secret)},
                           headers={"X-CSRF-Token": token})
        assert done.status_code == 200 and len(done.get_json()["recovery_codes"]) == 10
        c.clock.advance(timedelta(seconds=30))
        assert sign_in(app.test_client(), "auditor", "demo").get_json()["error"]["code"] == "second_factor_required"
        assert sign_in(app.test_client(), "auditor", "demo", otp=code(c, secret)).status_code == 201
        # the secret is not stored in plain text
        with c.session_factory() as s:
            stored = s.execute(security_log.text("SELECT secret_box, pending_box FROM second_factor")).all()
        assert stored and all(secret not in (box or "") for row in stored for box in row)
        # an administrator resets it (lost phone): written to the security log
        admin = app.test_client()
        admin_token = sign_in(admin, "admin", "demo").get_json()["csrf_token"]
        assert admin.delete("/api/users/auditor/second-factor", headers={"X-CSRF-Token": admin_token}).status_code == 200
        assert sign_in(app.test_client(), "auditor", "demo").status_code == 201
        assert ("second_factor", {"action": "reset", "user": "auditor", "had_one": True}) in kinds(c, "admin")
        # only administrators reset
        assert client.delete("/api/users/admin/second-factor", headers={"X-CSRF-Token": token}).status_code == 403
    finally:
        c.engine.dispose()


def test_a_weak_new_password_is_refused_naming_the_rule(office):
    app, c = office
    client = app.test_client()
    token = sign_in(client, "clerk").get_json()["csrf_token"]
    for new, rule, words in (("abcdefgh1", "classes", "三类"), ("Clerk", "length", "8"),
                             ("kReLc", "length", "8"), ("ABCDEFGH-", "classes", "三类")):
        r = client.put("/api/session/password", json={"password": STRONG, "new_password": new},
                       headers={"X-CSRF-Token": token})
        assert r.status_code == 422, (new, r.get_json())
        assert words in r.get_json()["error"]["message"]
        if r.get_json()["error"]["code"] == "weak_password":
            assert r.get_json()["error"]["details"]["rule"] == rule
    add_user(c, "Longname1", "registrar", unit="city_bureau")
    same = CliRunner().invoke(main, ["user", "set-password", "Longname1", "--password", "1emanGNOL"],
                              env=_cli_env(c))
    assert same.exit_code != 0 and "用户名" in same.output
    ok = client.put("/api/session/password", json={"password": STRONG, "new_password": "Qing-Shui-7"},
                    headers={"X-CSRF-Token": token})
    assert ok.status_code == 200
    assert "password_change" in [k for k, _ in kinds(c, "clerk")]


def _cli_env(c) -> dict:
    return {"LIANXIN_DATABASE_URL": c.settings.database_url, "LIANXIN_SECRET_KEY": c.settings.secret_key,
            "LIANXIN_VAR_DIR": str(c.settings.var_dir)}


def test_the_operator_enrols_from_the_command_line(office):
    app, c = office
    r = CliRunner().invoke(main, ["user", "enrol-totp", "modeller"], env=_cli_env(c), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    secret = next(line.split(": ", 1)[1] for line in r.output.splitlines() if line.startswith("密钥"))
    assert "otpauth://totp/" in r.output
    assert sign_in(app.test_client(), "modeller", otp=code(c, secret)).status_code == 201
    assert ("second_factor", {"action": "enrolled_by_operator", "user": "modeller"}) in kinds(c)


def test_enrolment_on_the_account_page_shows_the_recovery_codes_once(database_url, clock, tmp_path):
    c = make_container(database_url, clock, tmp_path, demo=True)
    try:
        app = office_app(c, deploy=False)
        client = app.test_client()
        token = csrf_of(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"username": "designer", "password": "demo", "csrf_token": token})
        page = client.get("/account/second-factor").get_data(as_text=True)
        assert "尚未绑定验证器" in page
        begun = client.post("/account/second-factor", data={"csrf_token": csrf_of(page)}).get_data(as_text=True)
        secret = begun.split('id="totp-secret">', 1)[1].split("<", 1)[0]
        assert "otpauth://totp/" in begun
        wrong = client.post("/account/second-factor/confirm", data={"code": "000000", "csrf_token": csrf_of(begun)})
        assert wrong.status_code == 422
        begun = client.post("/account/second-factor", data={"csrf_token": csrf_of(page)}).get_data(as_text=True)
        secret = begun.split('id="totp-secret">', 1)[1].split("<", 1)[0]
        done = client.post("/account/second-factor/confirm", data={"code": code(c, secret),
                                                                   "csrf_token": csrf_of(begun)})
        assert done.status_code == 200 and done.get_data(as_text=True).count("<li><code>") == 10
        again = client.get("/account/second-factor").get_data(as_text=True)
        assert "已绑定验证器" in again and "<li><code>" not in again and "剩余恢复码：10 个" in again
    finally:
        c.engine.dispose()


def test_failures_counted_at_once_by_several_writers_lock_exactly_once(office):
    """Eight failures at the same moment (several web processes): all are counted, the fifth locks, once."""
    _app, c = office
    with c.session_factory() as s:
        user_id = s.scalar(select(User.id).where(User.username == "clerk"))
    rule = lockout.LockoutRule(failures=5, minutes=15)

    def fail(_):
        with c.session_factory() as s, s.begin():
            return lockout.record_failure(s, user_id, c.clock.now(), rule)

    with ThreadPoolExecutor(max_workers=8) as pool:
        locks = [until for until in pool.map(fail, range(8)) if until is not None]
    assert len(locks) == 1
    with c.session_factory() as s:
        assert lockout.locked_until(s, user_id, c.clock.now()) == locks[0]
        assert s.get(lockout.AccountLockout, user_id).failures == 3  # counting starts afresh after the lock
