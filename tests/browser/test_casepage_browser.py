"""The case page in headless Chromium: a deadline turns red when the clock passes it, a handler of another county
is refused, and the diagram marks the task the case is waiting at."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from engine.definitions import collect_files
from services.organisation import load_organisation
from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served_case(live_server):  # noqa: F811
    """A petition transferred to the county HRSS bureau (task 签收或提出异议, 5 working days)."""
    url, container = live_server
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    rt = container.runtime
    view = rt.start("petition_case", {
        "title": "企业拖欠农民工工资", "channel": "来信", "category": "劳动社保", "location": "county_a",
        "request": "要求支付拖欠工资三万元", "facts": "工地完工后承包方拒付", "registering_unit": "city_bureau",
        "petitioner": {"name": "李建国", "phone": "13800001111", "id_number": "410121198001021234",
                       "address": "东城县建设路12号"}}, actor="registrar")
    triage = next(t for t in view.tasks if t.name == "分流研判")
    rt.complete(triage.id, {"route": "交办转送"}, actor="registrar")
    return url, container, view.id


def test_deadline_turns_red_after_the_clock_moves(served_case, page):  # noqa: F811
    url, container, case_id = served_case
    sign_in(page, url, "handler")
    page.goto(f"{url}/cases/{case_id}")
    row = page.locator("#tasks tbody tr").first
    assert row.get_attribute("data-alert") == "green"
    assert page.locator("#overdue-banner").count() == 0
    page.locator("#deadlines details.how summary").first.click()
    assert "5个工作日（WD5）" in page.locator("#deadlines details.how pre").first.inner_text()
    page.wait_for_selector("#case-diagram[data-ready='1']")
    screenshot(page, "casepage-green")

    container.set_clock(container.clock.now() + timedelta(days=20))
    page.reload()
    banner = page.locator("#overdue-banner")
    assert banner.is_visible() and "超期" in banner.inner_text()
    row = page.locator("#tasks tbody tr").first
    assert row.get_attribute("data-alert") == "red"
    assert row.locator(".alert.red").inner_text() == "超期"
    assert page.locator("#deadlines tr[data-alert='red']").count() >= 1
    page.wait_for_selector("#case-diagram[data-ready='1']")
    screenshot(page, "casepage-red")


def test_handler_of_another_county_gets_the_403_page(served_case, page):  # noqa: F811
    url, _container, case_id = served_case
    sign_in(page, url, "handler_b")
    response = page.goto(f"{url}/cases/{case_id}")
    assert response.status == 403
    assert page.locator("h1").inner_text() == "无权访问"
    assert "不属于您服务的单位" in page.locator("main").inner_text()
    assert "企业拖欠农民工工资" not in page.content()
    screenshot(page, "casepage-403")


def test_diagram_marks_the_active_task(served_case, page):  # noqa: F811
    url, _container, case_id = served_case
    sign_in(page, url, "handler")
    page.goto(f"{url}/cases/{case_id}")
    page.wait_for_selector("#case-diagram[data-ready='1']")
    active = page.locator("#case-diagram g.djs-element[data-element-id='Task_sign']")
    assert "lx-active" in active.get_attribute("class")
    done = page.locator("#case-diagram g.djs-element[data-element-id='Task_triage']")
    assert "lx-completed" in done.get_attribute("class") and "lx-active" not in done.get_attribute("class")
    page.locator("#diagram-card").screenshot(path=screenshot(page, "casepage-full"))


def test_notice_prints_as_a_sheet(served_case, page):  # noqa: F811
    url, _container, case_id = served_case
    sign_in(page, url, "registrar")
    page.goto(f"{url}/cases/{case_id}")
    assert page.locator("#petitioners [data-field='phone']").inner_text() == "13800001111"
    page.goto(f"{url}/cases/{case_id}/documents/transfer.html")
    assert page.locator(".sheet h1").inner_text() == "信访事项转送告知书"
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible() and not page.locator(".notice-tools").is_visible()
    screenshot(page, "casepage-notice-print")
