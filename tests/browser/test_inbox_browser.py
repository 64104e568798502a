"""The inbox in a real browser: a 催办 sent by a case's reminder timer (the test clock moved past the yellow point,
the worker and the deliverer run) shows in the handler's bell, on /inbox with a link to the task, and opening it
lands on the task and clears the bell. The page fits a 390 px wide phone; the admin's outbox page too."""
import re
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from engine.clock import SHANGHAI
from engine.definitions import collect_files
from engine.worker import Worker
from services.organisation import load_organisation
from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)
from web.notify_setup import build_deliverer

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SIGN = "签收或提出异议"
DATA = {"channel": "来信", "title": "企业拖欠工资三个月", "request": "要求支付拖欠的工资", "facts": "2025年10月起未发工资",
        "category": "劳动社保", "location": "county_a",
        "petitioner": {"name": "张某某", "id_number": "410121198001021234", "phone": "13800001234",
                       "address": "东城县某村"}}


def dispatched_case(container) -> int:
    """A case registered and dispatched on Monday 2026-03-02 to 东城县人社局: its sign-off is due Monday 9 March."""
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    container.clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    rt = container.runtime
    case = rt.start("petition_case", DATA, "registrar")
    rt.complete(case.tasks[0].id, {"route": "交办转送"}, "registrar")
    assert any(t.name == SIGN for t in rt.get_case(case.id).tasks)
    return case.id


def test_a_timer_reminder_rings_the_bell_and_leads_to_the_task(live_server, page):  # noqa: F811
    url, container = live_server
    dispatched_case(container)
    sign_in(page, url, "handler")
    page.goto(f"{url}/tasks")
    expect(page.locator("#inbox-bell .count")).to_have_text("0")

    container.clock.set(datetime(2026, 3, 9, 10, 0, tzinfo=SHANGHAI))  # the sign-off turns yellow
    Worker(container.runtime, container.session_factory, container.clock).run_once()
    build_deliverer(container).run_once()

    page.goto(f"{url}/tasks")
    expect(page.locator("#inbox-bell .count")).to_have_text("1")
    page.click("#inbox-bell")
    expect(page).to_have_url(f"{url}/inbox")
    notice = page.locator("#inbox-list li.notice.unread")
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("【催办】")
    link = notice.locator("a.open")
    expect(link).to_contain_text(SIGN)
    page.select_option("select[name=kind]", "reminder")
    page.click("form.filters button[type=submit]")
    expect(page.locator("#inbox-list li.notice")).to_have_count(1)
    page.locator("#inbox-list a.open").click()
    expect(page).to_have_url(re.compile(r"/tasks/\d+$"))
    expect(page.locator("main")).to_contain_text(SIGN)
    expect(page.locator("#inbox-bell .count")).to_have_text("0")

    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{url}/inbox?lang=en")
    expect(page.locator("h1")).to_contain_text("Inbox")
    expect(page.locator("#inbox-list a.open")).to_contain_text("Open task")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "inbox-390")


def test_the_outbox_page_at_390_px(live_server, page):  # noqa: F811
    url, container = live_server
    dispatched_case(container)
    container.clock.set(datetime(2026, 3, 9, 10, 0, tzinfo=SHANGHAI))
    Worker(container.runtime, container.session_factory, container.clock).run_once()
    build_deliverer(container).run_once()
    page.set_viewport_size({"width": 390, "height": 800})
    sign_in(page, url, "admin")
    page.goto(f"{url}/admin/outbox?channel=inapp")
    expect(page.locator("#outbox tr.outbox-row").first).to_contain_text("reminder")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the table scrolls inside its box
    screenshot(page, "outbox-390")
