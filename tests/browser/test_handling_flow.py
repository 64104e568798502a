"""In headless Chromium: a registrar registers a petition through the page (petitioner rows added and removed,
the category tree), gets the case number and query code, triages it; the responsible unit's handler claims and
completes signing, acceptance and the reply through the JSON-Schema forms; a wrong entry shows its error next to
the field; a second registration of the same petitioner is offered as a repeat and merged."""
import pytest

from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
TITLE = "社区就业补贴未发放"


def open_task(pg, url, name):
    pg.goto(url + "/tasks?scope=unit")
    row = pg.locator("table.tasks tr", has_text=TITLE).filter(has_text=name)
    assert row.count() == 1, pg.content()[:2000]
    with pg.expect_navigation():
        row.locator("button", has_text="认领").click()
    row = pg.locator("table.tasks tr", has_text=TITLE).filter(has_text=name)
    with pg.expect_navigation():
        row.locator("a.button", has_text="办理").click()
    assert pg.locator("h1").inner_text() == name


def submit(pg):
    with pg.expect_navigation():
        pg.click("form button[type=submit]:has-text('提交')")


def sign_out(pg):
    with pg.expect_navigation():
        pg.click(".topbar button:has-text('退出')")


def register_page(pg, url, title=TITLE, request="要求按政策发放就业创业补贴"):
    pg.goto(url + "/register")
    pg.select_option("#f-channel", "来访")
    pg.fill("#f-title", title)
    pg.select_option("#f-category", "劳动社保")
    pg.select_option("#f-subcategory", "就业创业")
    pg.select_option("#f-location", "county_a")
    pg.fill("#f-respondent", "东城县某街道社区")
    pg.fill("#f-facts", "2025年申请的就业创业补贴至今未发放。")
    pg.fill("#f-request", request)
    pg.fill("#f-petitioners-0-name", "陈小红")
    pg.fill("#f-petitioners-0-id_number", "410121198805011234")
    pg.fill("#f-petitioners-0-phone", "13700001111")
    pg.fill("#f-petitioners-0-address", "某某省某某市东城县幸福路8号")


def test_register_then_handle_up_to_the_reply(live_server, page):  # noqa: F811
    url, container = live_server
    from web.setup import initialise

    initialise(container, demo=True)
    sign_in(page, url, "registrar")
    register_page(page, url)
    page.click("button.add-row")
    assert page.locator("[data-table=petitioners] tbody tr").count() == 2
    page.fill("#f-petitioners-1-name", "陈大明")
    page.locator("[data-table=petitioners] tbody tr").nth(1).locator(".remove-row").click()
    assert page.locator("[data-table=petitioners] tbody tr").count() == 1
    screenshot(page, "handling-register")
    with page.expect_navigation():
        page.click("button:has-text('查重并保存')")
    case_no = page.locator("#case-no").inner_text()
    code = page.locator("#query-code").inner_text()
    assert case_no.startswith("XF410121") and len(code) == 10
    screenshot(page, "handling-registered")
    page.set_input_files("#registration-file", files=[{"name": "来信.txt", "mimeType": "text/plain",
                                                       "buffer": "信访人来信原文".encode()}])
    with page.expect_navigation():
        page.click("button:has-text('上传到案件')")
    assert "来信.txt" in page.content()  # on the case page, among the attachments

    open_task(page, url, "分流研判")
    screenshot(page, "handling-triage-form")
    page.select_option("#f-route", "重复信访")  # six routes: a select
    submit(page)  # 重复信访 needs the original's number: refused next to the field, nothing saved
    assert page.locator("#original_case_no-error").inner_text().startswith("请填写")
    assert page.locator("#f-original_case_no").get_attribute("aria-invalid") == "true"
    screenshot(page, "handling-triage-error")
    page.select_option("#f-route", "交办转送")  # six routes: a select
    submit(page)
    assert "已办理" in page.locator(".flash").inner_text()
    sign_out(page)

    sign_in(page, url, "handler")
    page.goto(url + "/tasks")
    row = page.locator("table.tasks tr", has_text=TITLE)
    assert "陈**" in row.inner_text() and "13700001111" not in page.content()
    assert row.locator(".alert").count() == 1
    screenshot(page, "handling-tasks")
    open_task(page, url, "签收或提出异议")
    page.check("input[name=sign_decision][value=签收]")
    submit(page)
    open_task(page, url, "作出受理决定")
    page.check("input[name=accepted][value=true]")
    submit(page)
    open_task(page, url, "办理并拟写答复意见")
    assert not page.locator("#f-extension_reason").is_visible()  # applies only to 申请延期
    page.check("input[name=handle_action][value=申请延期]")
    assert page.locator("#f-extension_reason").is_visible() and not page.locator("#f-reply_text").is_visible()
    page.check("input[name=handle_action][value=答复]")
    assert not page.locator("#f-extension_reason").is_visible() and page.locator("#f-reply_text").is_visible()
    page.check("input[name=outcome][value=支持]")
    page.fill("#f-reply_text", "经核查，补贴已于本月发放到位。")
    screenshot(page, "handling-reply-form")
    submit(page)
    case_id = _case_id(container, case_no)
    view = container.runtime.get_case(case_id)
    assert view.data["reply_text"] == "经核查，补贴已于本月发放到位。"
    assert [t.name for t in view.tasks] == ["审核销号"]
    page.goto(url + "/cases?q=" + case_no)
    assert page.locator("table.grid tbody tr").count() == 1 and "陈**" in page.locator("main").inner_text()
    screenshot(page, "handling-cases")
    page.goto(url + "/tasks?scope=all&lang=en")
    assert page.locator("h1").inner_text() == "Tasks"
    screenshot(page, "handling-tasks-en")
    page.goto(url + "/tasks?lang=zh_Hans_CN")
    sign_out(page)

    sign_in(page, url, "handler_b")
    response = page.goto(url + f"/cases/{case_id}")
    assert response.status == 403
    screenshot(page, "handling-other-county-403")


def test_a_repeat_is_offered_and_merged(live_server, page):  # noqa: F811
    url, container = live_server
    from web.setup import initialise

    initialise(container, demo=True)
    sign_in(page, url, "registrar")
    register_page(page, url)
    with page.expect_navigation():
        page.click("button:has-text('查重并保存')")
    first_no = page.locator("#case-no").inner_text()
    register_page(page, url, title="就业补贴还没发", request="再次反映补贴没有发放")
    with page.expect_navigation():
        page.click("button:has-text('查重并保存')")
    box = page.locator("section.repeats")
    assert first_no in box.inner_text() and "同一证件号码" in box.inner_text()
    screenshot(page, "handling-repeats")
    with page.expect_navigation():
        page.click("button:has-text('合并到原件')")
    assert f"并入原件 {first_no}" in page.locator("main").inner_text()


def _case_id(container, case_no):
    from sqlalchemy import select

    from services.store.handling import RegistrationIndex

    with container.session_factory() as s:
        return s.scalar(select(RegistrationIndex.case_id).where(RegistrationIndex.case_no == case_no))

