"""Issue #19 point 5: a foreign BPMN file imported into the designer as a draft, with every problem on its
element (and a Python suggestion for a JUEL/FEEL condition), fixed and deployed as usual; and the lane table the
designers edit (point 4). The browser round trip is in tests/browser/test_designer_import.py."""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from infra.security_log import SecurityEvent
from services import foreign_import, lane_roles
from services.store import drafts
from tests.support.db import make_container
from tests.support.web import api_sign_in, csrf_of, office_app, page_sign_in

ROOT = Path(__file__).resolve().parents[2]
IMPORTS = ROOT / "tests" / "fixtures" / "bpmn" / "imports"
MIWG = ROOT.parent / "shared" / "testdata" / "miwg-reference"
JUEL = (IMPORTS / "juel_petition.bpmn").read_bytes()


@pytest.fixture
def app(container):
    return office_app(container, actor="init", comment="lianxin init")


def upload(client, headers, content: bytes, name="juel_petition.bpmn", key=None, replace=False):
    data = {"file": (io.BytesIO(content), name)}
    if key:
        data["key"] = key
    if replace:
        data["replace"] = "1"
    return client.post("/api/designer/import", data=data, headers=headers, content_type="multipart/form-data")


def test_an_imported_file_becomes_a_draft_with_each_problem_on_its_element_and_then_deploys(app, container):
    client, headers = api_sign_in(app, "designer")
    content = JUEL.replace("承办单位".encode(), b"Back office")
    r = upload(client, headers, content)
    assert r.status_code == 201, r.get_json()
    answer = r.get_json()
    assert answer["key"] == "Foreign_petition" and answer["created"] and answer["edit_url"].endswith("/edit")
    by_element = {p["element_id"]: p for p in answer["problems"]}
    assert set(by_element) == {"Flow_yes", "Lane_office"}
    assert by_element["Flow_yes"]["suggestion"] == "accepted == 'yes'" and by_element["Flow_yes"]["line"]
    assert "JUEL" in by_element["Flow_yes"]["message"] and by_element["Flow_yes"]["file"] == "juel_petition.bpmn"
    assert "Back office" in by_element["Lane_office"]["message"]
    # the draft opens like any other, with no base version
    proc = client.get("/api/designer/processes/Foreign_petition").get_json()
    assert proc["definition_id"] is None and proc["main_file"] == "juel_petition.bpmn"
    assert proc["draft"]["imported_from"] == "juel_petition.bpmn" and proc["draft"]["base_version"] is None
    page = client.get("/designer").get_data(as_text=True)
    assert "Foreign_petition" in page and "导入 BPMN 文件" in page
    assert client.get("/designer/Foreign_petition/edit").status_code == 200
    # fixed as the modeler would: a Python condition, the lane named in the table
    text = proc["files"]["juel_petition.bpmn"].replace("${accepted == 'yes'}", "accepted == 'yes'") \
        .replace("Back office", "承办单位")
    files = {"juel_petition.bpmn": text}
    r = client.put("/api/designer/processes/Foreign_petition/draft", headers=headers,
                   json={"base_definition_id": None, "files": files})
    assert r.status_code == 200, r.get_json()
    r = client.post("/api/designer/processes/Foreign_petition/validate", headers=headers,
                    json={"base_definition_id": None, "files": files})
    assert r.get_json()["ok"], r.get_json()
    r = client.post("/api/designer/processes/Foreign_petition/deploy", headers=headers,
                    json={"base_definition_id": None, "files": files, "comment": "导入外部流程"})
    assert r.status_code == 201 and r.get_json()["version"] == 1, r.get_json()
    with container.session_factory() as s:
        assert drafts.get(s, "Foreign_petition") is None
    with container.session_factory() as s:
        user_tasks = json.loads(drafts.version_row(s, "Foreign_petition").meta_json)["user_tasks"]
    assert user_tasks["Task_register"]["role"] == "registrar"  # potentialOwner -> resource 登记员
    assert user_tasks["Task_handle"]["role"] == "unit_handler"  # humanPerformer 承办人


def test_a_chosen_key_renames_the_process_and_an_unknown_handler_is_refused_on_its_task(app):
    client, headers = api_sign_in(app, "designer")
    content = JUEL.replace(b"${accepted == 'yes'}", b"accepted == 'yes'").replace(
        b'<bpmn:endEvent id="End_1" name="\xe5\x8a\x9e\xe7\xbb\x93"/>',
        '<bpmn:serviceTask id="Task_notify" name="通知"><bpmn:extensionElements>'
        '<spiffworkflow:serviceTaskOperator xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
        'id="send_fax"/></bpmn:extensionElements></bpmn:serviceTask>'
        '<bpmn:endEvent id="End_1" name="办结"/>'.encode())
    r = upload(client, headers, content, key="foreign_fax")
    assert r.status_code == 201, r.get_json()
    answer = r.get_json()
    assert answer["key"] == "foreign_fax"
    assert any("send_fax" in p["message"] for p in answer["problems"] if p["element_id"] == "Task_notify")
    text = client.get("/api/designer/processes/foreign_fax").get_json()["files"]["juel_petition.bpmn"]
    assert 'id="foreign_fax"' in text and 'bpmnElement="foreign_fax"' in text and "Foreign_petition" not in text


