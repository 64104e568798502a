"""In headless Chromium: at triage the registrar sees the routing table's suggestion, types part of a unit's name
into the responsible-unit field, is offered the matching units of the office's scope (GET /api/units), picks one
by name, and the case goes to that unit; a name that is no unit in scope is refused next to the field."""
import pytest
from playwright.sync_api import expect

from tests.browser.test_handling_flow import TITLE, _case_id, open_task, register_page, submit
from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)
from web.setup import initialise

pytestmark = pytest.mark.browser


def offered(pg, field):
    return pg.locator(f"#f-{field}-list option").evaluate_all("els => els.map(e => e.value)")


def test_the_registrar_picks_the_responsible_unit_by_typing_part_of_its_name(live_server, page):  # noqa: F811
    url, container = live_server
    initialise(container, demo=True)
    sign_in(page, url, "registrar")
    register_page(page, url)
    with page.expect_navigation():
        page.click("button:has-text('查重并保存')")
    case_no = page.locator("#case-no").inner_text()

    open_task(page, url, "分流研判")
    assert "东城县人力资源和社会保障局" in page.locator("#suggested-unit").inner_text()
    assert page.locator("#suggested-basis").inner_text().startswith("谁主管谁负责")
    assert not page.locator("#f-responsible_unit").is_visible()  # applies only to 交办转送
    page.select_option("#f-route", "交办转送")  # six routes: a select
    assert page.locator("#f-responsible_unit").is_visible()

    page.fill("#f-responsible_unit", "不存在的局")
    submit(page)  # no such unit: refused next to the field, nothing saved
    error = page.locator("#responsible_unit-error").inner_text()
    assert "不存在的局" in error and "列表中选择" in error

    page.select_option("#f-route", "交办转送")  # six routes: a select
    page.locator("#f-responsible_unit").fill("")
    page.locator("#f-responsible_unit").press_sequentially("住房", delay=50)
    expect(page.locator("#f-responsible_unit-list option")).to_have_count(3)  # the search's answer, not all units
    names = offered(page, "responsible_unit")
    assert names == ["市住房和城乡建设局", "东城县住房和城乡建设局", "西山县住房和城乡建设局"], names
    page.fill("#f-responsible_unit", names[1])  # the name the list offered
    page.locator("#f-co_units input").first.press_sequentially("西山县人力", delay=50)
    expect(page.locator("#f-co_units-list option")).to_have_count(1)
    assert offered(page, "co_units") == ["西山县人力资源和社会保障局"]
    page.locator("#f-co_units input").first.fill("西山县人力资源和社会保障局")
    screenshot(page, "triage-unit-picker")
    page.wait_for_load_state("networkidle")  # the pickers' searches have answered
    submit(page)
    assert "已办理" in page.locator(".flash").inner_text()

    assignment = container.runtime.get_case(_case_id(container, case_no)).data["assignment"]
    assert assignment["unit"] == "county_a_housing" and assignment["chosen_by_registrar"] is True
    assert [c["unit"] for c in assignment["co_units"]] == ["county_b_hrss"]
    assert TITLE
