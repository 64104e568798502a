"""The production entry point behind a reverse proxy: the client's address comes from X-Forwarded-For (so the
public query's wrong-code limit per address locks out the guesser, not everyone behind the proxy) and the
session cookie is Secure under HTTPS."""
from __future__ import annotations

from web.app import create_app
from web.deployment import for_deployment


def wrong_codes(client, address: str, start: int, n: int) -> list[int]:
    return [client.get(f"/api/public/cases/XF410121202603020100{start + i:04d}?code=WRONG",
                       headers={"X-Forwarded-For": address}).status_code for i in range(n)]


def test_behind_one_proxy_each_client_address_has_its_own_limit(sqlite_container):
    app = for_deployment(create_app(sqlite_container), {"LIANXIN_PROXY_HOPS": "1"})
    client = app.test_client()
    n = sqlite_container.settings.query_failures_per_address
    assert wrong_codes(client, "203.0.113.7", 0, n + 1) == [404] * n + [429]  # the guesser is stopped ...
    assert wrong_codes(client, "198.51.100.2", 100, 1) == [404]  # ... and someone else behind the proxy is not


def test_without_proxy_settings_forwarded_headers_are_not_trusted(sqlite_container):
    client = for_deployment(create_app(sqlite_container), {}).test_client()
    n = sqlite_container.settings.query_failures_per_address
    assert wrong_codes(client, "203.0.113.7", 0, n) == [404] * n
    assert wrong_codes(client, "198.51.100.2", 100, 1) == [429]  # a forged header does not escape the limit


def test_https_marks_the_session_cookie_secure(sqlite_container):
    app = for_deployment(create_app(sqlite_container), {"LIANXIN_HTTPS": "1"})
    r = app.test_client().post("/api/session", json={"username": "nobody", "password": "x"})
    assert r.status_code == 401
    assert app.config["SESSION_COOKIE_SECURE"] is True
    r = app.test_client().get("/login")
    assert all("Secure" in c for c in r.headers.getlist("Set-Cookie")) and r.headers.getlist("Set-Cookie")
