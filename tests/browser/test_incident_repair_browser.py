"""An admin gets a stuck case going again in headless Chromium: the case's triage named a co-unit the organisation
does not have (put in through the engine, as the form would refuse it), 核定责任单位 failed; the admin finds the case
on /admin/incidents, reads what went wrong in plain words, corrects the co-unit with a reason, and the retry sends
the case on to 签收."""
from pathlib import Path

import pytest

from engine.definitions import collect_files
from services.organisation import load_organisation
from tests.integration.test_handling_api import PETITION
from tests.support.browser import live_server, page  # noqa: F401  (fixtures)
from tests.support.web import api_sign_in
from web.app import create_app

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def test_admin_repairs_a_bad_co_unit_and_the_case_continues(live_server, page):  # noqa: F811
    url, container = live_server
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    rt = container.runtime
    rt.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    client, headers = api_sign_in(create_app(container), "registrar")
    case_id = client.post("/api/cases", json=PETITION, headers=headers).get_json()["id"]
    view = rt.complete(rt.get_case(case_id).tasks[0].id, {"route": "交办转送", "co_units": ["county_a_hosing"]},
                       "registrar")
    assert view.status == "incident"
    case_no = view.data["case_no"]

    r = page.request.post(url + "/api/session", data={"username": "admin", "password": "demo"})
    assert r.status == 201
    page.goto(url + "/admin/incidents")
    row = page.locator(f"#incidents tr[data-case-id='{case_id}']")
    assert case_no in row.inner_text() and "核定责任单位" in row.inner_text()
    assert "单位代码在组织机构中不存在" in row.locator(".plain").inner_text()
    shots = ROOT / "test-artifacts"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / "incidents.png"), full_page=True)

    row.get_by_role("link", name="处理故障").click()
    assert page.locator("tr[data-key='co_units']").inner_text().endswith('["county_a_hosing"]')
    page.select_option("#key", "co_units")
    page.fill("#value", '["county_a_housing"]')
    page.click("#repair-submit")  # no reason: refused, nothing lost
    assert "请填写修正理由" in page.locator(".flash.error").inner_text()
    assert page.input_value("#value") == '["county_a_housing"]'
    assert rt.get_case(case_id).status == "incident"

    page.fill("#reason", "分流时协办单位代码拼错")
    page.click("#repair-submit")
    assert "已修正“co_units”并重试" in page.locator(".flash").first.inner_text()
    assert page.locator("#no-incidents").is_visible()
    page.screenshot(path=str(shots / "incidents-repaired.png"), full_page=True)
    view = rt.get_case(case_id)
    assert view.status == "waiting" and [t.name for t in view.tasks] == ["签收或提出异议"]
    assert view.data["assignment"]["co_units"] == [{"unit": "county_a_housing", "unit_name": "东城县住房和城乡建设局"}]
    assert rt.verify(case_id).ok

    page.goto(url + f"/cases/{case_id}")
    body = page.locator("body").inner_text()
    assert "修正故障环节「核定责任单位」的数据项 co_units" in body and "分流时协办单位代码拼错" in body
