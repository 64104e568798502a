"""Steps for routing_org.feature: one petition per category registered through `POST /api/cases`, routed on the
suggested path, and the first task found in a named user's task list (`GET /api/tasks`)."""
from __future__ import annotations

import pytest
from pytest_bdd import parsers, then, when

FIRST_TASK = "签收或提出异议"
PETITIONER = {"name": "李某某", "id_number": "410121198502061234", "phone": "13900001234", "address": "某村"}


@pytest.fixture
def routed():
    """(row, case id, expected user) for each petition registered in this scenario."""
    return []


def _register(office, location: str, row: dict) -> int:
    body = {"channel": "来信", "title": f"{row['内容分类']}：{row['问题类别']}", "category": row["内容分类"],
            "subcategory": row["问题类别"], "location": location, "request": "请求依法处理",
            "facts": "事实和理由见来信", "petitioners": [dict(PETITIONER)]}
    if row["被反映单位"]:
        body["respondent"] = row["被反映单位"]
    if row["内容分类"] == "纪检监察":  # the discipline organ is chosen by the respondent's management level
        body["respondent_level"] = "县管" if location != "city" else "市管"
    r = office.post("registrar", "/api/cases", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _task(office, user: str, case_id: int, name: str):
    r = office.get(user, "/api/tasks?limit=500")
    assert r.status_code == 200, r.get_json()
    return next((t for t in r.get_json()["tasks"] if t["case_id"] == case_id and t["name"] == name), None)


@when(parsers.parse('登记员在 "{location}" 按下表各登记一件信访事项，并按建议的路径交办转送'))
def register_each(office, routed, location, datatable):
    header, *rows = datatable
    assert location in header, f"the table has no column for {location}"
    for cells in rows:
        row = dict(zip(header, (c.strip() for c in cells), strict=True))
        case_id = _register(office, location, row)
        triage = _task(office, "registrar", case_id, "分流研判")
        assert triage is not None, f"registrar has no 分流研判 for {row}"
        r = office.post("registrar", f"/api/tasks/{triage['id']}/complete", json={"data": {"route": "交办转送"}})
        refused = r.get_json().get("error") or {}
        own = [d for d in refused.get("details") or [] if d.get("field") == "responsible_unit"]
        if r.status_code == 422 and own:  # the suggestion is the registering office itself: chosen explicitly
            r = office.post("registrar", f"/api/tasks/{triage['id']}/complete",
                            json={"data": {"route": "交办转送", "responsible_unit": triage["unit"]}})
        assert r.status_code == 200, r.get_json()
        assert not r.get_json()["incidents"], (row, r.get_json()["incidents"])
        routed.append((row, case_id, row[location]))


@then(parsers.parse('每一件的 "{name}" 都在表中该地承办人的待办中，办理单位是他所在的单位'))
def first_task_reaches_a_person(office, routed, name):
    assert routed
    for row, case_id, user in routed:
        task = _task(office, user, case_id, name)
        assert task is not None, f"{user} has no {name} for {row}"
        me = office.get(user, "/api/session").get_json()
        # a department's handler holds unit_handler; a petition office's own staff do its work in their office role
        assert {"unit_handler", "county_office", "bureau"} & set(me["roles"]) and task["unit"] in me["units"], \
            (row, task["unit"], me["units"])
        case = office.get("auditor", f"/api/cases/{case_id}").get_json()
        assert case["data"]["assignment"]["unit"] == task["unit"]
        assert case["data"]["assignment"]["basis"] and "候选单位" not in case["data"]["assignment"]["basis"], row


@then("这些承办人都不是系统管理员")
def not_admins(office, routed):
    for _row, _case_id, user in routed:
        roles = office.get(user, "/api/session").get_json()["roles"]
        assert "admin" not in roles, (user, roles)
