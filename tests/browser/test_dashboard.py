"""The statistics dashboard in headless Chromium: charts are drawn, and a number opens the cases behind it."""
from pathlib import Path

import pytest

from tests.integration.test_stats_kpis import build_scenario
from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_dashboard_charts_and_drill_down(live_server, page):  # noqa: F811
    url, container = live_server
    b = build_scenario(container)
    sign_in(page, url, "bureau")
    page.goto(url + "/stats?period=2026-03")
    assert page.locator("h1").inner_text() == "统计分析"
    for chart in ("chart-channels", "chart-rates", "chart-ranking", "chart-milestones"):
        page.wait_for_selector(f"#{chart}[data-rendered='1'] svg")
    shot = screenshot(page, "stats-dashboard")
    # the channel chart draws one bar per channel, named on its axis
    assert "领导接访" in page.locator("#chart-channels svg").inner_html()
    row = page.locator("#kpis tr[data-kpi='timely_acceptance']")
    assert row.locator("td").nth(1).inner_text() == "75.00%"
    assert Path(shot).stat().st_size > 10_000
    row.locator("td").nth(2).locator("a").click()
    page.wait_for_selector("#drill-cases")
    assert "及时受理率" in page.locator("h1").inner_text()
    numbers = page.locator("#drill-cases tbody td:first-child a").all_inner_texts()
    assert sorted(numbers) == sorted(b.case_nos[n] for n in "DHI")
    assert page.locator("#drill-cases a", has_text=b.case_nos["D"]).get_attribute("href") == f"/cases/{b.ids['D']}"
    screenshot(page, "stats-drill-down")
    # a bar of the 13710 chart opens the cases behind it: T1, met for H and I
    page.go_back()
    page.wait_for_selector("#chart-milestones[data-rendered='1'] svg")
    page.locator("#chart-milestones svg path[fill='#7a4fb5']").first.click()
    page.wait_for_selector("#drill-cases")
    assert "13710 T1" in page.locator("h1").inner_text()
    numbers = page.locator("#drill-cases tbody td:first-child a").all_inner_texts()
    assert sorted(numbers) == sorted(b.case_nos[n] for n in "HI")
    page.goto(url + "/lists?register=leader_case")
    assert page.locator("#list-rows tbody tr").count() == 2
    screenshot(page, "lists-leader-case")


def test_dashboard_in_english(live_server, page):  # noqa: F811
    url, container = live_server
    build_scenario(container)
    sign_in(page, url, "leader")  # a county leader: 东城县 and its departments only
    page.goto(url + "/stats?period=2026-03&lang=en")
    page.wait_for_selector("#chart-rates[data-rendered='1'] svg")
    assert page.locator("h1").inner_text() == "Statistics"
    assert page.locator("#kpis tr[data-kpi='received'] td").nth(2).inner_text() == "5"  # D, F, G, H, I
    assert page.locator("#rankings tbody tr").count() == 1  # only its own county is ranked
    assert "Timely" in page.locator("#chart-rates svg").inner_html()  # long names are cut short on the axis
    screenshot(page, "stats-dashboard-en-leader")
