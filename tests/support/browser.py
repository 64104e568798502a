"""Headless Chromium (Debian's package) driven by Playwright, against the app served on a loopback port."""
from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture
def live_server(sqlite_container):
    from web.app import create_app

    app = create_app(sqlite_container)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", sqlite_container
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="package")
def chromium_browser():
    """One Chromium for the browser tests of a test process (started once: about 1.5 s of CPU each time); each
    test gets a new context of it (`page`), with its own cookies, storage and cache, as a new browser has."""
    path = chromium_path()
    if path is None:
        if os.environ.get("LIANXIN_REQUIRE_CHROMIUM") == "1":
            pytest.fail("chromium is required here (LIANXIN_REQUIRE_CHROMIUM=1) but not installed")
        pytest.skip("Debian's chromium is not installed: apt-get install chromium (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium_browser, tmp_path):
    assert chromium_browser.is_connected(), "Chromium went away during an earlier browser test"
    context = chromium_browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    refused = csp_violations(pg)
    yield pg
    context.close()
    if refused:
        pytest.fail("the page did something the Content-Security-Policy refuses:\n" + "\n".join(refused))


def csp_violations(pg) -> list[str]:
    """What the browser refuses under the Content-Security-Policy, as it reports it on the console (filled while
    the page runs, also as `pg.csp_refused`; a test that means to provoke a refusal empties it)."""
    refused: list[str] = []
    pg.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    pg.csp_refused = refused
    return refused


def sign_in(pg, base_url: str, username: str, password: str = "demo") -> None:
    """Sign in through the real sign-in page (users from the demo organisation)."""
    pg.goto(base_url + "/login")
    pg.fill("#username", username)
    pg.fill("#password", password)
    with pg.expect_navigation():
        pg.click("form button[type=submit]")


def screenshot(pg, name: str) -> str:
    """Full-page screenshot into test-artifacts/ (kept by CI for people to look at)."""
    from pathlib import Path

    shot = Path(__file__).resolve().parents[2] / "test-artifacts" / f"{name}.png"
    shot.parent.mkdir(exist_ok=True)
    pg.screenshot(path=str(shot), full_page=True)
    return str(shot)
