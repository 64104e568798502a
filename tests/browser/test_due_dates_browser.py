"""A page script that prints due dates (the auditor's replay, through web/frontend/lib/due-date.js) reads a deadline
ending at 24:00 as that day at 24:00, never as 00:00 of the next day, in Chinese and in English."""
from datetime import datetime

import pytest
from playwright.sync_api import expect

from engine.clock import SHANGHAI
from tests.browser.test_audit_pages import prepare, wait_for_seq
from tests.support.browser import live_server, page, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_the_replay_shows_a_deadline_at_24_00_of_its_own_day(live_server, page):  # noqa: F811
    url, container = live_server
    case_id, history = prepare(container)  # signed from Mon 2026-03-02 09:00: WD5 falls due Mon 03-09
    computed = next(e for e in history if e["type"] == "deadline.computed")
    assert datetime.fromisoformat(computed["data"]["due_at"]) == datetime(2026, 3, 10, tzinfo=SHANGHAI)
    sign_in(page, url, "auditor")
    for lang, due, wrong in (("zh_Hans_CN", "2026年3月9日 24:00", "3月10日"), ("en", "March 9, 2026 24:00", "March 10")):
        page.goto(f"{url}/audit/cases/{case_id}/replay?lang={lang}")
        wait_for_seq(page, history[-1]["seq"])
        index = [e["seq"] for e in history].index(computed["seq"])
        page.locator("#replay-slider").fill(str(index))
        wait_for_seq(page, computed["seq"])
        deadlines = page.locator("#replay-deadlines")
        expect(deadlines).to_contain_text(due)
        assert wrong not in deadlines.inner_text()
