"""The two-page sign-in of a privileged account in a real headless Chromium: the password, then the code page;
without the code nobody is signed in, with it the administrator's shell opens."""
import pytest

from services.organisation import load_organisation
from tests.support.accounts import STRONG, add_user, code, enrol
from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)
from tests.support.db import ROOT

pytestmark = pytest.mark.browser


def test_an_administrator_gives_the_code_on_its_own_page(live_server, page):  # noqa: F811
    url, container = live_server
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    add_user(container, "root", "admin")
    secret, _ = enrol(container, "root")
    sign_in(page, url, "root", STRONG)
    assert "/login/second-factor" in page.url
    assert page.locator("h1").inner_text() == "二次验证"
    screenshot(page, "second-factor")
    page.goto(url + "/")  # the password alone opened nothing
    assert page.url.endswith("/login")
    sign_in(page, url, "root", STRONG)
    page.fill("#code", "000000" if code(container, secret) != "000000" else "111111")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert "不正确" in page.locator(".error").inner_text()
    page.fill("#code", code(container, secret))
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.locator(".topbar .user").inner_text() == "root"
    assert page.locator(".mainnav a", has_text="二次验证").count() == 1
