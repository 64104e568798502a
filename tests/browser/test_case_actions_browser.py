"""In headless Chromium (issue #18, points 3 and 5): the city bureau issues a 督办 from the case page after reading
on the confirmation page what it will do; a registrar registers a petition and prints the 登记回执 with the query
code while it is still on the page (not the confirmation page). Screenshots in test-artifacts/."""
import pytest

from tests.browser.test_handling_flow import register_page
from tests.integration.test_governed_clocks import accepted_case
from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)
from web.setup import initialise

pytestmark = pytest.mark.browser


def test_the_bureau_issues_a_supervision_from_the_case_page_after_confirming(live_server, page):  # noqa: F811
    url, container = live_server
    initialise(container, demo=True)
    case_id = accepted_case(container)
    sign_in(page, url, "bureau")
    page.goto(url + f"/cases/{case_id}")
    actions = page.locator("#case-actions")
    assert "督办东城县人力资源和社会保障局" in actions.inner_text()
    screenshot(page, "case-actions")
    with page.expect_navigation():
        page.click("#action-supervise")
    will = page.locator("#will").inner_text()
    assert "将以市信访局名义督办东城县人力资源和社会保障局办理「办理并拟写答复意见」" in will and "理由必填" in will
    assert not [e for e in container.runtime.history(case_id) if e["type"] == "case.supervised"]  # not yet
    page.fill("#reason", "信访人多次来电反映进展缓慢")
    screenshot(page, "case-action-supervise-confirm")
    with page.expect_navigation():
        page.click("#confirm")
    assert "已督办东城县人力资源和社会保障局" in page.locator(".flash").first.inner_text()
    timeline = page.locator("#timeline").inner_text()
    assert "督办东城县人力资源和社会保障局办理「办理并拟写答复意见」" in timeline and "信访人多次来电反映进展缓慢" in timeline
    assert page.locator("#linked-cases").is_visible()
    screenshot(page, "case-action-supervised")
    [event] = [e for e in container.runtime.history(case_id) if e["type"] == "case.supervised"]
    assert event["actor"] == "bureau"


def test_a_registrar_prints_the_registration_receipt_right_after_registering(live_server, page):  # noqa: F811
    url, container = live_server
    initialise(container, demo=True)
    sign_in(page, url, "registrar")
    register_page(page, url)
    page.fill("#f-petitioners-0-id_number", "410121199001031234")  # a number whose check digit is right
    with page.expect_navigation():
        page.click("button:has-text('查重并保存')")
    case_no = page.locator("#case-no").inner_text()
    code = page.locator("#query-code").inner_text()
    assert len(code) == 10
    with page.context.expect_page() as opened:
        page.click("#print-receipt")
    receipt = opened.value
    receipt.wait_for_load_state()
    sheet = receipt.locator("article.sheet").inner_text()
    assert "信访事项登记回执" in sheet and case_no in sheet and code in sheet
    assert "15日内" in sheet and "60日内" in sheet and "/query" in sheet
    assert receipt.locator("button[data-print]").is_visible()  # prints this sheet, not the confirmation page
    screenshot(receipt, "registration-receipt")
    receipt.emulate_media(media="print")
    assert not receipt.locator(".notice-tools").is_visible()
    screenshot(receipt, "registration-receipt-print")
