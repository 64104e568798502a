"""The petitioners' portal in a real browser on a 390 px wide phone: sign in with the SMS code read from the local
SMS gateway, submit a petition, follow it, read the reply (处理意见书) once the office has answered, rate it and
request a review (复查). No staff account on the petitioner's side; the office's steps run through the runtime."""
import re
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from tests.integration.test_notifications import SmsGateway
from tests.support.browser import page, screenshot  # noqa: F401  (fixtures)
from tests.support.db import make_container
from tests.support.web import office_app
from web.notify_setup import build_deliverer

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
PHONE = "13912345678"
OFFICE_STEPS = [("registrar", "分流研判", {"route": "交办转送"}),
                ("handler", "签收或提出异议", {"sign_decision": "签收"}),
                ("handler", "作出受理决定", {"accepted": True, "acceptance_note": "由本局办理"}),
                ("handler", "办理并拟写答复意见", {"handle_action": "答复", "outcome": "支持",
                                                  "reply_text": "经核查，企业已承诺补发工资"}),
                ("bureau", "审核销号", {"signoff_approved": True})]


@pytest.fixture
def portal_server(sqlite_url, clock, tmp_path):
    gateway = SmsGateway()
    c = make_container(sqlite_url, clock, tmp_path, sms_gateway_url=gateway.url)
    server = make_server("127.0.0.1", 0, office_app(c), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", c, gateway
    server.shutdown()
    thread.join(timeout=5)
    gateway.close()
    c.engine.dispose()


def texts_to(c, gateway, phone: str) -> list[str]:
    build_deliverer(c).run_once()  # the worker's delivery of the outbox
    return [m["text"] for m in gateway.messages.values() if m["to"] == phone]


def fits_the_phone(pg) -> None:
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_petitioner_submits_follows_reads_the_reply_rates_and_requests_review_on_a_phone(portal_server, page):  # noqa: F811
    base, c, gateway = portal_server
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + "/portal")
    page.fill("#phone", PHONE)
    page.click("#send-code")
    expect(page.locator("#code-sent")).to_be_visible()
    code = re.search(r"验证码是(\d{6})", texts_to(c, gateway, PHONE)[-1]).group(1)
    page.fill("#code", code)
    page.click("#sign-in")
    expect(page.locator("h1")).to_have_text("我的信访事项")
    fits_the_phone(page)

    page.click("#new-petition")
    page.fill("#name", "王某某")
    page.fill("#title", "企业拖欠工资三个月未付")
    page.fill("#request", "要求企业支付拖欠的三个月工资")
    page.select_option("#category", "劳动社保")
    page.select_option("#location", "county_a")
    fits_the_phone(page)
    page.click("#submit-petition")
    expect(page.locator("#submitted")).to_be_visible()
    case_no = page.locator("#case-no").inner_text()
    assert any(case_no in t and "/portal" in t for t in texts_to(c, gateway, PHONE))  # the receipt SMS

    case_id = int(re.search(r"/portal/cases/(\d+)", page.content()).group(1))
    for actor, name, form in OFFICE_STEPS:
        [task] = [t for t in c.runtime.get_case(case_id).tasks if t.name == name]
        c.runtime.complete(task.id, form, actor)

    page.goto(base + "/portal")
    page.click(f"#my-cases a[href='/portal/cases/{case_id}']")
    expect(page.locator("#stage")).to_contain_text("待评价")
    page.click("#documents a[href$='/documents/reply']")
    expect(page.locator("#document h1")).to_have_text("信访事项处理意见书")
    fits_the_phone(page)
    page.go_back()
    page.reload()
    page.check("input[name=rating][value=不满意]")
    page.click("#rate")
    expect(page.locator("#done")).to_contain_text("评价已记录")
    page.fill("#reason-1", "对处理意见不服，企业至今未补发工资")
    page.click(".request-review")
    expect(page.locator("#done")).to_contain_text("请求已提交")
    fits_the_phone(page)
    screenshot(page, "portal-phone")
    data = c.runtime.get_case(case_id).data
    assert data["rating"] == "不满意" and data["rating_channel"] == "网上"
    history = c.runtime.history(case_id)
    assert any(e["actor"] == "portal:139****5678" and e["type"] == "message.delivered" for e in history)
