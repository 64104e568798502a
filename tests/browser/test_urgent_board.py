"""The urgent path in a real browser: the handler flags a case from its page (kind and reason), the bureau's board
lists it with its hours left, and once the first-report limit has passed (the worker run) the row is red with the
hours overdue and the 督办 issued."""
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from engine.clock import SHANGHAI
from engine.definitions import collect_files
from engine.worker import Worker
from services.organisation import load_organisation
from tests.support.browser import live_server, page, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
DATA = {"channel": "来信", "title": "工地欠薪", "request": "要求支付拖欠的工资", "facts": "2025年10月起未发工资",
        "category": "劳动社保", "location": "county_a",
        "petitioner": {"name": "张某某", "id_number": "410121198001021234", "phone": "13800001234",
                       "address": "东城县某村"}}


def test_a_flagged_case_is_on_the_board_and_turns_red_when_the_first_report_is_missed(live_server, page):  # noqa: F811
    url, container = live_server
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    container.clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    rt = container.runtime
    case = rt.start("petition_case", DATA, "registrar")
    rt.complete(case.tasks[0].id, {"route": "交办转送"}, "registrar")

    sign_in(page, url, "handler")
    page.goto(f"{url}/cases/{case.id}")
    page.click("#urgent-flag-link a")
    page.select_option("#kind", "群体性")
    page.fill("#reason", "三十余名工人在工地聚集讨薪")
    page.click("#confirm")
    expect(page.locator(".flash.success")).to_contain_text("东城县信访局")

    page.context.clear_cookies()
    sign_in(page, url, "bureau")
    page.goto(f"{url}/urgent")
    row = page.locator(f'#urgent-board tr[data-case="{case.id}"]')
    expect(row).to_contain_text("群体性")
    expect(row).to_contain_text("未报")
    expect(row).to_contain_text("剩 2.0 小时")

    container.clock.set(datetime(2026, 3, 2, 12, 30, tzinfo=SHANGHAI))
    Worker(container.runtime, container.session_factory, container.clock).run_once()
    page.goto(f"{url}/urgent")
    expect(row).to_have_attribute("data-state", "red")
    expect(row).to_contain_text("已超时 0.5 小时")
    expect(row).to_contain_text("已督办")