def test_importing_over_a_deployed_process_makes_a_draft_on_its_latest_version(app):
    client, headers = api_sign_in(app, "designer")
    r = upload(client, headers, JUEL, key="simple_case")
    assert r.status_code == 201 and not r.get_json()["created"]
    draft = client.get("/api/designer/processes/simple_case").get_json()["draft"]
    assert draft["base_version"] == 1 and list(draft["files"]) == ["simple_case.bpmn"]


@pytest.mark.parametrize("content", [
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><l>&b;</l>',
    b"not xml at all",
    b'<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"/>',
])
def test_hostile_or_empty_files_are_refused_without_a_draft(app, container, content):
    client, headers = api_sign_in(app, "designer")
    r = upload(client, headers, content, name="evil.bpmn")
    assert r.status_code in (413, 422), r.status_code
    if r.status_code == 422:
        assert r.get_json()["problems"][0]["file"] == "evil.bpmn"
    with container.session_factory() as s:
        assert s.scalar(select(drafts.Draft.id)) is None


def test_a_huge_file_is_refused_by_the_parsers_limit(container):
    huge = b"<definitions" + b" " * (6 * 1024 * 1024) + b"/>"
    with pytest.raises(foreign_import.ImportRefused) as err:
        foreign_import.import_draft(container.runtime, container.session_factory, "huge.bpmn", huge, key=None,
                                    author="designer", now=container.clock.now())
    assert "5 MB" in err.value.problems[0].message


def test_an_import_never_overwrites_someones_draft_unasked(app, container):
    """The key already has a draft (another designer's unsaved work): the import is refused with 409 naming whose
    draft it is and when it was saved, and the draft is untouched; with replace it goes through."""
    first, first_h = api_sign_in(app, "designer")
    assert upload(first, first_h, JUEL).status_code == 201
    with container.session_factory() as s:
        before = drafts.get(s, "Foreign_petition")
    other, other_h = api_sign_in(app, "admin")
    changed = JUEL.replace("承办单位".encode(), b"Back office")
    r = upload(other, other_h, changed)
    assert r.status_code == 409, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "conflict" and "designer" in error["message"] and "替换已有草稿" in error["message"]
    assert error["details"]["author"] == "designer"
    with container.session_factory() as s:
        assert drafts.get(s, "Foreign_petition").files == before.files
    r = upload(other, other_h, changed, replace=True)
    assert r.status_code == 201, r.get_json()
    with container.session_factory() as s:
        after = drafts.get(s, "Foreign_petition")
    assert after.author == "admin" and after.files != before.files


def test_only_designers_import(app):
    client, headers = api_sign_in(app, "handler")
    assert upload(client, headers, JUEL).status_code == 403
    designer, _ = api_sign_in(app, "designer")
    assert upload(designer, {}, JUEL).status_code == 403  # no CSRF token


def test_every_miwg_reference_file_imports_as_a_draft_without_a_crash(app):
    client, headers = api_sign_in(app, "designer")
    files = sorted(MIWG.glob("*.bpmn"))
    assert len(files) == 21
    suggested = {}
    for path in files:
        r = upload(client, headers, path.read_bytes(), name=path.name, replace=True)  # some share a process id
        assert r.status_code == 201, (path.name, r.get_json())
        for p in r.get_json()["problems"]:
            assert p["file"] and p["message"] and "Traceback" not in p["message"], (path.name, p)
        found = [p["suggestion"] for p in r.get_json()["problems"] if p.get("suggestion")]
        if found:
            suggested[path.name] = found
    # the conditions other tools wrote (JUEL, Camunda 8's FEEL, the standard's XPath) come with their Python
    assert suggested == {
        "C.1.0.bpmn": ["approved", "not approved", "clarified == 'yes'", "clarified == 'no'"],
        "C.1.1.bpmn": ["approved", "not (approved)", "clarified == 'yes'", "clarified == 'no'"],
        "C.9.0.bpmn": ["approved", "not (approved)"],
        "C.9.2.bpmn": ["fraud"],
    }


