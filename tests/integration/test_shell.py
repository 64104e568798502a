"""The page shell: sign-in with Flask-Login and CSRF, language switch, safe redirects, role-guarded pages."""
import re

import pytest

from web.app import create_app


@pytest.fixture
def app(sqlite_container):
    from web.setup import initialise

    initialise(sqlite_container, demo=True)
    return create_app(sqlite_container, {"TESTING": True})


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, username="registrar", password="demo", next_=None):
    page = client.get("/login")
    url = "/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data={"csrf_token": form_token(page.get_data(as_text=True)),
                                  "username": username, "password": password})


def test_login_page_is_chinese_by_default_and_english_on_request(app):
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in html and "用户名" in html and "密码" in html
    html = client.get("/login?lang=en").get_data(as_text=True)
    assert 'lang="en"' in html and "Username" in html and "用户名" not in html
    # the choice is remembered for the session
    assert "Password" in client.get("/login").get_data(as_text=True)


def test_sign_in_needs_the_form_csrf_token(app):
    client = app.test_client()
    r = client.post("/login", data={"username": "registrar", "password": "demo"})
    assert r.status_code == 403 and "CSRF" in r.get_data(as_text=True)
    assert client.get("/api/session").status_code == 401


def test_wrong_password_is_refused_with_a_clear_message(app):
    r = sign_in(app.test_client(), password="nope")
    assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)


def test_sign_in_then_api_session_and_sign_out(app):
    client = app.test_client()
    r = sign_in(client)
    assert r.status_code == 302
    me = client.get("/api/session").get_json()
    assert me["username"] == "registrar"
    # the page session's CSRF token is also the API's
    token = form_token(client.get("/login").get_data(as_text=True))
    assert client.post("/api/tasks/999999/claim", headers={"X-CSRF-Token": token}).status_code == 404
    assert client.post("/api/tasks/999999/claim", headers={"X-CSRF-Token": "forged"}).status_code == 403
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 302 and client.get("/api/session").status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/x", "//evil.example/x", "javascript:alert(1)"])
def test_next_never_leaves_the_site(app, target):
    r = sign_in(app.test_client(), next_=target)
    assert r.status_code == 302 and "evil" not in r.headers["Location"] and "javascript" not in r.headers["Location"]


def test_next_returns_to_the_page_asked_for(app):
    r = sign_in(app.test_client(), next_="/admin/calendar")
    assert r.headers["Location"].endswith("/admin/calendar")


def test_calendar_page_refuses_a_handler_with_403_page(app):
    client = app.test_client()
    sign_in(client, "handler")
    r = client.get("/admin/calendar")
    assert r.status_code == 403
