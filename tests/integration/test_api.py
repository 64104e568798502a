"""The JSON API: sign-in, CSRF, roles, error format, deployment over HTTP, conflicts."""
from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from tests.support.web import api_sign_in as sign_in, office_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(container):
    return office_app(container, deploy=False)


def upload(client, headers, files):
    return client.post("/api/process-definitions", headers=headers, content_type="multipart/form-data",
                       data={"files": [(io.BytesIO(content), name) for name, content in files]})


def process_files():
    return [(p.name, p.read_bytes()) for p in sorted((ROOT / "processes").rglob("*"))
            if p.suffix in (".bpmn", ".dmn", ".json")]


def test_sign_in_required_and_wrong_password_refused(app):
    client = app.test_client()
    r = client.get("/api/tasks")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    r = client.post("/api/session", json={"username": "handler", "password": "wrong"})
    assert r.status_code == 401 and "密码" in r.get_json()["error"]["message"]
    r = client.post("/api/session", data="not json", content_type="application/json")
    assert r.status_code == 400


def test_csrf_header_required_for_cookie_sessions(app):
    client, headers = sign_in(app, "designer")
    r = client.post("/api/process-definitions/simple_case/instances", json={"data": {}})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf"


def test_only_designers_and_admins_deploy(app):
    client, headers = sign_in(app, "handler")
    r = upload(client, headers, process_files())
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"


def test_bearer_token_works_without_csrf(app, container):
    from sqlalchemy import select

    from infra.accounts import User, create_token

    with container.session_factory() as s, s.begin():
        token = create_token(s, s.scalar(select(User).where(User.username == "designer")), "ci", container.clock.now())
    client = app.test_client()
    r = upload(client, {"Authorization": f"Bearer {token}"}, process_files())
    assert r.status_code == 201
    assert "simple_case" in [v["process_key"] for v in r.get_json()["versions"]]
    r = client.get("/api/tasks", headers={"Authorization": "Bearer lx_forged"})
    assert r.status_code == 401


def test_deploy_errors_are_listed_with_file_line_element(app):
    client, headers = sign_in(app, "designer")
    bad = (ROOT / "processes" / "simple_case.bpmn").read_text(encoding="utf-8").replace(
        "workdays(5)", "workday(5)")
    files = [(n, c) for n, c in process_files() if n != "simple_case.bpmn"] + [("simple_case.bpmn", bad.encode())]
    r = upload(client, headers, files)
    assert r.status_code == 422
    [error] = r.get_json()["errors"]
    assert error["file"] == "simple_case.bpmn" and error["element_id"] == "Timer_sign_limit"
    assert "workday" in error["message"] and error["line"] > 1
    assert client.get("/api/process-definitions").get_json()["definitions"] == []


def test_case_visibility_and_task_actions(app):
    designer, dh = sign_in(app, "designer")
    assert upload(designer, dh, process_files()).status_code == 201
    r = designer.post("/api/process-definitions/simple_case/instances", headers=dh,
                      json={"data": {"category": "劳动社保", "location": "county_a"}})
    assert r.status_code == 201
    case_id = r.get_json()["id"]

    handler, hh = sign_in(app, "handler")
    other, oh = sign_in(app, "handler_b")
    [task] = handler.get("/api/tasks?scope=unit").get_json()["tasks"]
    assert task["name"] == "签收办理" and task["unit"] == "county_a_hrss"
    assert other.get("/api/tasks?scope=unit").get_json()["tasks"] == []
    assert other.get(f"/api/cases/{case_id}").status_code == 403
    assert other.post(f"/api/tasks/{task['id']}/complete", headers=oh, json={"data": {}}).status_code == 403

    assert handler.post(f"/api/tasks/{task['id']}/claim", headers=hh).get_json()["assignee"] == "handler"
    assert [t["id"] for t in handler.get("/api/tasks?scope=mine").get_json()["tasks"]] == [task["id"]]
    case = handler.get(f"/api/cases/{case_id}").get_json()
    stale = handler.post(f"/api/tasks/{task['id']}/complete", headers=hh,
                         json={"data": {"signed": True}, "version": case["version"] - 1})
    assert stale.status_code == 409 and stale.get_json()["error"]["details"]["current_version"] == case["version"]
    done = handler.post(f"/api/tasks/{task['id']}/complete", headers=hh,
                        json={"data": {"signed": True}, "version": case["version"]})
    assert done.status_code == 200
    again = handler.post(f"/api/tasks/{task['id']}/complete", headers=hh, json={"data": {"signed": True}})
    assert again.status_code == 409
    history = handler.get(f"/api/cases/{case_id}/history").get_json()["events"]
    assert [e["type"] for e in history].count("task.submitted") == 1
    auditor, _ = sign_in(app, "auditor")
    assert auditor.get(f"/api/cases/{case_id}/verify").get_json()["ok"] is True
    snap = auditor.get(f"/api/cases/{case_id}/replay?seq=1").get_json()
    assert snap["seq"] == 1 and snap["status"] == "waiting"
    assert auditor.get(f"/api/cases/{case_id}/replay?seq=x").status_code == 400
    assert handler.get(f"/api/cases/{case_id}/replay").status_code == 403
    assert handler.get(f"/api/cases/{case_id}/verify").status_code == 403


def test_concurrent_completions_one_wins(app, container):
    """Several threads submit the same task at once: one succeeds, the rest get 409, one journal event."""
    designer, dh = sign_in(app, "designer")
    upload(designer, dh, process_files())
    case_id = designer.post("/api/process-definitions/simple_case/instances", headers=dh,
                            json={"data": {"category": "劳动社保", "location": "county_a"}}).get_json()["id"]
    clients = [sign_in(app, "handler") for _ in range(6)]
    task_id = clients[0][0].get("/api/tasks").get_json()["tasks"][0]["id"]
    barrier = threading.Barrier(len(clients))
    codes = []

    def submit(client, headers):
        barrier.wait()
        codes.append(client.post(f"/api/tasks/{task_id}/complete", headers=headers,
                                 json={"data": {"signed": True}}).status_code)

    threads = [threading.Thread(target=submit, args=c) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] + [409] * (len(clients) - 1)
    events = container.runtime.history(case_id)
    assert [e["type"] for e in events].count("task.submitted") == 1


def test_clock_control_and_json_errors(app):
    designer, dh = sign_in(app, "designer")
    r = designer.post("/api/clock", headers=dh, json={"advance": "P3D"})
    assert r.status_code == 200 and r.get_json()["now"].startswith("2026-03-05")
    r = designer.post("/api/clock", headers=dh, json={"advance": "three days"})
    assert r.status_code == 400 and "ISO-8601" in r.get_json()["error"]["message"]
    assert designer.get("/api/nope").get_json()["error"]["code"] == "not_found"
    spec = designer.get("/api/openapi.json").get_json()
    assert "/api/tasks/{id}/complete" in spec["paths"]
