"""The calendar admin page in headless Chromium: the red warning for 2027, importing the notice through the form,
the warning gone afterwards, and the due-date form."""
from pathlib import Path

import pytest

from services.organisation import load_organisation
from tests.support.browser import live_server, page  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "fixtures" / "calendar" / "2027.yaml"


def test_admin_imports_2027_and_the_warning_goes(live_server, page):  # noqa: F811
    url, container = live_server
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    r = page.request.post(url + "/api/session", data={"username": "admin", "password": "demo"})
    assert r.status == 201

    page.goto(url + "/admin/calendar")
    assert page.locator("h1").inner_text() == "工作日历管理"
    banner = page.locator("#provisional-warning")
    assert banner.is_visible()
    assert "2027 年放假安排尚未导入" in banner.inner_text()
    assert page.locator("#years tbody tr").first.inner_text().startswith("2027 年")
    shots = ROOT / "test-artifacts"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / "calendar.png"), full_page=True)

    page.fill("#content", (SAMPLE.parent / "bad_2027_labour_day_missing.yaml").read_text(encoding="utf-8"))
    page.click("#import button[type=submit]")
    problems = page.locator("#import-problems")
    assert "发现 1 处问题" in problems.inner_text() and "2027-05-02" in problems.inner_text()
    assert page.locator("#provisional-warning").is_visible()
    page.screenshot(path=str(shots / "calendar-problems.png"), full_page=True)

    page.fill("#content", SAMPLE.read_text(encoding="utf-8"))
    page.click("#import button[type=submit]")
    result = page.locator("#import-result")
    assert "已导入 2027 年放假安排" in result.inner_text()
    assert page.locator("#provisional-warning").count() == 0
    assert container.calendar.show_year(2027)["status"] == "official"
    page.screenshot(path=str(shots / "calendar-imported.png"), full_page=True)

    page.fill("#due-from", "2026-02-13")
    page.fill("#due-n", "3")
    page.click("#due button[type=submit]")
    assert "到期日：2026年2月25日 星期三" in page.locator("#due-result").inner_text()
    page.locator("#due").screenshot(path=str(shots / "calendar-due.png"))
