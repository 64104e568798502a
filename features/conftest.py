"""Step definitions for the Chinese features. They drive the public HTTP API, not the database."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from engine.clock import SettableClock, parse_instant
from engine.worker import Worker
from tests.support import deployed as deployed_once
from tests.support.db import make_container

ROOT = Path(__file__).resolve().parent.parent


class Office:
    """The browser-less office: one Flask test client per signed-in user."""

    def __init__(self, container):
        from web.app import create_app

        self.c = container
        self.app = create_app(container)
        self.clients: dict[str, tuple] = {}
        self.case_id: int | None = None
        self.last_response = None
        self.last_task_id: int | None = None

    def client(self, username: str):
        if username not in self.clients:
            client = self.app.test_client()
            r = client.post("/api/session", json={"username": username, "password": "demo"})
            assert r.status_code == 201, r.get_json()
            self.clients[username] = (client, r.get_json()["csrf_token"])
        return self.clients[username]

    def post(self, username: str, path: str, **kwargs):
        client, token = self.client(username)
        return client.post(path, headers={"X-CSRF-Token": token}, **kwargs)

    def get(self, username: str, path: str):
        client, _ = self.client(username)
        return client.get(path)


@pytest.fixture
def office(database_url, tmp_path):
    from services.organisation import load_organisation

    clock = SettableClock(parse_instant("2026-03-02T09:00:00+08:00"))
    c = make_container(database_url, clock, tmp_path)
    with c.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    yield Office(c)
    c.engine.dispose()


def process_files():
    files = []
    for path in sorted((ROOT / "processes").rglob("*")):
        if path.suffix in (".bpmn", ".dmn", ".json"):
            files.append(("files", (io.BytesIO(path.read_bytes()), path.name)))
    return files


@given(parsers.parse('系统已初始化，时间是 "{when}"'))
def system_ready(office, when):
    office.c.clock.set(parse_instant(when))


@given(parsers.parse('"{user}" 已登录'))
def signed_in(office, user):
    office.client(user)


@given("流程已部署")
def deployed(office):
    def deploy():
        r = office.post("designer", "/api/process-definitions", data={"files": [f[1] for f in process_files()]},
                        content_type="multipart/form-data")
        assert r.status_code == 201, r.get_json()

    office.client("designer")  # signed in before, so that the recording starts from the same database
    # The first scenario of each database and instant deploys through the API; the others get the database it
    # left put back (tests/support/deployed.py, docs/testing.md 测试用时).
    deployed_once.once(office.c.engine, ("feature", office.c.clock.now().isoformat(),
                                         deployed_once.container_key(office.c)), deploy)


@when("上传 processes 目录下的流程和表单")
def upload_processes(office):
    office.last_response = office.post("designer", "/api/process-definitions",
                                       data={"files": [f[1] for f in process_files()]},
                                       content_type="multipart/form-data")
    assert office.last_response.status_code == 201, office.last_response.get_json()


@then(parsers.parse('流程 "{key}" 的最新版本是 {version:d}'))
def latest_version(office, key, version):
    defs = office.get("designer", "/api/process-definitions").get_json()["definitions"]
    [d] = [d for d in defs if d["key"] == key]
    assert d["versions"][-1]["version"] == version
    assert len(d["versions"]) == version


@when(parsers.parse('上传一个调用未注册处理程序 "{handler}" 的流程'))
def upload_bad(office, handler):
    from tests.support import bpmn

    text = bpmn.SERVICE.replace('id="flaky"', f'id="{handler}"')
    office.last_response = office.post(
        "designer", "/api/process-definitions",
        data={"files": [(io.BytesIO(text.encode("utf-8")), "bad_service.bpmn")]},
        content_type="multipart/form-data")


@then(parsers.parse('部署被拒绝，错误指明文件、行号、元素和 "{handler}"'))
def deploy_refused(office, handler):
    r = office.last_response
    assert r.status_code == 422
    errors = r.get_json()["errors"]
    hit = [e for e in errors if handler in e["message"]]
    assert hit and hit[0]["file"] == "bad_service.bpmn" and hit[0]["element_id"] == "call_flaky"
    assert isinstance(hit[0]["line"], int) and hit[0]["line"] > 1


@then("系统中没有任何已部署的流程")
def nothing_deployed(office):
    assert office.get("designer", "/api/process-definitions").get_json()["definitions"] == []


@when(parsers.parse('启动流程 "{key}"，内容分类 "{category}"，问题发生地 "{location}"'))
def start_case(office, key, category, location):
    r = office.post("designer", f"/api/process-definitions/{key}/instances",
                    json={"data": {"title": "拖欠工资", "category": category, "location": location}})
    assert r.status_code == 201, r.get_json()
    office.case_id = r.get_json()["id"]


def find_task(office, user, name):
    tasks = office.get(user, "/api/tasks?scope=unit").get_json()["tasks"]
    mine = [t for t in tasks if t["name"] == name and t["case_id"] == office.case_id]
    return mine[0] if mine else None


@then(parsers.parse('"{user}" 的待办中有 "{name}"，期限是 "{due}"'))
def has_task_with_due(office, user, name, due):
    task = find_task(office, user, name)
    assert task is not None
    from datetime import datetime, timedelta

    from engine.clock import SHANGHAI

    due_at = datetime.fromisoformat(task["due_at"]).astimezone(SHANGHAI) - timedelta(microseconds=1)
    assert due_at.date().isoformat() == due


@then(parsers.parse('"{user}" 的待办中有 "{name}"'))
@then(parsers.parse('"{user}" 的待办中仍有 "{name}"'))
def has_task(office, user, name):
    assert find_task(office, user, name) is not None


@when(parsers.parse('"{user}" 办理 "{name}"，填写 {data}'))
def complete(office, user, name, data):
    task = find_task(office, user, name)
    assert task is not None, f"{user} has no {name}"
    r = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": json.loads(data)})
    assert r.status_code == 200, r.get_json()
    office.last_task_id = task["id"]


@then(parsers.parse('案件状态是 "{status}"'))
def case_status(office, status):
    assert office.get("designer", f"/api/cases/{office.case_id}").get_json()["status"] == status


@then(parsers.parse('"{user}" 校验案件的办理记录完整未被改动'))
def verified(office, user):
    body = office.get(user, f"/api/cases/{office.case_id}/verify").get_json()
    assert body["ok"] is True and body["events"] > 10


@when(parsers.parse('时间前进 "{duration}"'))
def advance(office, duration):
    r = office.post("designer", "/api/clock", json={"advance": duration})
    assert r.status_code == 200, r.get_json()


@when("定时任务处理到期事项")
def run_worker(office):
    c = office.c
    Worker(c.runtime, c.session_factory, c.clock).run_once()


@then(parsers.parse('案件记录中有对 "{name}" 的催办'))
def reminded(office, name):
    events = office.get("designer", f"/api/cases/{office.case_id}/history").get_json()["events"]
    assert any(e["type"] == "service.called" and e["data"]["handler"] == "remind"
               and e["data"]["result"]["task"] == name for e in events)


@then("再次提交同一任务时被拒绝，提示已办理")
def second_submit_refused(office):
    r = office.post("handler", f"/api/tasks/{office.last_task_id}/complete", json={"data": {"signed": True}})
    assert r.status_code == 409
    assert "已办理" in r.get_json()["error"]["message"]


@pytest.fixture(autouse=True)
def _every_feature_on_both_databases(office):
    """Requested statically so that the database parametrisation (SQLite, PostgreSQL) reaches each scenario."""
    return office
