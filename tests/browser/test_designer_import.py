"""Issue #19 point 5 in headless Chromium: a designer imports a foreign BPMN file with a JUEL condition, sees the
problem marked on its flow with the suggested Python, fixes the condition in the properties panel and deploys."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_designer import lianxin_field
from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)
from web.setup import initialise

pytestmark = pytest.mark.browser
JUEL = Path(__file__).resolve().parents[1] / "fixtures" / "bpmn" / "imports" / "juel_petition.bpmn"


def test_import_a_foreign_file_see_the_juel_condition_marked_fix_it_and_deploy(live_server, page):  # noqa: F811
    url, c = live_server
    initialise(c, demo=True)
    sign_in(page, url, "designer")
    page.goto(f"{url}/designer")
    page.set_input_files("#import-file", str(JUEL))
    with page.expect_navigation():
        page.click("#import-form button[type=submit]")
    assert page.url.endswith("/designer/Foreign_petition/edit")
    page.wait_for_selector('#designer[data-ready="1"]', timeout=60_000)
    assert "导入的新流程" in page.locator("#designer-base").inner_text()
    # opened with its problems listed and marked: the JUEL condition, with the Python to write
    page.wait_for_selector("#designer-problems:not([hidden]) li")
    problem = page.locator("#problem-list li").first.inner_text()
    assert "JUEL" in problem and "accepted == 'yes'" in problem
    assert page.locator('#designer-canvas .djs-element.lx-problem[data-element-id="Flow_yes"]').count() == 1
    screenshot(page, "designer-import-problems")

    page.click("#problem-list li.clickable")  # the problem takes the designer to its flow
    page.wait_for_selector('[data-group-id="group-lianxin"]')
    assert page.evaluate("window.lianxinModeler.get('selection').get().map(e => e.id)") == ["Flow_yes"]
    condition = lianxin_field(page, "lianxin-condition")
    assert condition.input_value() == "${accepted == 'yes'}"
    condition.fill("accepted == 'yes'")
    condition.press("Tab")
    page.click("#btn-validate")
    expect(page.locator("#designer-status")).to_contain_text("校验通过", timeout=30_000)
    assert page.locator(".djs-element.lx-problem").count() == 0

    page.click("#btn-deploy")
    page.fill("#deploy-comment", "导入外部信访流程，条件改为 Python")
    page.click("#deploy-submit")
    page.wait_for_selector("#designer-deployed:not([hidden])")
    assert "已部署为第 1 版" in page.locator("#designer-deployed-text").inner_text()
    screenshot(page, "designer-import-deployed")
    [row] = [d for d in c.runtime.list_definitions() if d["key"] == "Foreign_petition"]
    assert row["versions"][-1]["version"] == 1
