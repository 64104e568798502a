"""The pages in Chinese (the default) and in English (?lang=en), in headless Chromium: the texts the page scripts
write follow the page's language, and the case page's dates read the Chinese way."""
from __future__ import annotations

import re

import pytest

from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture
def office(live_server):  # noqa: F811
    url, c = live_server
    from web.setup import initialise

    initialise(c, demo=True)
    return url, c


def test_designer_speaks_english_on_an_english_page_and_chinese_by_default(office, page):  # noqa: F811
    url, _c = office
    sign_in(page, url, "designer")
    page.goto(f"{url}/designer/petition_case/edit?lang=en")
    page.wait_for_selector('#designer[data-ready="1"]', timeout=60_000)
    assert page.locator("#designer-tabs .tab").first.inner_text().startswith("Diagram (")
    assert re.search(r"Based on version \d+", page.locator("#designer-base").inner_text())
    page.locator("#designer-canvas [data-element-id='Task_sign'] .djs-hit").first.click()
    page.wait_for_selector('[data-group-id="group-lianxin"]', timeout=10_000)
    assert "Lianxin settings" in page.locator('[data-group-id="group-lianxin"]').inner_text()
    screenshot(page, "lang-designer-en")

    page.goto(f"{url}/designer/petition_case/edit?lang=zh_Hans_CN")
    page.wait_for_selector('#designer[data-ready="1"]', timeout=60_000)
    assert page.locator("#designer-tabs .tab").first.inner_text().startswith("流程图（")
    assert re.search(r"基于第 \d+ 版", page.locator("#designer-base").inner_text())
    screenshot(page, "lang-designer-zh")


def test_case_page_and_dashboard_in_both_languages(office, page):  # noqa: F811
    url, c = office
    sign_in(page, url, "county")
    case_id = c.runtime.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar").id
    page.goto(f"{url}/cases/{case_id}?lang=en")
    legend = page.locator(".legend").first.inner_text()
    assert "Active" in legend and "Completed" in legend, legend
    when = page.locator("#timeline .when").first.inner_text()
    assert re.fullmatch(r"[A-Z][a-z]+ \d{1,2}, \d{4} \d\d:\d\d", when), when
    screenshot(page, "lang-case-en")
    page.goto(f"{url}/cases/{case_id}?lang=zh_Hans_CN")
    when = page.locator("#timeline .when").first.inner_text()
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", when), when
    screenshot(page, "lang-case-zh")

    page.goto(f"{url}/stats?lang=en")
    assert page.locator("h1").first.inner_text() != "统计分析"
    assert not re.search(r"\d{4}-\d\d-\d\d 至", page.content())
    screenshot(page, "lang-dashboard-en")


def test_calendar_page_in_english(office, page):  # noqa: F811
    url, _c = office
    sign_in(page, url, "admin")
    page.goto(f"{url}/admin/calendar?lang=en&year=2026")
    assert page.locator("h1").inner_text() == "Working-day calendar"
    assert page.locator("#detail h2").inner_text() == "Holidays of 2026"
    assert page.locator("html").get_attribute("lang") == "en"
    screenshot(page, "lang-calendar-en")
    page.click("text=中文")
    assert page.locator("h1").inner_text() == "工作日历管理"
