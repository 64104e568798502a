"""Typed settings over HTTP and the command line (issue #19, point 1): a bad cell of settings.dmn is refused by
the deploy API (on SQLite and PostgreSQL), by the designer's validation and by `lianxin deploy`, one problem per
cell naming the table, the row and the column; a bad value deployed before the types existed stops the case at
读取时限设置 with the rule's words instead of giving a wrong deadline."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.definitions import SourceFile, collect_files
from tests.support.web import api_sign_in as sign_in, office_app
from web.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_DMN = (ROOT / "processes" / "settings.dmn").read_text(encoding="utf-8")


def with_cell(entry_id: str, text: str, source: str = SETTINGS_DMN) -> str:
    changed, n = re.subn(rf'(<outputEntry id="{entry_id}"><text>)[^<]*(</text>)', rf"\g<1>{text}\g<2>", source)
    assert n == 1
    return changed


MISSING = with_cell("Out_co_opinion", "x").replace(
    '<output id="Output_co_opinion" label="协办单位报送协办意见（工作日，自受理起，本地规定）" '
    'name="limits.co_opinion_workdays" typeRef="integer" />', "").replace(
    '<outputEntry id="Out_co_opinion"><text>x</text></outputEntry>', "")
BAD_TABLES = [
    # (kind, settings.dmn text, element id, column named or None, words)
    ("not a number", with_cell("Out_sign", "abc"), "Out_sign", "limits.sign_workdays", ["abc"]),
    ("zero", with_cell("Out_t1", "0"), "Out_t1", "limits.t1", ["收到 0"]),
    ("negative", with_cell("Out_e2", "-1"), "Out_e2", "limits.e2", ["正整数", "-1"]),
    ("fraction", with_cell("Out_extension", "29.5"), "Out_extension", "limits.extension_max_days", ["小数"]),
    ("over the regulation", with_cell("Out_handle", "90"), "Out_handle", "limits.handle_days",
     ["《信访工作条例》第三十四条", "60"]),
    ("wrong day type", with_cell("Out_sign", "5日"), "Out_sign", "limits.sign_workdays", ["计日方式", "工作日"]),
    ("missing setting", MISSING, "DecisionTable_settings", None, ["缺少必需的时限设置 limits.co_opinion_workdays"]),
]


def upload(settings_text: str):
    files = []
    for path in sorted((ROOT / "processes").rglob("*")):
        if path.suffix in (".bpmn", ".dmn", ".json"):
            content = settings_text.encode("utf-8") if path.name == "settings.dmn" else path.read_bytes()
            files.append((io.BytesIO(content), path.name))
    return {"files": files}


@pytest.fixture
def app(container):
    return office_app(container, deploy=False)


@pytest.mark.parametrize("kind, text, element_id, column, words", BAD_TABLES, ids=[b[0] for b in BAD_TABLES])
def test_the_deploy_api_refuses_a_bad_settings_cell_and_deploys_nothing(app, kind, text, element_id, column, words):
    client, headers = sign_in(app, "designer")
    r = client.post("/api/process-definitions", headers=headers, data=upload(text),
                    content_type="multipart/form-data")
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert body["error"]["code"] == "invalid_definition" and "未部署" in body["error"]["message"]
    [error] = body["errors"]  # one problem, at the cell
    assert (error["file"], error["element_id"]) == ("settings.dmn", element_id)
    assert error["line"] == text[:text.index(f'id="{element_id}"')].count("\n") + 1
    assert "决策表“时限设置”（deadline_settings）" in error["message"]
    if column:
        assert "第 1 条规则（适用范围：任意）" in error["message"] and f"{column} 列" in error["message"]
    for word in words:
        assert word in error["message"], (word, error["message"])
    assert client.get("/api/process-definitions").get_json()["definitions"] == []


def test_the_shipped_settings_deploy_through_the_api(app):
    client, headers = sign_in(app, "designer")
    r = client.post("/api/process-definitions", headers=headers, data=upload(SETTINGS_DMN),
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    assert "petition_case" in {v["process_key"] for v in r.get_json()["versions"]}


def test_the_designer_validation_names_the_article(container):
    app = office_app(container)
    client, headers = sign_in(app, "designer")
    proc = client.get("/api/designer/processes/petition_case").get_json()
    files = {"settings.dmn": with_cell("Out_handle", "90", proc["files"]["settings.dmn"])}
    r = client.post("/api/designer/processes/petition_case/validate", headers=headers,
                    json={"base_definition_id": proc["definition_id"], "files": files})
    result = r.get_json()
    assert result["ok"] is False
    [problem] = result["problems"]
    assert problem["element_id"] == "Out_handle" and "第三十四条" in problem["message"]


def test_a_bad_value_deployed_before_the_types_existed_stops_the_case_instead_of_a_wrong_deadline(container):
    """A version deployed without the declared types (as before this check) with 办结 90: the runtime checks the
    table's result, so the case stops at 读取时限设置 with the article named, and no 90-day limit reaches it."""
    office_app(container, deploy=False)
    files = [SourceFile(f.name, with_cell("Out_handle", "90").encode("utf-8")) if f.name == "settings.dmn" else f
             for f in collect_files([str(ROOT / "processes")])]
    rules, container.runtime.decision_rules = container.runtime.decision_rules, {}
    container.runtime.simulations = None  # nor the smoke simulation (it would stop this version at 读取时限设置)
    container.runtime.deploy(files, actor="before", comment="deployed before the settings had types")
    container.runtime.decision_rules = rules
    view = container.runtime.start("petition_case", {"title": "拖欠工资"}, actor="registrar")
    assert view.status == "incident"
    [incident] = view.incidents
    assert incident.element_id == "Rule_settings"
    assert "limits.handle_days" in incident.message and "第三十四条" in incident.message
    assert "limits" not in view.data and view.deadlines == [] and view.tasks == []


