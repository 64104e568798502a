"""The case page, its documents, comments and attachments over HTTP, on both databases."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from markupsafe import escape

from services import attachments
from tests.support.web import office_app

ROOT = Path(__file__).resolve().parents[2]
PETITIONER = {"name": "张三丰", "phone": "13912345678", "id_number": "110101199003091234",
              "address": "东城县幸福路8号3单元"}


@pytest.fixture
def app(container):
    return office_app(container)


def sign_in(app, username):
    client = app.test_client()
    r = client.post("/api/session", json={"username": username, "password": "demo"})
    assert r.status_code == 201, r.get_data(as_text=True)
    return client, r.get_json()["csrf_token"]


def task_named(rt, case_id, name):
    return next(t for t in rt.get_case(case_id).tasks if t.name == name)


@pytest.fixture
def case_id(app, container):
    """A petition transferred to the county HRSS bureau, waiting for it to sign."""
    rt = container.runtime
    view = rt.start("petition_case", {
        "title": "工伤认定久拖不决", "channel": "来访", "category": "劳动社保", "location": "county_a",
        "request": "要求尽快作出工伤认定", "facts": "2025年受伤，至今未认定", "registering_unit": "city_bureau",
        "petitioner": PETITIONER}, actor="registrar")
    rt.complete(task_named(rt, view.id, "分流研判").id, {"route": "交办转送"}, actor="registrar")
    return view.id


def accept(container, case_id):
    rt = container.runtime
    rt.complete(task_named(rt, case_id, "签收或提出异议").id, {"sign_decision": "签收"}, actor="handler")
    rt.complete(task_named(rt, case_id, "作出受理决定").id, {"accepted": True, "acceptance_note": "由本局办理"},
                actor="handler")


def test_case_page_shows_header_tasks_deadline_explanation_timeline(app, container, case_id):
    client, _ = sign_in(app, "handler")
    case_no = container.runtime.get_case(case_id).data["case_no"]
    r = client.get(f"/cases/{case_id}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert case_no in html and "工伤认定久拖不决" in html and "来访" in html and "劳动社保" in html
    assert "东城县人力资源和社会保障局" in html  # the responsible unit
    assert "签收或提出异议" in html and 'data-alert="green"' in html
    assert "规则：5个工作日（WD5）" in html  # how the signing deadline was counted
    timeline = html[html.index('id="timeline"'):]
    assert "登记信访事项" in timeline and "办理「分流研判」" in timeline and "发出「去向告知」" in timeline, timeline[:3000]
    assert 'id="case-diagram"' in html and "dist/casepage.js" in html


def test_petitioner_masked_for_the_unit_until_its_task_needs_the_details(app, container, case_id):
    client, _ = sign_in(app, "handler")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "139****5678" in html and "13912345678" not in html
    assert "110101********1234" in html and "110101199003091234" not in html
    assert "幸福路" not in html and "张**" in html
    desk, _ = sign_in(app, "registrar")
    full = desk.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "13912345678" in full and "东城县幸福路8号3单元" in full
    rt = container.runtime
    rt.complete(task_named(rt, case_id, "签收或提出异议").id, {"sign_decision": "签收"}, actor="handler")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "13912345678" not in html  # deciding on acceptance does not talk to the petitioner
    rt.complete(task_named(rt, case_id, "作出受理决定").id, {"accepted": True}, actor="handler")
    # 办理并拟写答复意见 is the handler's open task now: it talks to the petitioner
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "13912345678" in html and "张三丰" in html and "东城县幸福路8号3单元" in html
    other, _ = sign_in(app, "handler_housing")  # same county, another bureau: not even the case
    assert other.get(f"/cases/{case_id}").status_code == 403


def test_diagram_json_gives_the_versions_bpmn_and_the_position(app, container, case_id):
    client, _ = sign_in(app, "handler")
    r = client.get(f"/api/cases/{case_id}/diagram")
    d = r.get_json()
    assert r.status_code == 200 and d["process_key"] == "petition_case" and d["definition_version"] >= 1
    assert '<bpmn:process id="petition_case"' in d["xml"] or 'process id="petition_case"' in d["xml"]
    assert "Task_sign" in d["active"] and "Task_triage" in d["completed"] and "Task_triage" not in d["active"]
    assert d["alerts"]["Task_sign"] == "green"


def test_documents_html_and_pdf(app, container, case_id):
    client, _ = sign_in(app, "handler")
    case_no = container.runtime.get_case(case_id).data["case_no"]
    r = client.get(f"/cases/{case_id}/documents/acceptance.html")
    assert r.status_code == 422 and "尚未决定受理" in r.get_data(as_text=True)
    accept(container, case_id)
    r = client.get(f"/cases/{case_id}/documents/acceptance.html")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "信访事项受理告知书" in html and case_no in html and "@media print" in html
    r = client.get(f"/cases/{case_id}/documents/acceptance.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    assert f"Subject ({case_no})".encode() in r.data  # the PDF names the case it belongs to
    r = client.get(f"/cases/{case_id}/documents/transfer.html")
    assert r.status_code == 200 and "信访事项转送告知书" in r.get_data(as_text=True)
    r = client.get(f"/cases/{case_id}/documents/reply.html")
    assert r.status_code == 422 and "答复意见" in r.get_data(as_text=True)
    assert client.get(f"/cases/{case_id}/documents/nonsense.pdf").status_code == 404


def test_attachment_round_trip_through_the_page_form(app, container, case_id):
    client, token = sign_in(app, "handler")
    content = "《工伤认定申请表》扫描件".encode() * 50
    r = client.post(f"/cases/{case_id}/attachments", content_type="multipart/form-data",
                    data={"csrf_token": token, "file": (io.BytesIO(content), "申请表.pdf", "application/pdf")})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/cases/{case_id}#attachments")
    listed = client.get(f"/api/cases/{case_id}/attachments").get_json()["attachments"]
    assert [a["filename"] for a in listed] == ["申请表.pdf"] and listed[0]["uploaded_by"] == "handler"
    r = client.get(f"/cases/{case_id}/attachments/{listed[0]['id']}")
    assert r.status_code == 200 and r.data == content
    assert r.headers["Content-Disposition"].startswith("attachment;") and "filename*=UTF-8''" in \
        r.headers["Content-Disposition"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "申请表.pdf" in html and "附件已上传" in html
    assert container.runtime.verify(case_id).ok


def test_upload_without_csrf_token_is_refused_and_nothing_stored(app, container, case_id):
    client, _ = sign_in(app, "handler")
    r = client.post(f"/cases/{case_id}/attachments", content_type="multipart/form-data",
                    data={"file": (io.BytesIO(b"x"), "a.txt", "text/plain")})
    assert r.status_code == 403
    with container.session_factory() as s:
        assert attachments.list_attachments(s, case_id) == []


def test_size_limit_gives_a_clear_message(app, container, case_id, monkeypatch):
    monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", 2048)
    client, token = sign_in(app, "handler")
    r = client.post(f"/cases/{case_id}/attachments", content_type="multipart/form-data",
                    data={"csrf_token": token, "file": (io.BytesIO(b"x" * 4096), "big.pdf", "application/pdf")},
                    follow_redirects=True)
    assert "不能超过" in r.get_data(as_text=True)
    r = client.post(f"/api/cases/{case_id}/attachments", headers={"X-CSRF-Token": token},
                    content_type="multipart/form-data",
                    data={"file": (io.BytesIO(b"x" * 4096), "big.pdf", "application/pdf")})
    assert r.status_code == 413 and "不能超过" in r.get_json()["error"]["message"]
    with container.session_factory() as s:
        assert attachments.list_attachments(s, case_id) == []


def test_comments_form_and_api(app, container, case_id):
    client, token = sign_in(app, "handler")
    r = client.post(f"/cases/{case_id}/comments", data={"csrf_token": token, "body": "已联系信访人核实受伤经过。"})
    assert r.status_code == 302
    r = client.post(f"/api/cases/{case_id}/comments", headers={"X-CSRF-Token": token}, json={"body": "  "})
    assert r.status_code == 422 and "为空" in r.get_json()["error"]["message"]
    comments = client.get(f"/api/cases/{case_id}/comments").get_json()["comments"]
    assert [c["body"] for c in comments] == ["已联系信访人核实受伤经过。"]
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "已联系信访人核实受伤经过。" in html and "添加办理意见" in html
    auditor, token = sign_in(app, "auditor")
    r = auditor.post(f"/api/cases/{case_id}/comments", headers={"X-CSRF-Token": token}, json={"body": "审计"})
    assert r.status_code == 403


def test_handler_of_another_county_is_refused_everywhere(app, container, case_id, caplog):
    accept(container, case_id)
    own, token = sign_in(app, "handler")
    own.post(f"/cases/{case_id}/attachments", content_type="multipart/form-data",
             data={"csrf_token": token, "file": (io.BytesIO(b"scan"), "a.png", "image/png")})
    [att] = own.get(f"/api/cases/{case_id}/attachments").get_json()["attachments"]
    other, token = sign_in(app, "handler_b")
    caplog.set_level("WARNING", logger="lianxin.access")
    for path in (f"/cases/{case_id}", f"/cases/{case_id}/documents/acceptance.html",
                 f"/cases/{case_id}/documents/acceptance.pdf", f"/cases/{case_id}/attachments/{att['id']}"):
        r = other.get(path)
        assert r.status_code == 403, path
        assert "无权" in r.get_data(as_text=True) and "<html" in r.get_data(as_text=True), path
    assert other.get(f"/api/cases/{case_id}/diagram").status_code == 403
    r = other.post(f"/cases/{case_id}/comments", data={"csrf_token": token, "body": "试图评论"})
    assert r.status_code == 403
    assert any("refused" in rec.getMessage() and "handler_b" in rec.getMessage() for rec in caplog.records)
    with container.session_factory() as s:
        assert attachments.list_comments(s, case_id) == []


def test_unknown_case_is_a_404_page(app):
    client, _ = sign_in(app, "admin")
    r = client.get("/cases/999999")
    assert r.status_code == 404 and "<html" in r.get_data(as_text=True)


def test_an_accusation_case_page_only_on_the_discipline_track(app, container):
    rt = container.runtime
    view = rt.start("petition_case", {
        "title": "举报某局长违规收费", "channel": "来信", "category": "劳动社保", "location": "county_a",
        "nature": "检举控告", "respondent_level": "县管", "request": "要求查处", "facts": "（略）", "registering_unit": "city_bureau",
        "petitioner": PETITIONER}, actor="registrar")
    rt.complete(task_named(rt, view.id, "分流研判").id, {"route": "检举控告"}, actor="registrar")
    for user in ("registrar", "handler", "county", "admin"):
        client, _ = sign_in(app, user)
        r = client.get(f"/cases/{view.id}")
        assert r.status_code == 403, user
        assert "举报某局长违规收费" not in r.get_data(as_text=True)
        assert client.get(f"/api/cases/{view.id}/diagram").status_code == 403, user
    receiver, _ = sign_in(app, "cdi_a")
    r = receiver.get(f"/cases/{view.id}")
    assert r.status_code == 200 and "举报某局长违规收费" in r.get_data(as_text=True)


def test_openapi_lists_the_case_file_endpoints(app):
    client, _ = sign_in(app, "handler")
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "post" in paths["/api/cases/{id}/attachments"] and "get" in paths["/api/cases/{id}/diagram"]


def test_case_page_in_english(app, case_id):
    client, _ = sign_in(app, "handler")
    html = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert "Open tasks" in html and "Time limits" in html and "What happened" in html and "当前待办" not in html


def test_a_trial_case_of_another_process_renders_without_petition_data(app, container):
    view = container.runtime.start("simple_case", {}, actor="designer")  # no data: its first step fails
    assert view.status == "incident" and view.incidents
    client, _ = sign_in(app, "designer")
    r = client.get(f"/cases/{view.id}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "simple_case" in html and "未登记信访人" in html
    assert "信访事项编号" in html and "不予受理" in html  # the notices say what they lack
    assert 'id="incidents"' in html and str(escape(view.incidents[0].message)) in html and "故障待处理" in html
    d = client.get(f"/api/cases/{view.id}/diagram").get_json()
    assert 'id="simple_case"' in d["xml"] and view.incidents[0].element_id in d["active"]


def test_the_lead_unit_reads_each_co_units_opinion_in_full_and_who_has_not_reported(container):
    from tests.support.web import api_sign_in, office_app, page_sign_in

    app = office_app(container)
    registrar, rh = api_sign_in(app, "registrar")
    made = registrar.post("/api/cases", headers=rh, json={
        "channel": "来信", "title": "工地欠薪", "request": "请求支付工资", "category": "劳动社保",
        "location": "county_a", "petitioners": [{"name": "张三", "phone": "13900000000"}]}).get_json()
    case_id = made["id"]

    def do(user, name, data):
        client, headers = api_sign_in(app, user)
        view = client.get(f"/api/cases/{case_id}").get_json()
        task = next(t for t in view["tasks"] if t["name"] == name)
        r = client.post(f"/api/tasks/{task['id']}/complete", headers=headers,
                        json={"data": data, "version": view["version"]})
        assert r.status_code == 200, r.get_json()

    do("registrar", "分流研判", {"route": "交办转送", "co_units": ["county_a_housing"]})
    do("handler", "签收或提出异议", {"sign_decision": "签收"})
    do("handler", "作出受理决定", {"accepted": True, "acceptance_note": "依法受理"})
    lead = page_sign_in(app, "handler")
    page = lead.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="co-opinions"' in page and "尚未报送：东城县住房和城乡建设局" in page
    co_client, _h = api_sign_in(app, "handler_housing")
    co_task = next(t for t in co_client.get(f"/api/cases/{case_id}").get_json()["tasks"] if t["name"] == "报送协办意见")
    own = page_sign_in(app, "handler_housing").get(f"/tasks/{co_task['id']}").get_data(as_text=True)
    assert 'id="co-opinions"' not in own  # a co-unit's own form shows no one's opinions
    opinion = "经核查，该项目工程款已于2026年1月拨付总包单位，总包单位拖欠劳务分包款，建议主办单位约谈总包单位负责人。"
    assert len(opinion) > 40  # longer than the timeline shows
    do("handler_housing", "报送协办意见", {"co_opinion": opinion, "co_contact": "王工 0371-12345678"})
    page = lead.get(f"/cases/{case_id}").get_data(as_text=True)
    assert opinion in page and "东城县住房和城乡建设局" in page and "王工 0371-12345678" in page
    assert 'id="co-pending"' not in page
    # the lead reads them on its own task form too, while drafting the reply
    client, _headers = api_sign_in(app, "handler")
    lead_task = next(t for t in client.get(f"/api/cases/{case_id}").get_json()["tasks"]
                     if t["name"] == "办理并拟写答复意见")
    form = lead.get(f"/tasks/{lead_task['id']}").get_data(as_text=True)
    assert 'id="co-opinions"' in form and opinion in form
    without = page_sign_in(app, "registrar").get(f"/cases/{make_simple(container)}").get_data(as_text=True)
    assert 'id="co-opinions"' not in without  # a case without co-units has no such card


def make_simple(container) -> int:
    case = container.runtime.start("simple_case", {"title": "工资拖欠", "category": "劳动社保",
                                                   "location": "county_a"}, "registrar")
    return case.id
