"""The designer over HTTP: who may use it, what the properties panel is offered, drafts, validation with the
deployment's checks, deployment with a required comment, versions, and moving running cases."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.web import api_sign_in as sign_in, office_app

ROOT = Path(__file__).resolve().parents[2]
SIGN_TIMER = 'workdays(limits["sign_workdays"], dispatch["at"])</bpmn:timeDate>'


@pytest.fixture
def app(container):
    return office_app(container, actor="init", comment="lianxin init")


def process(client, key="petition_case", version=None):
    q = f"?version={version}" if version else ""
    r = client.get(f"/api/designer/processes/{key}{q}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def edited(proc, old=SIGN_TIMER, new='workdays(7, dispatch["at"])</bpmn:timeDate>'):
    text = proc["files"][proc["main_file"]]
    assert old in text
    return {proc["main_file"]: text.replace(old, new)}


def test_only_designers_and_admins(app):
    client, headers = sign_in(app, "handler")
    assert client.get("/api/designer/handlers").status_code == 403
    assert client.get("/api/designer/processes/petition_case").status_code == 403
    r = client.get("/designer")
    assert r.status_code == 403 and "流程设计员" in r.get_data(as_text=True)
    anonymous = app.test_client()
    assert anonymous.get("/designer").status_code == 302
    admin, _ = sign_in(app, "admin")
    assert admin.get("/designer").status_code == 200


def test_what_the_properties_panel_offers(app):
    client, _ = sign_in(app, "designer")
    handlers = client.get("/api/designer/handlers").get_json()["handlers"]
    choose = next(h for h in handlers if h["name"] == "choose_unit")
    assert {p["name"] for p in choose["parameters"]} >= {"category", "location"}
    forms = client.get("/api/designer/forms").get_json()["forms"]
    assert "sign.schema.json" in forms
    roles = {r["name"]: r["label"] for r in client.get("/api/designer/roles").get_json()["roles"]}
    assert roles["unit_handler"] == "承办人"
    proc = process(client)
    assert proc["main_file"] == "petition_case.bpmn" and proc["version"] == 1
    assert {"routing.dmn", "settings.dmn", "leader_13710.bpmn"} <= set(proc["files"])
    assert proc["draft"] is None


def test_draft_saved_reopened_and_discarded(app):
    client, headers = sign_in(app, "designer")
    proc = process(client)
    files = edited(proc)
    r = client.put("/api/designer/processes/petition_case/draft", headers=headers,
                   json={"base_definition_id": proc["definition_id"], "files": files})
    assert r.status_code == 200
    draft = process(client)["draft"]
    assert draft["author"] == "designer" and draft["base_version"] == 1
    assert 'workdays(7, dispatch["at"])' in draft["files"]["petition_case.bpmn"]
    r = client.put("/api/designer/processes/petition_case/draft", headers=headers,
                   json={"base_definition_id": proc["definition_id"], "files": {"other.bpmn": "<x/>"}})
    assert r.status_code == 422 and "不属于" in r.get_json()["error"]["message"]
    assert client.delete("/api/designer/processes/petition_case/draft", headers=headers).status_code == 200
    assert process(client)["draft"] is None
    assert client.delete("/api/designer/processes/petition_case/draft", headers=headers).status_code == 404


def test_validation_names_the_element_and_nothing_is_deployed(app):
    client, headers = sign_in(app, "designer")
    proc = process(client)
    bad = edited(proc, new='workdays(7天, dispatch["at"])</bpmn:timeDate>')
    r = client.post("/api/designer/processes/petition_case/validate", headers=headers,
                    json={"base_definition_id": proc["definition_id"], "files": bad})
    result = r.get_json()
    assert r.status_code == 200 and result["ok"] is False
    [problem] = result["problems"]
    assert problem["element_id"] == "Timer_sign_limit" and problem["file"] == "petition_case.bpmn"
    assert "不要写单位" in problem["message"] and "7" in problem["message"]
    r = client.post("/api/designer/processes/petition_case/deploy", headers=headers,
                    json={"base_definition_id": proc["definition_id"], "files": bad, "comment": "试试"})
    assert r.status_code == 422 and r.get_json()["problems"][0]["element_id"] == "Timer_sign_limit"
    good = edited(proc)
    r = client.post("/api/designer/processes/petition_case/validate", headers=headers,
                    json={"base_definition_id": proc["definition_id"], "files": good})
    body = r.get_json()  # with the smoke simulation's report (tests/integration/test_deploy_simulation.py)
    assert {k: v for k, v in body.items() if k != "simulation"} == {"ok": True, "problems": [], "warnings": []}
    assert body["simulation"]["ok"] is True
    versions = client.get("/api/designer/processes/petition_case/versions").get_json()["versions"]
    assert [v["version"] for v in versions] == [1]


def test_deploy_needs_a_comment_and_is_recorded_with_who_and_why(app, container):
    client, headers = sign_in(app, "designer")
    proc = process(client)
    files = edited(proc)
    client.put("/api/designer/processes/petition_case/draft", headers=headers,
               json={"base_definition_id": proc["definition_id"], "files": files})
    r = client.post("/api/designer/processes/petition_case/deploy", headers=headers,
                    json={"base_definition_id": proc["definition_id"], "files": files, "comment": "  "})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "comment_required"
    r = client.post("/api/designer/processes/petition_case/deploy", headers=headers,
                    json={"base_definition_id": proc["definition_id"], "files": files,
                          "comment": "签收期限改为7个工作日（市局通知）"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["version"] == 2 and r.get_json()["created"] is True
    assert process(client)["draft"] is None  # deployed: the draft is gone
    versions = client.get("/api/designer/processes/petition_case/versions").get_json()["versions"]
    assert [(v["version"], v["deployed_by"], v["comment"]) for v in versions] == [
        (2, "designer", "签收期限改为7个工作日（市局通知）"), (1, "init", "lianxin init")]
    assert 'workdays(7, dispatch["at"])' in process(client, version=2)["files"]["petition_case.bpmn"]
    assert SIGN_TIMER in process(client, version=1)["files"]["petition_case.bpmn"]
    # the existing endpoint still lists them
    defs = {d["key"]: d for d in client.get("/api/process-definitions").get_json()["definitions"]}
    assert [v["version"] for v in defs["petition_case"]["versions"]] == [1, 2]
    page = client.get("/designer/petition_case/versions").get_data(as_text=True)
    assert "签收期限改为7个工作日（市局通知）" in page


def test_migration_over_http_dry_run_then_batch(app, container):
    from services.demo_cases import DEMO_PETITIONS, load_petition_cases

    load_petition_cases(container.runtime, [d for d in DEMO_PETITIONS if d.state == "待签收"])
    client, headers = sign_in(app, "designer")
    proc = process(client)
    r = client.post("/api/designer/processes/petition_case/deploy", headers=headers,
                    json={"base_definition_id": proc["definition_id"], "files": edited(proc), "comment": "签收7日"})
    target = r.get_json()["versions"]
    [v2] = [v for v in target if v["process_key"] == "petition_case"]
    versions = client.get("/api/designer/processes/petition_case/versions").get_json()["versions"]
    assert [(v["version"], v["open_cases"]) for v in versions] == [(2, 0), (1, 1)]
    r = client.post("/api/designer/migrations/check", headers=headers, json={"to_definition_id": v2["definition_id"]})
    assert r.status_code == 200
    result = r.get_json()
    [case] = result["cases"]
    assert case["can_move"], case["reason"]
    assert [d["element_id"] for d in case["deadlines"]] == ["Timer_sign_limit"]
    assert result["can_move"] == 1 and result["cannot_move"] == 0
    r = client.post("/api/designer/migrations", headers=headers,
                    json={"to_definition_id": v2["definition_id"], "case_ids": [case["case_id"]]})
    assert r.status_code == 201, r.get_json()
    assert container.runtime.get_case(case["case_id"]).definition_version == 2
    history = container.runtime.history(case["case_id"])
    [moved] = [e for e in history if e["type"] == "case.migrated"]
    assert moved["actor"] == "designer" and moved["data"]["to_version"] == 2
    assert container.runtime.verify(case["case_id"]).ok
    versions = client.get("/api/designer/processes/petition_case/versions").get_json()["versions"]
    assert [(v["version"], v["open_cases"]) for v in versions] == [(2, 1), (1, 0)]
    r = client.post("/api/designer/migrations", headers=headers,
                    json={"to_definition_id": v2["definition_id"], "case_ids": [case["case_id"]]})
    assert r.status_code == 409 and "已在版本 2" in r.get_json()["error"]["message"]
    r = client.post("/api/designer/migrations", headers=headers, json={"to_definition_id": v2["definition_id"]})
    assert r.status_code == 400


def test_pages_render_in_chinese_and_english(app):
    client, _ = sign_in(app, "designer")
    for path in ("/designer", "/designer/petition_case/edit", "/designer/petition_case/versions",
                 "/designer/petition_case/diff?a=1&b=1", "/designer/petition_case/migrate"):
        r = client.get(path)
        assert r.status_code == 200, path
    assert "修改流程" in client.get("/designer").get_data(as_text=True)
    assert "Edit process" in client.get("/designer?lang=en").get_data(as_text=True)
    r = client.get("/designer/nope/edit?lang=zh_Hans_CN")
    assert r.status_code == 404 and "没有" in r.get_data(as_text=True)
    # the service's "中文（English）" message shows in the page's language only
    assert "no such" not in r.get_data(as_text=True).lower()
    r = client.get("/designer/nope/edit?lang=en")
    html = r.get_data(as_text=True)
    assert r.status_code == 404 and "No such process version" in html and "没有" not in html


def test_malformed_requests_get_clear_errors(app):
    client, headers = sign_in(app, "designer")
    assert client.get("/api/designer/processes/petition_case?version=99999999999999999999").status_code == 400
    assert client.get("/api/designer/processes/petition_case?version=9").status_code == 404
    assert client.get("/api/designer/processes/nope").status_code == 404
    for body in ({}, {"base_definition_id": True, "files": {}}, {"base_definition_id": 2**70, "files": {}},
                 {"base_definition_id": 1, "files": ["x"]}):
        r = client.post("/api/designer/processes/petition_case/validate", headers=headers, json=body)
        assert r.status_code == 400 and r.get_json()["error"]["message"], body
    r = client.post("/api/designer/processes/petition_case/validate", headers=headers,
                    json={"base_definition_id": 999, "files": {}})
    assert r.status_code == 422 and "不属于" in r.get_json()["error"]["message"]
    r = client.post("/api/designer/migrations/check", headers=headers, json={"to_definition_id": 12345})
    assert r.status_code == 404
    r = client.post("/api/designer/migrations/check", headers=headers,
                    json={"to_definition_id": 1, "from_definition_id": "x"})
    assert r.status_code == 400


def test_a_draft_saved_by_someone_else_is_not_overwritten(app):
    alice, alice_headers = sign_in(app, "designer")
    bob, bob_headers = sign_in(app, "admin")
    proc = process(alice)
    url = "/api/designer/processes/petition_case/draft"
    first = {"base_definition_id": proc["definition_id"], "files": edited(proc), "expected_updated_at": None}
    r = alice.put(url, headers=alice_headers, json=first)
    assert r.status_code == 200
    stamp = r.get_json()["draft"]["updated_at"]
    # bob opened the process before alice saved: he saw no draft
    r = bob.put(url, headers=bob_headers, json=dict(first, files=edited(proc, new="workdays(9)</bpmn:timeDate>")))
    assert r.status_code == 409 and "designer" in r.get_json()["error"]["message"]
    assert 'workdays(7, dispatch["at"])' in process(alice)["draft"]["files"]["petition_case.bpmn"]
    # alice saves again with what she saw
    r = alice.put(url, headers=alice_headers, json=dict(first, expected_updated_at=stamp))
    assert r.status_code == 200