def test_lianxin_deploy_prints_one_line_per_bad_cell(tmp_path):
    env = {"LIANXIN_VAR_DIR": str(tmp_path / "var"), "LIANXIN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    bad = tmp_path / "settings.dmn"
    bad.write_text(with_cell("Out_accept", "abc", with_cell("Out_handle", "90")), encoding="utf-8")
    assert CliRunner().invoke(main, ["init"], env=env, catch_exceptions=False).exit_code == 0
    result = CliRunner().invoke(main, ["deploy", str(bad)], env=env, catch_exceptions=False)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("settings.dmn:")]
    assert len(lines) == 2
    assert any(re.match(r"settings\.dmn:\d+ Out_handle: 决策表“时限设置”.*第三十四条", line) for line in lines)
    assert any(re.match(r"settings\.dmn:\d+ Out_accept: 决策表“时限设置”.*limits\.accept_days 列", line)
               for line in lines)


def test_a_case_that_ran_with_a_bad_value_before_the_check_still_verifies(container):
    """Audit replays reproduce what was decided then: a case that read 办结 90 before the types existed is not
    reported as a tampered journal because the runtime now refuses that value for new commands."""
    office_app(container, deploy=False)
    files = [SourceFile(f.name, with_cell("Out_handle", "90").encode("utf-8")) if f.name == "settings.dmn" else f
             for f in collect_files([str(ROOT / "processes")])]
    rules, container.runtime.decision_rules = container.runtime.decision_rules, {}
    container.runtime.simulations = None  # nor the smoke simulation (it would stop this version at 读取时限设置)
    container.runtime.deploy(files, actor="before", comment="deployed before the settings had types")
    view = container.runtime.start("petition_case", {"title": "拖欠工资"}, actor="registrar")
    assert view.data["limits"]["handle_days"] == 90  # what happened before the check
    container.runtime.decision_rules = rules
    container.runtime._specs.clear()  # a restart with the check in place
    check = container.runtime.verify(view.id)
    assert check.ok, check
