"""The task list on a phone (390 px wide), in headless Chromium: each task is a card (one field a line, labelled),
the header row is hidden, and the page does not scroll sideways."""
from __future__ import annotations

import pytest

from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)
from web.setup import initialise

pytestmark = pytest.mark.browser


@pytest.fixture
def office(live_server):  # noqa: F811
    url, c = live_server
    initialise(c, demo=True)
    return url, c


@pytest.mark.parametrize("lang", ["zh_Hans_CN", "en"])
def test_the_task_list_is_cards_at_390_px_without_sideways_scrolling(office, page, lang):  # noqa: F811
    url, _c = office
    sign_in(page, url, "registrar")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{url}/tasks?lang={lang}")
    rows = page.locator("table.tasks tbody tr")
    assert rows.count() > 0
    first = rows.first
    assert first.evaluate("tr => getComputedStyle(tr).display") == "block"
    assert page.locator("table.tasks thead").evaluate("h => getComputedStyle(h).display") == "none"
    label = first.locator("td[data-label]").first.evaluate(
        "td => getComputedStyle(td, '::before').content")
    assert ("期限" if lang != "en" else "Due") in label, label
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"
    box = first.bounding_box()
    assert box and box["width"] <= 390, box
    screenshot(page, f"tasks-390-{lang[:2]}")
