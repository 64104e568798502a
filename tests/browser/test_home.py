"""The first pages in a real headless Chromium: the sign-in page in Chinese, then the shell with the
navigation a role may use."""
from pathlib import Path

import pytest

from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def test_sign_in_page_then_the_shell_for_an_administrator(live_server, page):  # noqa: F811
    url, container = live_server
    from web.setup import initialise

    initialise(container, demo=True)
    page.goto(url + "/")
    assert page.url.endswith("/login")
    assert page.locator("h1").inner_text() == "登录"
    screenshot(page, "login")
    sign_in(page, url, "admin")
    assert page.locator(".topbar .user").inner_text() == "系统管理员"
    assert page.locator(".mainnav a", has_text="工作日历").count() == 1
    page.click("text=English")
    assert page.locator(".mainnav a", has_text="Working-day calendar").count() == 1
    assert Path(screenshot(page, "shell-admin")).stat().st_size > 1000


def test_a_handler_does_not_get_the_administrators_links(live_server, page):  # noqa: F811
    url, container = live_server
    from web.setup import initialise

    initialise(container, demo=True)
    sign_in(page, url, "handler")
    assert page.locator(".topbar .user").inner_text() == "人社局承办人老李"
    assert page.locator(".mainnav a", has_text="工作日历").count() == 0
