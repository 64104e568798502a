"""The sign-off form (审核销号) in headless Chromium: the reply it decides on stands above the form's fields."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions import collect_files
from services.organisation import load_organisation
from tests.support.browser import live_server, page, screenshot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def _open(rt, case_id):
    return [t for t in rt.get_case(case_id).tasks if t.state == "open"][0]


def test_the_sign_off_form_shows_the_reply_above_its_fields(live_server, page):  # noqa: F811
    url, c = live_server
    with c.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    rt = c.runtime
    rt.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    case = rt.start("petition_case", {"channel": "来信", "title": "企业拖欠工资", "request": "要求支付",
                                      "facts": "三个月未发工资", "category": "劳动社保", "location": "county_a",
                                      "petitioner": {"name": "张三丰"}, "registering_unit": "city_bureau"}, "registrar")
    for actor, data in (("registrar", {"route": "交办转送"}), ("handler", {"sign_decision": "签收"}),
                        ("handler", {"accepted": True, "acceptance_note": "依法受理"}),
                        ("handler", {"handle_action": "答复", "outcome": "支持", "legal_basis": "《信访工作条例》第三十二条",
                                     "reply_text": "经核查，企业已于3月5日支付拖欠工资。\n请信访人核对。"})):
        rt.complete(_open(rt, case.id).id, data, actor)
    task = _open(rt, case.id)
    sign_in(page, url, "bureau")
    page.goto(f"{url}/tasks/{task.id}")
    facts = page.locator("#decision-facts")
    assert facts.is_visible()
    assert "企业已于3月5日支付拖欠工资" in facts.locator('[data-fact="reply_text"]').inner_text()
    assert facts.locator('[data-fact="legal_basis"]').inner_text() == "《信访工作条例》第三十二条"
    form = page.locator(f'form[action="/tasks/{task.id}"]')
    assert facts.bounding_box()["y"] < form.bounding_box()["y"]  # above the fields
    screenshot(page, "decision-facts-signoff")
