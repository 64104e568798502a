"""Issue #15, point 1, in headless Chromium as the bureau: the reported link `/stats?live=</script><script>...`
runs nothing, a unit named like a script is shown as text while the dashboard still draws its charts, and even
markup injected into the page cannot run an event handler under the Content-Security-Policy."""
from urllib.parse import quote

import pytest

from tests.integration.test_stats_kpis import build_scenario
from tests.support.browser import live_server, page, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
PAYLOAD = "</script><script>document.title='XSS';window.lxPwned=1</script>"
NAMED = "</script><script>document.title='XSS';window.lxPwned=2</script>"


def pwned(pg):
    return pg.evaluate("() => [window.lxPwned === undefined ? null : window.lxPwned, document.title]")


def test_the_reported_link_runs_nothing(live_server, page):  # noqa: F811
    url, container = live_server
    build_scenario(container)
    sign_in(page, url, "bureau")
    r = page.goto(url + "/stats?period=2026-03&live=" + quote(PAYLOAD))
    assert r.status == 422
    flag, title = pwned(page)
    assert flag is None and title != "XSS"
    assert "参数 live 只能是以下之一：0, 1" in page.locator("main").inner_text()


def test_a_unit_named_like_a_script_is_text_and_the_charts_draw(live_server, page, monkeypatch):  # noqa: F811
    from web.stats import pages as stats_web

    url, container = live_server
    build_scenario(container)
    ranked = stats_web.rankings
    monkeypatch.setattr(stats_web, "rankings",
                        lambda *a, **k: [dict(row, unit_name=NAMED) for row in ranked(*a, **k)])
    sign_in(page, url, "bureau")
    page.goto(url + "/stats?period=2026-03&live=1")
    for chart in ("chart-channels", "chart-rates", "chart-ranking", "chart-milestones"):
        page.wait_for_selector(f"#{chart}[data-rendered='1'] svg")
    flag, title = pwned(page)
    assert flag is None and title != "XSS"
    names = page.locator("#rankings tbody tr td:nth-child(2) a").all_inner_texts()
    assert names and set(names) == {NAMED}

    # Markup that got into the page some other way: its event handler is refused by the policy, not run.
    with page.expect_console_message(lambda msg: "Content Security Policy" in msg.text):
        page.evaluate("""() => document.body.insertAdjacentHTML("beforeend",
            '<img id="probe" src="/static/no-such-image.png" onerror="window.lxPwned = 3">')""")
    assert pwned(page)[0] is None
    assert all("inline event handler" in text or "script-src" in text for text in page.csp_refused)
    page.csp_refused.clear()  # the refusal this test provoked
