"""The handlers' pages through the Flask test client: CSRF fields, errors next to their fields with the input kept
and nothing saved, repeats offered before saving, the task list (masked, alerts, filters saved), task forms with
a stale submission refused."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.store import Case
from tests.support.db import first_case_id
from tests.support.web import office_app, page_sign_in as signed_in

ROOT = Path(__file__).resolve().parents[2]
FORM = {"channel": "来访", "title": "企业拖欠三个月工资", "category": "劳动社保", "subcategory": "拖欠工资",
        "location": "county_a", "respondent": "某某建筑公司", "request": "要求支付拖欠的三个月工资",
        "petitioners-0-name": "张三", "petitioners-0-id_number": "410121199001031234",
        "petitioners-0-phone": "13812345678", "petitioners-0-address": "东城县人民路1号"}



@pytest.fixture
def app(container):
    return office_app(container)


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def cases_in(container) -> int:
    with container.session_factory() as s:
        return s.scalar(select(func.count()).select_from(Case))


def register(c, data, action="check"):
    page = c.get("/register").get_data(as_text=True)
    return c.post("/register", data=dict(data, csrf_token=csrf(page), action=action))


def test_register_page_has_csrf_and_the_category_tree(app):
    c = signed_in(app, "registrar")
    page = c.get("/register").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    assert '<optgroup label="劳动社保">' in page and ">拖欠工资<" in page
    assert 'value="county_a"' in page  # locations from the organisation
    assert signed_in(app, "handler").get("/register").status_code == 403


def test_register_errors_sit_next_to_fields_keep_input_and_save_nothing(app, container):
    c = signed_in(app, "registrar")
    bad = dict(FORM, title="", category="劳动社保", subcategory="噪声扰民")
    r = register(c, bad)
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert re.search(r'name="title"[^>]*aria-invalid="true"[^>]*aria-describedby="title-error"', page)
    assert 'id="title-error"' in page and "请填写“标题”" in page
    assert 'id="subcategory-error"' in page
    assert 'value="要求支付拖欠的三个月工资"' in page or "要求支付拖欠的三个月工资</textarea>" in page
    assert 'value="13812345678"' in page  # the registrar's typing is kept
    assert cases_in(container) == 0


def test_register_then_repeat_offered_and_merged(app, container):
    c = signed_in(app, "registrar")
    r = register(c, FORM)
    page = r.get_data(as_text=True)
    no = re.search(r'id="case-no"><strong>(XF\d+)</strong>', page).group(1)
    code = re.search(r'id="query-code"><strong class="code">([0-9A-Z]{10})</strong>', page).group(1)
    assert no.startswith("XF410121") and code
    again = dict(FORM, title="还是没发工资", request="再次要求支付工资")
    page = register(c, again).get_data(as_text=True)
    assert "可能重复的信访事项" in page and "合并到原件" in page and "同一证件号码" in page
    assert cases_in(container) == 1  # shown before saving
    first_id = int(re.search(r'name="merge_into" value="(\d+)"', page).group(1))
    page = register(c, dict(again, merge_into=str(first_id)), action="merge").get_data(as_text=True)
    assert f"并入原件 {no}" in page
    assert cases_in(container) == 2


def _dispatched(app, container):
    c = signed_in(app, "registrar")
    register(c, FORM)
    view = container.runtime.get_case(first_case_id(container))
    container.runtime.complete(view.tasks[0].id, {"route": "交办转送"}, actor="registrar")
    return container.runtime.get_case(first_case_id(container))


def test_task_list_masks_petitioners_shows_alerts_and_saves_filters(app, container):
    _dispatched(app, container)
    c = signed_in(app, "handler")
    page = c.get("/tasks").get_data(as_text=True)
    assert "签收或提出异议" in page and "张*" in page
    assert "13812345678" not in page and "张三" not in page
    assert re.search(r'class="alert (green|yellow|red)"', page) and "个工作日" in page
    r = c.post("/tasks/filters", data={"csrf_token": csrf(page), "name": "来访件", "channel": "来访",
                                       "scope": "unit"})
    assert r.status_code == 302
    page = c.get("/tasks").get_data(as_text=True)
    assert "来访件" in page and "channel=%E6%9D%A5%E8%AE%BF" in page
    none = c.get("/tasks?channel=来信").get_data(as_text=True)
    assert "没有符合条件的待办任务" in none
    assert c.post("/tasks/filters", data={"name": "x"}).status_code == 403  # no CSRF token


def test_task_form_validates_on_the_server_and_refuses_a_stale_submission(app, container):
    view = _dispatched(app, container)
    sign = next(t for t in view.tasks if t.name == "签收或提出异议")
    c = signed_in(app, "handler")
    page = c.get(f"/tasks/{sign.id}").get_data(as_text=True)
    assert 'name="sign_decision"' in page and f'name="version" value="{view.version}"' in page
    r = c.post(f"/tasks/{sign.id}", data={"csrf_token": csrf(page), "version": view.version,
                                          "objection_reason": "x" * 3000})
    page = r.get_data(as_text=True)
    assert 'id="sign_decision-error"' in page and 'id="objection_reason-error"' in page
    assert "x" * 3000 in page
    assert container.runtime.get_case(view.id).version == view.version  # nothing saved
    # the case changes after the form was opened (deadlines paused by the county office): a stale version
    container.runtime.pause_deadlines(view.id, "county", "信访人住院")
    moved = container.runtime.get_case(view.id).version
    assert moved > view.version
    r = c.post(f"/tasks/{sign.id}", data={"csrf_token": csrf(page), "version": view.version,
                                          "sign_decision": "签收"})
    assert "已被他人处理" in r.get_data(as_text=True)
    assert container.runtime.get_case(view.id).version == moved
    assert any(t.id == sign.id for t in container.runtime.get_case(view.id).tasks)
    # a fresh form goes through; sending it twice is refused the second time
    fresh = c.get(f"/tasks/{sign.id}").get_data(as_text=True)
    data = {"csrf_token": csrf(fresh), "version": moved, "sign_decision": "签收"}
    assert c.post(f"/tasks/{sign.id}", data=data).status_code == 302
    done = container.runtime.get_case(view.id).version
    again = c.post(f"/tasks/{sign.id}", data=data)
    assert "已被他人处理" in again.get_data(as_text=True)
    assert container.runtime.get_case(view.id).version == done


def test_case_search_by_number_and_title_masked(app, container):
    _dispatched(app, container)
    no = container.runtime.get_case(first_case_id(container)).data["case_no"]
    c = signed_in(app, "handler")
    page = c.get(f"/cases?q={no}").get_data(as_text=True)
    assert no in page and "张*" in page and "张三" not in page
    assert "企业拖欠三个月工资" in c.get("/cases?q=拖欠").get_data(as_text=True)
    assert "没有找到案件" in signed_in(app, "handler_b").get(f"/cases?q={no}").get_data(as_text=True)


def test_the_desk_in_english(app):
    c = signed_in(app, "registrar")
    page = c.get("/tasks?lang=en").get_data(as_text=True)
    assert "All I may see" in page and "Save this filter as" in page
    page = c.get("/register").get_data(as_text=True)
    assert "Check for repeats and save" in page


def test_an_overdue_item_turns_red_when_the_clock_moves(app, container):
    from datetime import timedelta

    view = _dispatched(app, container)
    c = signed_in(app, "handler")
    row = re.search(r'<tr data-task="\d+">.*?</tr>', c.get("/tasks").get_data(as_text=True), re.S).group(0)
    assert 'class="alert green"' in row
    assert "没有符合条件的待办任务" in c.get("/tasks?overdue=1").get_data(as_text=True)
    container.clock.set(container.clock.now() + timedelta(days=20))
    page = c.get("/tasks?overdue=1").get_data(as_text=True)
    assert 'class="alert red"' in page and "已超期" in page and "超期" in page
    assert view.tasks[0].name in page


def test_contact_details_in_full_only_where_the_task_needs_them(app, container):
    c = signed_in(app, "registrar")
    register(c, FORM)
    triage = container.runtime.get_case(first_case_id(container)).tasks[0]
    page = c.get(f"/tasks/{triage.id}").get_data(as_text=True)
    assert "张三 13812345678" in page  # the registrar triaging talks to the petitioner
    container.runtime.complete(triage.id, {"route": "交办转送"}, actor="registrar")
    sign = container.runtime.get_case(first_case_id(container)).tasks[0]
    page = signed_in(app, "handler").get(f"/tasks/{sign.id}").get_data(as_text=True)
    assert "张* 138****5678" in page and "13812345678" not in page


def test_reassign_from_the_task_list_to_a_colleague(app, container):
    c = signed_in(app, "registrar")
    register(c, FORM)
    triage = container.runtime.get_case(first_case_id(container)).tasks[0]
    page = c.get("/tasks").get_data(as_text=True)
    assert '<option value="designer">' in page  # colleagues of the unit offered
    r = c.post(f"/tasks/{triage.id}/reassign", data={"csrf_token": csrf(page), "to": "handler"})
    assert r.status_code == 302
    assert "只能移交给" in c.get("/tasks").get_data(as_text=True)  # not of the unit: refused, nothing changed
    assert container.runtime.get_case(first_case_id(container)).tasks[0].assignee is None
    r = c.post(f"/tasks/{triage.id}/delegate", data={"csrf_token": csrf(page), "to": "designer"})
    assert r.status_code == 302
    assert container.runtime.get_case(first_case_id(container)).tasks[0].assignee == "designer"
    assert "任务已移交给 designer" in c.get("/tasks").get_data(as_text=True)


def test_a_registration_sent_twice_is_saved_once(app, container):
    c = signed_in(app, "registrar")
    page = c.get("/register").get_data(as_text=True)
    nonce = re.search(r'name="nonce" value="([0-9a-f]{32})"', page).group(1)
    data = dict(FORM, csrf_token=csrf(page), nonce=nonce, action="save")
    first = c.post("/register", data=data).get_data(as_text=True)
    again = c.post("/register", data=data).get_data(as_text=True)
    no = re.search(r'id="case-no"><strong>(XF\d+)</strong>', first).group(1)
    assert no in again and "未重复登记" in again
    assert cases_in(container) == 1
    code = re.search(r'id="query-code"><strong class="code">([0-9A-Z]{10})</strong>', first).group(1)
    assert code not in again and "系统不保存查询码" in again  # shown once; not kept in the session either