def test_the_import_form_on_the_designers_page_opens_the_modeler(app):
    client = page_sign_in(app, "designer")
    token = csrf_of(client.get("/designer").get_data(as_text=True))
    r = client.post("/designer/import", data={"csrf_token": token, "file": (io.BytesIO(JUEL), "juel_petition.bpmn")},
                    content_type="multipart/form-data")
    assert r.status_code == 302 and r.headers["Location"].endswith("/designer/Foreign_petition/edit")
    r = client.post("/designer/import", data={"csrf_token": token, "file": (io.BytesIO(b"<x"), "bad.bpmn")},
                    content_type="multipart/form-data")
    assert r.status_code == 422 and "bad.bpmn" in r.get_data(as_text=True)
    r = client.post("/designer/import", data={"file": (io.BytesIO(JUEL), "juel_petition.bpmn")},
                    content_type="multipart/form-data")
    assert r.status_code == 403
    # the same file again: the key now has a draft, which the page does not replace unasked
    r = client.post("/designer/import", data={"csrf_token": token, "file": (io.BytesIO(JUEL), "juel_petition.bpmn")},
                    content_type="multipart/form-data")
    assert r.status_code == 409 and "替换已有草稿" in r.get_data(as_text=True)
    r = client.post("/designer/import", data={"csrf_token": token, "replace": "1",
                                              "file": (io.BytesIO(JUEL), "juel_petition.bpmn")},
                    content_type="multipart/form-data")
    assert r.status_code == 302


# ------------------------------------------------------------------------------------------------ the lane table

@pytest.fixture
def own_processes(database_url, clock, tmp_path):
    folder = tmp_path / "processes"
    shutil.copytree(ROOT / "processes", folder)
    c = make_container(database_url, clock, tmp_path, processes_dir=folder)
    yield c, folder
    c.engine.dispose()


def test_the_lane_table_is_edited_on_its_page_security_logged_and_used_at_the_next_deploy(own_processes):
    container, folder = own_processes
    app = office_app(container)
    client = page_sign_in(app, "designer")
    page = client.get("/designer/lane-roles").get_data(as_text=True)
    assert "信访接待窗口" in page
    token = csrf_of(page)
    r = client.post("/designer/lane-roles", data={"csrf_token": token, "lane": ["外部窗口", "后台"],
                                                  "role": ["registrar", "unknown_role"]})
    assert r.status_code == 422 and "第 2 行" in r.get_data(as_text=True)
    assert "外部窗口" not in (folder / lane_roles.FILE_NAME).read_text(encoding="utf-8")
    r = client.post("/designer/lane-roles", data={"csrf_token": token, "lane": ["外部窗口", "承办单位"],
                                                  "role": ["registrar", "unit_handler"]})
    assert r.status_code == 302
    rows, problems = lane_roles.read(folder / lane_roles.FILE_NAME)
    assert [(row.lane, row.role) for row in rows] == [("外部窗口", "registrar"), ("承办单位", "unit_handler")]
    with container.session_factory() as s:
        kinds = list(s.scalars(select(SecurityEvent.kind).where(SecurityEvent.kind == "settings_change")))
    assert kinds == ["settings_change"]
    # the next import reads the new table: the window lane is no longer known
    api, headers = api_sign_in(app, "designer")
    answer = upload(api, headers, JUEL, replace=True).get_json()
    assert {p["element_id"] for p in answer["problems"]} == {"Flow_yes", "Lane_window"}
    # a hand-edited bad row refuses every deploy, naming its line
    (folder / lane_roles.FILE_NAME).write_text("lanes:\n  - {lane: 窗口, role: clerk}\n", encoding="utf-8")
    answer = upload(api, headers, JUEL, replace=True).get_json()
    assert any(p["file"] == "lane_roles.yaml" and p["line"] == 2 for p in answer["problems"])


def test_the_lane_table_api(own_processes, monkeypatch):
    container, folder = own_processes
    app = office_app(container)
    client, headers = api_sign_in(app, "designer")
    assert client.get("/api/designer/lane-roles").get_json()["rows"][0]["lane"] == "信访接待窗口"
    r = client.put("/api/designer/lane-roles", headers=headers, json={"rows": [{"lane": "窗口", "role": "nobody"}]})
    assert r.status_code == 422 and "nobody" in r.get_json()["error"]["message"]
    r = client.put("/api/designer/lane-roles", headers=headers, json={"rows": [{"lane": "窗口", "role": "登记员"}]})
    assert r.status_code == 200 and r.get_json()["rows"] == [{"lane": "窗口", "role": "registrar"}]
    handler, h = api_sign_in(app, "handler")
    assert handler.put("/api/designer/lane-roles", headers=h, json={"rows": []}).status_code == 403

    def read_only(*_args):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(lane_roles, "write", read_only)
    r = client.put("/api/designer/lane-roles", headers=headers, json={"rows": [{"lane": "窗口", "role": "leader"}]})
    assert r.status_code == 503 and "processes/" in r.get_json()["error"]["message"]
