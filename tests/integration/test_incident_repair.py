"""Cases in incident: the admins' list (page and JSON), repairing a failing step's data and retrying, moving a case
to another step, who may do each, the journal and timeline entries, replay and verification afterwards; and a
registration whose start fails leaves nothing behind. Runs on both databases."""
from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import func, select, update

from engine.store import Case, Incident, JournalEvent
from services import audit_export
from services.case_timeline import timeline
from services.store.parties import Party
from tests.integration.test_handling_api import PETITION
from tests.support.web import api_sign_in, csrf_of, office_app, page_sign_in


@pytest.fixture
def app(container):
    return office_app(container)


@pytest.fixture
def clients(app):
    made = {}

    def client(user):
        if user not in made:
            made[user] = api_sign_in(app, user)
        return made[user]
    return client


def post(clients, user, path, body):
    c, h = clients(user)
    return c.post(path, json=body, headers=h)


def bad_co_unit_case(clients, container) -> int:
    """A case whose triage named a co-unit the organisation does not have: the engine takes it (the form would
    not), and 核定责任单位 fails."""
    r = post(clients, "registrar", "/api/cases", PETITION)
    assert r.status_code == 201, r.get_json()
    case_id = r.get_json()["id"]
    rt = container.runtime
    view = rt.complete(rt.get_case(case_id).tasks[0].id, {"route": "交办转送", "co_units": ["no_such_unit"]},
                       "registrar")
    assert view.status == "incident"
    return case_id


def journal(container, case_id, kind):
    with container.session_factory() as s:
        rows = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id, JournalEvent.type == kind)
                         .order_by(JournalEvent.seq)).all()
        return [(r.actor, r.element_id, json.loads(r.data)) for r in rows]


def test_list_of_cases_in_incident_for_admins_only(app, clients, container):
    case_id = bad_co_unit_case(clients, container)
    c, _ = clients("admin")
    rows = c.get("/api/admin/incidents").get_json()["incidents"]
    row = next(r for r in rows if r["case_id"] == case_id)
    assert row["step"] == "核定责任单位" and row["element_id"] == "Task_resolve_unit"
    assert row["category"] == "unknown_unit" and "no_such_unit" in row["plain"]
    assert "组织机构" in row["todo"] and row["process_key"] == "petition_case" and row["version"] == 1
    assert row["case_no"] == container.runtime.get_case(case_id).data["case_no"]
    for user in ("registrar", "bureau", "auditor", "designer"):
        assert clients(user)[0].get("/api/admin/incidents").status_code == 403, user
    page = page_sign_in(app, "admin").get("/admin/incidents")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "核定责任单位" in html and row["case_no"] in html
    assert f"/cases/{case_id}" in html and "不在组织机构中" in html
    refused = page_sign_in(app, "bureau").get("/admin/incidents")
    assert refused.status_code == 403 and "核定责任单位" not in refused.get_data(as_text=True)


def test_repair_is_checked_journaled_and_the_case_continues(app, clients, container):
    case_id = bad_co_unit_case(clients, container)
    path = f"/api/admin/incidents/{case_id}/repair"
    detail = clients("admin")[0].get(f"/api/admin/incidents/{case_id}").get_json()
    items = {i["key"]: i for i in detail["failing"][0]["fields"]}
    assert json.loads(items["co_units"]["json"]) == ["no_such_unit"]
    assert not items["petitioner"]["editable"] and "张三" not in json.dumps(detail, ensure_ascii=False)

    refusals = [
        ({"key": "co_units", "value_json": "[\"county_a_housing\"", "reason": "x"}, "JSON"),
        ({"key": "co_units", "value": ["also_unknown"], "reason": "写错了"}, "不在组织机构中"),
        ({"key": "co_units", "value": "county_a_housing", "reason": "写错了"}, "表单"),
        ({"key": "co_units", "value": ["county_a_housing"], "reason": "  "}, "理由"),
        ({"key": "petitioner", "value": {"name": "李四"}, "reason": "改名"}, "个人信息"),
        ({"key": "co_units", "value": [{"phone": "13800000000"}], "reason": "x"}, "个人信息"),
        ({"key": "co_units", "value_json": "\"" + "x" * 20000 + "\"", "reason": "x"}, "太大"),
        ({"key": "facts", "value": "x" * 20000, "reason": "x"}, "太大"),
    ]
    for payload, words in refusals:
        r = post(clients, "admin", path, payload)
        assert r.status_code == 422, (payload, r.get_json())
        assert words in r.get_json()["error"]["message"], r.get_json()
    for user in ("bureau", "registrar", "county"):
        assert post(clients, user, path, {"key": "co_units", "value": ["county_a_housing"],
                                          "reason": "写错了"}).status_code == 403
    assert journal(container, case_id, "incident.data_repaired") == []  # nothing refused reached the journal

    r = post(clients, "admin", path, {"key": "co_units", "value": ["county_a_housing"],
                                      "reason": "分流时误填了协办单位代码", "retry": True})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "waiting" and r.get_json()["tasks"] == ["签收或提出异议"]
    [(actor, element_id, data)] = journal(container, case_id, "incident.data_repaired")
    assert actor == "admin" and element_id == "Task_resolve_unit"
    assert data["before"] == ["no_such_unit"] and data["after"] == ["county_a_housing"]
    assert data["reason"] == "分流时误填了协办单位代码" and data["had_key"] is True
    assert [a for a, _, _ in journal(container, case_id, "incident.retried")] == ["admin"]
    source, changes = audit_export.changes_of({"type": "incident.data_repaired", "data": data})
    assert source == "repair" and changes[0] == {"field": "co_units", "before": ["no_such_unit"],
                                                 "after": ["county_a_housing"]}
    rt = container.runtime
    assert rt.get_case(case_id).data["assignment"]["co_units"][0]["unit"] == "county_a_housing"
    assert rt.verify(case_id).ok
    assert rt.replay(case_id).status == "waiting"
    entries = [e for e in timeline(rt.history(case_id)) if e.kind == "incident"]
    repaired = next(e for e in entries if "修正" in e.text)
    assert repaired.actor == "admin" and "核定责任单位" in repaired.text and "co_units" in repaired.text
    assert "分流时误填了协办单位代码" in repaired.detail and "no_such_unit" in repaired.detail
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Incident).where(Incident.case_id == case_id,
                                                                          Incident.resolved_at.is_(None))) == 0
    assert post(clients, "admin", path, {"key": "co_units", "value": [], "reason": "x"}).status_code == 409


