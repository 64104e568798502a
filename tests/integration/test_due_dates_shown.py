"""A deadline ending at 24:00 of a day reads as that day everywhere a person sees it: the task list, the task form,
the case page, the API's display field and the audit export, in Chinese and in English; once it has passed,
the work shows how many working days it is overdue (working-day calendar, not calendar days). Both databases.

The tester's case: a sign-off deadline of Monday 2026-12-14, stored as the instant 2026-12-15 00:00 Beijing time,
was shown as 12月15日, and overdue work read "剩 0 个工作日"."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime

import pytest

from engine.clock import SHANGHAI
from tests.support.db import first_case_id
from tests.support.web import api_sign_in, office_app, page_sign_in

FORM = {"channel": "来访", "title": "企业拖欠三个月工资", "category": "劳动社保", "subcategory": "拖欠工资",
        "location": "county_a", "respondent": "某某建筑公司", "request": "要求支付拖欠的三个月工资",
        "petitioners-0-name": "张三", "petitioners-0-id_number": "410121199001031234",
        "petitioners-0-phone": "13812345678", "petitioners-0-address": "东城县人民路1号"}
END_OF_14TH = datetime(2026, 12, 15, 0, 0, tzinfo=SHANGHAI)  # 2026-12-14 24:00
SIGN = "签收或提出异议"



@pytest.fixture
def app(container):
    return office_app(container)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture
def sign_task(app, container):
    """A case dispatched on Monday 2026-12-07: its sign-off (5 working days) falls due on Monday 14 December."""
    container.clock.set(datetime(2026, 12, 7, 10, 0, tzinfo=SHANGHAI))
    c = page_sign_in(app, "registrar")
    page = c.get("/register").get_data(as_text=True)
    c.post("/register", data=dict(FORM, csrf_token=_csrf(page), action="check"))
    view = container.runtime.get_case(first_case_id(container))
    container.runtime.complete(view.tasks[0].id, {"route": "交办转送"}, actor="registrar")
    task = next(t for t in container.runtime.get_case(first_case_id(container)).tasks if t.name == SIGN)
    assert task.due_at == END_OF_14TH  # the stored instant is the next day's 00:00
    return task


def _task_row(page: str, task_id: int) -> str:
    return re.search(rf'<tr data-task="{task_id}">.*?</tr>', page, re.DOTALL).group(0)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_deadline_at_24_00_reads_as_its_own_day_on_every_page(app, container, sign_task):
    c = page_sign_in(app, "handler")
    row = _text(_task_row(c.get("/tasks").get_data(as_text=True), sign_task.id))
    assert "2026年12月14日" in row and "12月15日" not in row
    assert "剩 5 个工作日" in row

    form = _text(c.get(f"/tasks/{sign_task.id}").get_data(as_text=True))
    assert "2026年12月14日 24:00" in form and "12月15日" not in form

    case = c.get(f"/cases/{sign_task.case_id}").get_data(as_text=True)
    due_cells = re.findall(r'<td class="due-date">(.*?)</td>', case, re.DOTALL)
    assert due_cells and all("2026年12月14日" in _text(d) for d in due_cells), due_cells

    english = _text(_task_row(c.get("/tasks?lang=en").get_data(as_text=True), sign_task.id))
    assert "December 14, 2026" in english and "December 15" not in english
    assert "5 working days left" in english
    form_en = _text(c.get(f"/tasks/{sign_task.id}?lang=en").get_data(as_text=True))
    assert "December 14, 2026 24:00" in form_en


def test_the_api_keeps_the_instant_and_names_the_day(app, container, sign_task):
    client, _ = api_sign_in(app, "handler")
    [task] = [t for t in client.get("/api/tasks?scope=unit").get_json()["tasks"] if t["id"] == sign_task.id]
    assert datetime.fromisoformat(task["due_at"]) == END_OF_14TH  # machine-readable instant unchanged
    assert task["due_date"] == "2026-12-14" and task["overdue_workdays"] == 0


def test_the_audit_export_names_the_day_at_24_00(app, container, sign_task):
    auditor, _ = api_sign_in(app, "auditor")
    body = auditor.get(f"/api/cases/{sign_task.case_id}/export?format=csv").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert any("2026-12-14 24:00（北京时间）" in cell for row in rows for cell in row)
    assert "2026-12-15 00:00" not in body
    html = auditor.get(f"/audit/cases/{sign_task.case_id}/export/html").get_data(as_text=True)
    assert "2026-12-14 24:00（北京时间）" in html


def test_overdue_work_counts_working_days_overdue(app, container, sign_task):
    # Monday 21 December: 15-18 and 21 are five working days after the due day (seven calendar days)
    container.clock.set(datetime(2026, 12, 21, 10, 0, tzinfo=SHANGHAI))
    c = page_sign_in(app, "handler")
    row = _text(_task_row(c.get("/tasks?overdue=1").get_data(as_text=True), sign_task.id))
    assert "已逾期 5 个工作日" in row and "剩 0 个工作日" not in row and "2026年12月14日" in row
    form = _text(c.get(f"/tasks/{sign_task.id}").get_data(as_text=True))
    assert "已逾期 5 个工作日" in form and "剩" not in form.split("已逾期")[0][-20:]
    case = _text(c.get(f"/cases/{sign_task.case_id}").get_data(as_text=True))
    assert "已逾期 5 个工作日" in case
    english = _text(_task_row(c.get("/tasks?overdue=1&lang=en").get_data(as_text=True), sign_task.id))
    assert "5 working days overdue" in english

    client, _ = api_sign_in(app, "handler")
    [task] = [t for t in client.get("/api/tasks?scope=unit").get_json()["tasks"] if t["id"] == sign_task.id]
    assert task["overdue"] is True and task["overdue_workdays"] == 5 and task["due_date"] == "2026-12-14"
    deadlines = client.get(f"/api/cases/{sign_task.case_id}").get_json()["deadlines"]
    sign = [d for d in deadlines if d["state"] == "red"]
    assert sign and sign[0]["overdue_workdays"] == 5
    assert date.fromisoformat(task["due_date"]).weekday() == 0
