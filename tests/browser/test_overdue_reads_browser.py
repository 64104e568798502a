"""In the browser, work past its deadline reads "已逾期 N 个工作日" (N working days overdue), never "剩 0 个工作日",
in the task list, on the task form and on the case page: the bureau's 审核异议 (5 working days from the objection,
local rule) left undone over a weekend."""
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from engine.clock import SHANGHAI
from engine.definitions import collect_files
from engine.worker import Worker
from services.organisation import load_organisation
from tests.support.browser import live_server, page, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def objection_left_undone(container) -> int:
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    rt = container.runtime
    rt.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    container.clock.set(datetime(2026, 3, 2, 9, tzinfo=SHANGHAI))  # Monday
    case = rt.start("petition_case", {"channel": "来信", "title": "企业拖欠工资", "request": "支付工资", "facts": "测试",
                                      "category": "劳动社保", "location": "county_a",
                                      "petitioner": {"name": "测试信访人"}}, "registrar")
    rt.complete(next(t for t in rt.get_case(case.id).tasks if t.name == "分流研判").id, {"route": "交办转送"},
                "registrar")
    rt.complete(next(t for t in rt.get_case(case.id).tasks if t.name == "签收或提出异议").id,
                {"sign_decision": "异议", "objection_reason": "不属本单位职责"}, "handler")
    # due Monday 03-09 24:00; on Thursday 03-12 it is overdue by 10, 11 and 12 March: 3 working days
    container.clock.set(datetime(2026, 3, 12, 9, tzinfo=SHANGHAI))
    Worker(rt, container.session_factory, container.clock).run_once()
    return case.id


def test_an_overdue_task_reads_overdue_in_the_list_the_form_and_the_case_page(live_server, page):  # noqa: F811
    url, container = live_server
    case_id = objection_left_undone(container)
    sign_in(page, url, "bureau")
    page.goto(f"{url}/tasks")
    # the 审核异议 itself, not the written feedback its 督办 asked of the bureau (a task of a linked case)
    row = page.locator("tr", has_text="审核异议").filter(has_not_text="书面反馈")
    expect(row).to_contain_text("已逾期 3 个工作日")
    expect(row).to_contain_text("3月9日")
    assert "剩 0 个工作日" not in row.inner_text()
    row.get_by_role("link").first.click()
    expect(page.locator(".due-left")).to_have_text("已逾期 3 个工作日")
    page.goto(f"{url}/cases/{case_id}")
    expect(page.locator("#tasks")).to_contain_text("已逾期 3 个工作日")
    page.goto(f"{url}/tasks?lang=en")
    expect(page.locator("tr", has_text="3 working days overdue")).to_have_count(1)