def test_move_to_a_step_by_name(app, clients, container):
    case_id = bad_co_unit_case(clients, container)
    path = f"/api/admin/incidents/{case_id}/move"
    steps = clients("admin")[0].get(f"/api/admin/incidents/{case_id}").get_json()["steps"]
    triage = next(st for st in steps if st["name"] == "分流研判")
    assert triage["kind"] == "人工环节"
    assert post(clients, "bureau", path, {"element_id": triage["element_id"], "reason": "重新研判"}).status_code == 403
    r = post(clients, "admin", path, {"element_id": triage["element_id"], "reason": ""})
    assert r.status_code == 422 and "理由" in r.get_json()["error"]["message"]
    r = post(clients, "admin", path, {"element_id": "No_such_step", "reason": "重新研判"})
    assert r.status_code == 422 and "没有环节" in r.get_json()["error"]["message"]
    assert journal(container, case_id, "case.moved") == []

    r = post(clients, "admin", path, {"element_id": triage["element_id"], "reason": "协办单位有误，退回重新研判"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "waiting" and r.get_json()["tasks"] == ["分流研判"]
    [(actor, element_id, data)] = journal(container, case_id, "case.moved")
    assert actor == "admin" and element_id == triage["element_id"] and data["target_name"] == "分流研判"
    assert data["removed"] == ["Task_resolve_unit"] and data["reason"] == "协办单位有误，退回重新研判"
    rt = container.runtime
    assert rt.verify(case_id).ok and rt.replay(case_id).status == "waiting"
    moved = next(e for e in timeline(rt.history(case_id)) if e.text.endswith("将案件移至「分流研判」"))
    assert moved.actor == "admin" and "协办单位有误" in moved.detail
    # the case goes on from there, and still replays
    view = rt.complete(rt.get_case(case_id).tasks[0].id, {"route": "交办转送", "co_units": ["county_a_housing"]},
                       "registrar")
    assert view.status == "waiting" and [t.name for t in view.tasks] == ["签收或提出异议"]
    assert rt.verify(case_id).ok
    # a case not in incident is not moved
    r = post(clients, "admin", path, {"element_id": triage["element_id"], "reason": "再来一次"})
    assert r.status_code == 409


def test_bureau_may_retry_but_not_repair(app, clients, container):
    case_id = bad_co_unit_case(clients, container)
    assert post(clients, "registrar", f"/api/cases/{case_id}/incidents/retry", {}).status_code == 403
    r = post(clients, "bureau", f"/api/cases/{case_id}/incidents/retry", {})
    assert r.status_code == 200 and r.get_json()["status"] == "incident"  # same data, same failure
    assert [a for a, _, _ in journal(container, case_id, "incident.retried")] == ["bureau"]


def test_repair_and_move_pages(app, clients, container):
    case_id = bad_co_unit_case(clients, container)
    admin = page_sign_in(app, "admin")
    assert f"/admin/incidents/{case_id}" in admin.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f"/admin/incidents/{case_id}" not in page_sign_in(app, "bureau").get(f"/cases/{case_id}").get_data(
        as_text=True)
    page = admin.get(f"/admin/incidents/{case_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "修正数据" in html and "分流研判" in html
    token = csrf_of(html)
    version = container.runtime.get_case(case_id).version
    r = admin.post(f"/admin/incidents/{case_id}/repair", data={
        "csrf_token": token, "key": "co_units", "value": "[\"county_a_housing\"", "reason": "误填",
        "version": str(version), "retry": "1"})
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and "JSON" in text and "[&#34;county_a_housing&#34;" in text  # typed value kept
    r = admin.post(f"/admin/incidents/{case_id}/repair", data={
        "csrf_token": token, "key": "co_units", "value": "[\"county_a_housing\"]", "reason": "误填",
        "version": str(version), "retry": "1"})
    assert r.status_code in (302, 303)
    assert container.runtime.get_case(case_id).status == "waiting"
    assert page_sign_in(app, "bureau").post(f"/admin/incidents/{case_id}/retry",
                                            data={"csrf_token": token}).status_code == 403


def _broken(handler):
    def fail(arg, ctx):
        raise ValueError("编号规则设置有误：缺少登记机关代码（broken numbering setting）")
    return dataclasses.replace(handler, fn=fail)


def test_registration_whose_start_fails_leaves_nothing(app, clients, container, monkeypatch):
    registry = container.runtime.handlers
    monkeypatch.setitem(registry._handlers, "issue_case_number", _broken(registry.get("issue_case_number")))
    r = post(clients, "registrar", "/api/cases", PETITION)
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == "start_failed" and "登记未保存" in err["message"] and "编号并生成查询码" in err["message"]
    assert "缺少登记机关代码" in err["message"] and err["details"]["step"] == "编号并生成查询码"
    with container.session_factory() as s:
        for table in (Case, JournalEvent, Incident, Party):
            assert s.scalar(select(func.count()).select_from(table)) == 0, table
    page = page_sign_in(app, "registrar")
    form = page.get("/register").get_data(as_text=True)
    r = page.post("/register", data={
        "csrf_token": csrf_of(form), "action": "save", "channel": "来访", "title": PETITION["title"],
        "category": PETITION["category"], "subcategory": PETITION["subcategory"], "location": "county_a",
        "respondent": PETITION["respondent"], "facts": PETITION["facts"], "request": PETITION["request"],
        "petitioners-0-name": "张三", "petitioners-0-id_number": PETITION["petitioners"][0]["id_number"],
        "petitioners-0-phone": "13812345678", "petitioners-0-address": "东城县人民路1号"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "登记未保存" in html and PETITION["title"] in html
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
    monkeypatch.undo()
    r = post(clients, "registrar", "/api/cases", PETITION)
    assert r.status_code == 201 and r.get_json()["status"] == "waiting"


def test_a_move_that_fails_again_can_be_moved_once_more(app, clients, container):
    """Moving to 签收 without a 转送 record fails while its deadline is computed (no step in ERROR then): the
    case can still be moved, back to 分流研判, and goes on from there."""
    case_id = bad_co_unit_case(clients, container)
    rt = container.runtime
    sign = next(st for st in rt.failing_steps(case_id)["steps"] if st["name"].startswith("签收（"))
    view = rt.move_to_step(case_id, sign["element_id"], "admin", "直接签收")
    assert view.status == "incident" and rt.failing_steps(case_id)["failing"] == []
    r = post(clients, "admin", f"/api/admin/incidents/{case_id}/repair",
             {"key": "route", "value": "交办转送", "reason": "x"})
    assert r.status_code == 409 and "移至" in r.get_json()["error"]["message"]  # says what to do instead
    r = post(clients, "admin", f"/api/admin/incidents/{case_id}/move", {"element_id": "Task_triage",
                                                                        "reason": "退回重新研判"})
    assert r.status_code == 200 and r.get_json()["tasks"] == ["分流研判"], r.get_json()
    view = rt.complete(rt.get_case(case_id).tasks[0].id, {"route": "交办转送", "co_units": []}, "registrar")
    assert view.status == "waiting" and [t.name for t in view.tasks] == ["签收或提出异议"]
    assert view.deadlines and rt.verify(case_id).ok
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Incident).where(Incident.case_id == case_id,
                                                                          Incident.resolved_at.is_(None))) == 0


def test_a_confidential_case_in_incident_is_counted_for_admins_but_shown_and_retried_only_by_its_unit(
        app, clients, container):
    """An accusation (the discipline track) in incident: the admins' list counts it without its content, its
    incident page and JSON refuse admins, and only the people of the discipline body that holds it may retry it."""
    case_id = bad_co_unit_case(clients, container)
    with container.session_factory() as s, s.begin():
        s.execute(update(Case).where(Case.id == case_id).values(confidential=True, confidential_unit="county_a_cdi"))
    c, _ = clients("admin")
    listed = c.get("/api/admin/incidents").get_json()
    assert case_id not in [r["case_id"] for r in listed["incidents"]] and listed["confidential_hidden"] == 1
    html = page_sign_in(app, "admin").get("/admin/incidents").get_data(as_text=True)
    assert "1 件保密案件" in html and f"/admin/incidents/{case_id}" not in html and "核定责任单位" not in html
    assert page_sign_in(app, "admin").get(f"/admin/incidents/{case_id}").status_code in (403, 404)
    assert c.get(f"/api/admin/incidents/{case_id}").status_code in (403, 404)
    assert post(clients, "bureau", f"/api/cases/{case_id}/incidents/retry", {}).status_code in (403, 404)
    r = post(clients, "a_cdi", f"/api/cases/{case_id}/incidents/retry", {})
    assert r.status_code == 200 and r.get_json()["status"] == "incident"
    assert [a for a, _, _ in journal(container, case_id, "incident.retried")] == ["a_cdi"]
