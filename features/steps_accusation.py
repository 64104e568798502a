"""Steps for accusation_routing.feature: accusations registered at the desk (`POST /api/cases`), routed by the
respondent's management level, seen only by the receiving unit; the deployment that would drop the route's
confidentiality. Through the HTTP API, as the office would."""
from __future__ import annotations

import io
import json

from pytest_bdd import parsers, then, when
from sqlalchemy import func, select

from engine.store import Case
from features.conftest import ROOT, process_files
from features.steps_petition import PETITIONER

YES = {"是": True, "否": False}


def _accusation(location: str, **extra) -> dict:
    return {"channel": "来信", "title": "反映某干部收受礼金", "request": "要求调查处理",
            "facts": "2025年春节期间多次收受管理对象礼金", "category": "纪检监察", "subcategory": "检举控告",
            "nature": "检举控告", "location": location, "respondent": "某局副局长",
            "petitioners": [dict(PETITIONER)], **extra}


@when(parsers.parse('登记员在登记台登记一件检举控告：问题发生地 "{location}"，被反映人管理权限 "{level}"，'
                    '涉及选人用人 "{selection}"'))
def register_accusation(office, registered, location, level, selection):
    r = office.post("registrar", "/api/cases",
                    json=_accusation(location, respondent_level=level, cadre_selection=YES[selection]))
    assert r.status_code == 201, r.get_json()
    office.case_id = r.get_json()["id"]
    registered.append(r.get_json()["case_no"])


@when("登记员在登记台登记一件检举控告，未填被反映人管理权限")
def register_accusation_without_level(office):
    with office.c.session_factory() as s:
        office.cases_before = s.scalar(select(func.count(Case.id)))
    office.last_response = office.post("registrar", "/api/cases", json=_accusation("county_a"))


@then(parsers.parse('登记被拒绝，提示 "{words}"'))
def registration_refused(office, words):
    r = office.last_response
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["error"]["details"]
    assert any(e["field"] == "respondent_level" and words in e["message"] for e in errors), errors


@then("没有保存任何案件")
def nothing_saved(office):
    with office.c.session_factory() as s:
        assert s.scalar(select(func.count(Case.id))) == office.cases_before


@when(parsers.parse('"{user}" 提交 "{name}"，填写 {data}'))
def submit_expecting_anything(office, user, name, data):
    tasks = office.get(user, "/api/tasks?scope=unit").get_json()["tasks"]
    [task] = [t for t in tasks if t["name"] == name and t["case_id"] == office.case_id]
    office.last_response = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": json.loads(data)})


@then(parsers.parse('提交被拒绝，提示 "{words}"'))
def submission_refused(office, words):
    r = office.last_response
    assert r.status_code == 422, r.get_json()
    assert words in json.dumps(r.get_json()["error"]["details"], ensure_ascii=False), r.get_json()
    case = office.get("auditor", f"/api/cases/{office.case_id}").get_json()
    assert not case["incidents"], case["incidents"]  # refused at submission, never an incident


# ---------------------------------------------------------------- who sees it

@then(parsers.parse('案件标明保密，只有单位 "{unit}" 可以查看'))
def case_row_confidential(office, unit):
    with office.c.session_factory() as s:
        case = s.get(Case, office.case_id)
        assert (case.confidential, case.confidential_unit) == (True, unit)


@then(parsers.parse('"{user}" 可以查看这件事项'))
def may_see(office, user):
    r = office.get(user, f"/api/cases/{office.case_id}")
    assert r.status_code == 200, r.get_json()
    if user != "auditor":
        case_no = r.get_json()["data"]["case_no"]
        assert f'href="/cases/{office.case_id}"' in office.get(user, f"/cases?q={case_no}").get_data(as_text=True)


@then(parsers.parse('{users} 都不能查看这件事项，也查不到它'))
def may_not_see(office, users):
    case_no = office.get("auditor", f"/api/cases/{office.case_id}").get_json()["data"]["case_no"]
    for user in [u.strip('"') for u in users.split("、")]:
        r = office.get(user, f"/api/cases/{office.case_id}")
        assert r.status_code == 403, (user, r.status_code)
        assert office.get(user, f"/cases/{office.case_id}").status_code == 403, user
        assert office.get(user, f"/api/cases/{office.case_id}/history").status_code in (403, 404), user
        found = office.get(user, f"/cases?q={case_no}").get_data(as_text=True)  # the desk's case search
        assert f'href="/cases/{office.case_id}"' not in found and f">{case_no}</a>" not in found, user
        tasks = office.get(user, "/api/tasks?scope=all").get_json()["tasks"]
        assert not [t for t in tasks if t["case_id"] == office.case_id], user


# ---------------------------------------------------------------- deployment

@when("上传一个新版本，删去检举控告去向的保密属性")
def upload_without_confidential(office):
    files = []
    for _, (stream, name) in process_files():
        data = stream.read()
        if name == "petition_case.bpmn":
            text = data.decode("utf-8")
            assert '<spiffworkflow:property name="confidential" value="True"/>' in text
            data = text.replace('<spiffworkflow:property name="confidential" value="True"/>', "").encode("utf-8")
        files.append((io.BytesIO(data), name))
    office.last_response = office.post("designer", "/api/process-definitions", data={"files": files},
                                       content_type="multipart/form-data")


@then(parsers.parse('部署被拒绝，错误指明 "{file}" 的元素 "{element}" 和 "{words}"'))
def deploy_refused_naming(office, file, element, words):
    r = office.last_response
    assert r.status_code == 422, r.get_json()
    hits = [e for e in r.get_json()["errors"] if e["element_id"] == element]
    assert hits and hits[0]["file"] == file and words in hits[0]["message"], r.get_json()["errors"]
    assert isinstance(hits[0]["line"], int) and hits[0]["line"] > 1
    source = (ROOT / "processes" / file).read_text(encoding="utf-8")
    assert f'id="{element}"' in source.splitlines()[hits[0]["line"] - 1]
