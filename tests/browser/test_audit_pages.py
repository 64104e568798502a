"""The auditor's pages in headless Chromium: the replay slider moves the highlight on the diagram, a tampered case
shows a failed verification naming the first bad event."""
import json
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from engine.definitions import collect_files
from services.organisation import load_organisation
from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
DATA = {"title": "工资拖欠", "category": "劳动社保", "location": "county_a",
        "petitioner": {"name": "张三丰", "phone": "13812345678", "id_number": "410121199001031234"}}


def prepare(container):
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    rt = container.runtime
    case = rt.start("simple_case", DATA, "registrar")
    rt.complete(case.tasks[0].id, {"signed": True}, "handler")
    return case.id, rt.history(case.id)


def marked(pg, cls: str) -> set[str]:
    return set(pg.eval_on_selector_all(f".djs-element.{cls}", "els => els.map(e => e.dataset.elementId)"))


def wait_for_seq(pg, seq: int) -> None:
    # a locator assertion, not wait_for_function: that evaluates its text in the page, which the CSP forbids
    expect(pg.locator("#replay-canvas")).to_have_attribute("data-seq", str(seq), timeout=30_000)


def test_moving_the_slider_moves_the_highlight(live_server, page):  # noqa: F811
    url, container = live_server
    case_id, history = prepare(container)
    sign_in(page, url, "auditor")
    page.goto(f"{url}/audit/cases/{case_id}/replay")
    last = history[-1]["seq"]
    wait_for_seq(page, last)
    assert "Task_reply" in marked(page, "replay-active")
    assert "Task_sign" in marked(page, "replay-completed")
    assert "Flow_to_reply" in marked(page, "replay-flow")
    screenshot(page, "audit-replay-last")

    submitted = [e["seq"] for e in history if e["type"] == "task.submitted"][0]
    index = [e["seq"] for e in history].index(submitted - 1)
    page.locator("#replay-slider").fill(str(index))
    wait_for_seq(page, submitted - 1)
    active = marked(page, "replay-active")
    assert "Task_sign" in active and "Task_reply" not in active
    assert "Task_sign" not in marked(page, "replay-completed")
    assert "Flow_to_reply" not in marked(page, "replay-flow")
    assert page.locator('#replay-deadlines li[data-element="Timer_sign_limit"]').count() == 1  # shown by its name
    assert "Timer_sign_limit" not in page.locator("#replay-deadlines").inner_text()
    assert "2026 第" in page.locator("#replay-deadlines").inner_text()  # the calendar version used
    assert "138****5678" in page.locator("#replay-data").inner_text()
    assert "13812345678" not in page.content()
    screenshot(page, "audit-replay-step")

    page.click('[data-step="next"]')
    wait_for_seq(page, submitted)
    page.click('[data-step="first"]')
    wait_for_seq(page, 1)
    assert "Task_sign" not in marked(page, "replay-completed")


def test_a_tampered_case_shows_a_failed_verification(live_server, page):  # noqa: F811
    url, container = live_server
    case_id, history = prepare(container)
    sign_in(page, url, "auditor")
    page.goto(f"{url}/audit")
    assert page.locator("#cases").is_visible()
    screenshot(page, "audit-index")
    page.goto(f"{url}/audit/cases/{case_id}")
    assert page.locator("#verify-status").inner_text() == "校验通过"
    screenshot(page, "audit-history")

    target = [e for e in history if e["type"] == "task.submitted"][0]
    forged = dict(target["data"], data={"signed": False})
    with container.engine.begin() as conn:
        conn.execute(text("update journal_event set data = :d where case_id = :c and seq = :s"),
                     {"d": json.dumps(forged, ensure_ascii=False), "c": case_id, "s": target["seq"]})
    page.goto(f"{url}/audit/cases/{case_id}")
    assert page.locator("#verify-status").inner_text() == "校验未通过"
    assert page.locator("#first-bad").inner_text() == f"自第 {target['seq']} 号事件起"
    screenshot(page, "audit-tampered")
    page.goto(f"{url}/audit/cases/{case_id}/access")
    assert "audit.history" in page.locator("table.access-log").inner_text()
    screenshot(page, "audit-access")


def test_verifying_every_case_from_the_page_shows_progress_and_the_failed_case(live_server, page):  # noqa: F811
    from engine import verification_runs

    url, container = live_server
    case_id, history = prepare(container)
    other = container.runtime.start("simple_case", DATA, "registrar")
    container.runtime.complete(other.tasks[0].id, {"signed": True}, "handler")
    sound = other.id
    with container.engine.begin() as conn:
        conn.execute(text("update journal_event set data = '{}' where case_id = :c and seq = 2"), {"c": case_id})
    sign_in(page, url, "auditor")
    page.goto(f"{url}/audit")
    page.click("#verify-all")
    page.click("#start-verification")
    assert page.locator("#start-verification").is_disabled()  # one run at a time
    assert page.locator("progress").first.get_attribute("value") == "0"
    verification_runs.work(container.runtime, container.session_factory, container.clock.now, "browser-test")
    page.reload()
    run = page.locator(".verification-run").first
    assert "已完成" in run.locator("h2").inner_text()
    assert run.locator("progress").get_attribute("value") == "2" == run.locator("progress").get_attribute("max")
    assert "已校验 2 / 2 件（100%），未通过 1 件" in run.inner_text()
    link = run.locator(f'table.failures a[href="/audit/cases/{case_id}"]')
    assert link.count() == 1 and run.locator(f'a[href="/audit/cases/{sound}"]').count() == 0
    screenshot(page, "audit-verify-all")
    link.click()
    assert page.locator("#verify-status").inner_text() == "校验未通过"
