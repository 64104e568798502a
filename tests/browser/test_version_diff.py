"""The version diff in headless Chromium (issue #19 point 3): two versions that differ in one DMN cell and one timer;
the page lists both, marks the cell in the decision table and the timer in both diagrams."""
from __future__ import annotations

import pytest

from services.organisation import load_organisation
from services.store import drafts
from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)
from web.setup import initialise

pytestmark = pytest.mark.browser
SIGN_TIMER = 'workdays(limits["sign_workdays"], dispatch["at"])'
T4_CELL = '<outputEntry id="Out_t4"><text>10</text></outputEntry>'


def deploy_cell_and_timer_change(c) -> None:
    with c.session_factory() as s:
        base = drafts.version_row(s, "petition_case")
        files = drafts.sources_of(base)
        bundle = drafts.bundle(base, {
            "petition_case.bpmn": files["petition_case.bpmn"].replace(SIGN_TIMER, 'workdays(4, dispatch["at"])'),
            "settings.dmn": files["settings.dmn"].replace(T4_CELL, T4_CELL.replace(">10<", ">7<"))})
    versions = c.runtime.deploy(bundle, actor="designer", comment="签收期限4个工作日；阶段性方案7个工作日")
    assert [v.version for v in versions if v.process_key == "petition_case"] == [2]


def test_the_diff_lists_a_dmn_cell_and_a_timer_and_marks_them(live_server, page):  # noqa: F811
    url, c = live_server
    initialise(c)  # the processes, without the demo cases
    with c.session_factory() as s, s.begin():
        load_organisation(s, c.settings.processes_dir / "organisation.yaml", demo_users=True)
    deploy_cell_and_timer_change(c)
    sign_in(page, url, "designer")
    page.goto(f"{url}/designer/petition_case/diff?a=1&b=2")
    page.wait_for_selector('#diff[data-ready="1"]', timeout=60_000)

    assert page.locator("#diff-files li").all_inner_texts() == ["petition_case.bpmn：有修改", "settings.dmn：有修改"]
    timer = page.locator('#diff-table tr.diff-changed[data-element-id="Timer_sign_limit"]').inner_text()
    assert "计时器到期时间（timeDate）" in timer and "workdays(4" in timer and "签收或异议" in timer
    for side in ("left", "right"):
        marked = page.locator(f'#diff-{side} .djs-element.lx-changed[data-element-id="Timer_sign_limit"]')
        assert marked.count() == 1, side
    assert page.locator("#diff-left .lx-added, #diff-right .lx-removed").count() == 0

    cell = page.locator("#diff-decisions .diff-cell-change").inner_text()
    assert "第 1 行（Rule_settings_default）" in cell and "13710 群体性政策性问题阶段性方案（工作日）" in cell
    assert "10" in cell and "7" in cell and "T4 期限（10个工作日）（Timer_t4）" in cell
    marked = page.locator("#diff-decisions table.diff-dmn td.diff-cell-changed")
    assert marked.count() == 1 and marked.get_attribute("title") == "原为：10"
    assert "两个版本的流程图相同" not in page.locator("#diff").inner_text()

    page.locator('#diff-table tr[data-element-id="Timer_sign_limit"]').click()  # a row takes both views there
    box = page.locator('#diff-right [data-element-id="Timer_sign_limit"]').bounding_box()
    pane = page.locator("#diff-right").bounding_box()
    assert pane["x"] <= box["x"] <= pane["x"] + pane["width"] and pane["y"] <= box["y"] <= pane["y"] + pane["height"]
    screenshot(page, "designer-diff-cell-and-timer")
