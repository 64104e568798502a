"""The first page in a real headless Chromium: the app answers in Chinese and lists deployed processes."""
from pathlib import Path

import pytest

from engine.definitions import collect_files
from tests.support.browser import live_server, page  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def test_home_page_lists_the_deployed_process(live_server, page, tmp_path):  # noqa: F811
    url, container = live_server
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    page.goto(url + "/")
    assert page.locator("h1").inner_text() == "连心"
    row = page.locator("table tbody tr", has_text="simple_case").first
    assert "信访事项简易办理" in row.inner_text()
    shot = ROOT / "test-artifacts" / "home.png"
    shot.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 1000
