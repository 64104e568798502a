"""The audit replay's data panel in headless Chromium shows names, not codes: case-data fields by their titles
(the variable's own name kept in a title attribute), units, processes and roles by their names, elements by theirs;
in Chinese and in English."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from engine.definitions import collect_files
from services.organisation import load_organisation
from tests.integration.test_no_raw_codes import CODES
from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("lang", ["zh_Hans_CN", "en"])
def test_the_replay_data_panel_shows_names_not_codes(live_server, page, lang):  # noqa: F811
    url, c = live_server
    with c.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    c.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    data = {"channel": "来信", "title": "企业拖欠工资", "request": "要求支付", "facts": "三个月未发工资",
            "category": "劳动社保", "location": "county_a", "petitioner": {"name": "张三丰", "phone": "13812345678"},
            "registering_unit": "city_bureau"}
    case = c.runtime.start("petition_case", data, "registrar")
    triage = [t for t in c.runtime.get_case(case.id).tasks if t.state == "open"][0]
    c.runtime.complete(triage.id, {"route": "交办转送"}, "registrar")
    last = c.runtime.history(case.id)[-1]["seq"]
    sign_in(page, url, "auditor")
    page.goto(f"{url}/audit/cases/{case.id}/replay?lang={lang}")
    expect(page.locator("#replay-canvas")).to_have_attribute("data-seq", str(last), timeout=30_000)
    panel = page.locator("#replay-data")
    expect(panel.locator("th[data-key='location']")).to_have_count(1)
    for key in ("location", "channel", "title", "category"):  # the registration fields by their titles
        assert panel.locator(f"th[data-key='{key}']").inner_text() != key
    page.eval_on_selector_all("#replay-data details", "ds => ds.forEach(d => d.open = true)")
    shown = panel.inner_text() + page.locator("#replay-step").inner_text() + \
        page.locator("#replay-deadlines").inner_text()
    assert not [code for code in CODES if code in shown], shown
    assert panel.locator("th[data-key='location']").get_attribute("title") == "location"
    assert "东城县" in shown  # county_a by its name
    screenshot(page, f"replay-names-{lang[:2]}")
