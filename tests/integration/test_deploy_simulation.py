"""The smoke simulation before a deployment goes live (issue #19, point 2), on SQLite and PostgreSQL.

The broken version used here passes every static check and fails only when run: the condition of the flow
诉访分离 out of the gateway 怎样分流？ (Gateway_route) loses its quotes, `route == 诉访分离`, which reads as a
variable that no case has. The gateway evaluates it for every triaged case, so the first real petition after the
deployment would stop at 分流研判 with an incident. The simulation finds it first and refuses the deployment,
naming the path (登记→分流→签收→受理→答复) and the step (分流研判, Task_triage).
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.definitions import DefinitionError, SourceFile, collect_files
from engine.simulation import SimulationFailed
from engine.store import (
    Case,
    Deployment,
    JournalEvent,
    Outbox,
    OutboxEvent,
    ProcessDefinition,
    Timer,
    WorkItem,
)
from tests.support.web import api_sign_in as sign_in, office_app
from web.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
GOOD_CONDITION = 'route == "诉访分离"'
BROKEN_CONDITION = "route == 诉访分离"
PATH = "登记→分流→签收→受理→答复"
PETITION_PATHS = [PATH, "领导接访→分流→签收→13710 包案", "登记→分流→签收→受理→提请上交→县联席会议",
                  "登记→分流→县信访局签收→二次交办→县住建局签收"]


def shipped() -> list[SourceFile]:
    return collect_files([str(ROOT / "processes")])


def broken(files: list[SourceFile]) -> list[SourceFile]:
    out = []
    for f in files:
        if f.name == "petition_case.bpmn":
            text = f.content.decode("utf-8")
            assert text.count(GOOD_CONDITION) == 1
            f = SourceFile(f.name, text.replace(GOOD_CONDITION, BROKEN_CONDITION).encode("utf-8"))
        out.append(f)
    return out


def row_counts(container) -> dict[str, int]:
    with container.session_factory() as s:
        return {model.__name__: s.scalar(select(func.count()).select_from(model))
                for model in (Case, JournalEvent, WorkItem, Timer, Outbox, OutboxEvent, ProcessDefinition,
                                      Deployment)}


@pytest.fixture
def office(container):
    office_app(container, deploy=False)  # the organisation and its users, nothing deployed
    return container


def test_a_good_version_passes_the_simulation_and_leaves_no_case_behind(office):
    versions = office.runtime.deploy(shipped(), actor="designer", comment="first")
    assert {v.process_key for v in versions} >= {"petition_case", "simple_case"}
    counts = row_counts(office)
    assert counts["Case"] == counts["JournalEvent"] == counts["WorkItem"] == counts["Timer"] == 0
    assert counts["Outbox"] == counts["OutboxEvent"] == 0  # the receipt the registration sent went to the outbox, rolled back


def test_the_designer_validation_reports_each_step_and_leaves_nothing(office):
    office.runtime.deploy(shipped(), actor="designer", comment="first")
    before = row_counts(office)
    report = office.runtime.simulate(shipped())
    assert report.ok
    by_name = {p.name: p for p in report.paths}
    petition = by_name[PATH]
    assert [s.step for s in petition.steps] == ["start", "Task_triage", "Task_sign", "Task_accept", "Task_handle"]
    assert all(s.ok for s in petition.steps)
    assert petition.waits == ["审核销号（Task_signoff）"]  # the first wait after the reply
    assert row_counts(office) == before
    assert report.at == office.clock.now()  # the clock frozen at the deployment's instant


def test_a_condition_that_fails_at_run_time_blocks_the_deployment_naming_path_and_step(office):
    office.runtime.deploy(shipped(), actor="designer", comment="first")
    office.runtime.check(broken(shipped()))  # the static checks pass: only running finds it
    before = row_counts(office)
    with pytest.raises(SimulationFailed) as failed:
        office.runtime.deploy(broken(shipped()), actor="designer", comment="broken")
    problems = failed.value.problems
    assert {p.simulation["path"] for p in problems} == set(PETITION_PATHS)  # every petition path is triaged
    [problem] = [p for p in problems if p.simulation["path"] == PATH]
    assert problem.simulation["step"] == "Task_triage" and problem.simulation["label"] == "分流研判"
    assert problem.file == "petition_case.bpmn" and problem.element_id == "Gateway_route"
    assert problem.line and "诉访分离" in problem.simulation["message"]
    assert "模拟运行失败" in problem.message and PATH in problem.message
    assert row_counts(office) == before  # no new version, no deployment row, no case
    # the deployed version still starts cases; its cached spec is not the refused one's
    view = office.runtime.start("petition_case", {"title": "拖欠工资"}, actor="registrar")
    assert view.definition_version == 1


def test_nothing_stays_of_a_failed_simulation_and_ids_handed_out_again_load_the_right_version(office):
    with pytest.raises(SimulationFailed):
        office.runtime.deploy(broken(shipped()), actor="designer", comment="broken")
    assert row_counts(office)["ProcessDefinition"] == 0
    office.runtime.deploy(shipped(), actor="designer", comment="fixed")
    view = office.runtime.start("simple_case", {"category": "劳动社保", "location": "county_a"}, actor="registrar")
    assert view.status == "waiting" and [t.element_id for t in view.tasks] == ["Task_sign"]


def test_an_unchanged_bundle_is_not_simulated_again_on_deploy(office, monkeypatch):
    office.runtime.deploy(shipped(), actor="init", comment="first")
    calls = []
    plan = office.runtime.simulations
    monkeypatch.setattr(office.runtime, "simulations", lambda files: calls.append(1) or plan(files))
    versions = office.runtime.deploy(shipped(), actor="init", comment="again")
    assert not any(v.created for v in versions) and calls == []


def upload(files: list[SourceFile]):
    return {"files": [(io.BytesIO(f.content), f.name) for f in files], "comment": "试一试"}


def test_the_deploy_api_refuses_with_the_simulation_named(office):
    app = office_app(office, deploy=False)
    client, headers = sign_in(app, "designer")
    r = client.post("/api/process-definitions", headers=headers, data=upload(broken(shipped())),
                    content_type="multipart/form-data")
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    [error] = [e for e in body["errors"] if e["simulation"]["path"] == PATH]
    assert error["simulation"]["path"] == PATH and error["simulation"]["step"] == "Task_triage"
    assert error["element_id"] == "Gateway_route"
    assert body["simulation"]["ok"] is False
    assert client.get("/api/process-definitions").get_json()["definitions"] == []
    r = client.post("/api/process-definitions", headers=headers, data=upload(shipped()),
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()


def test_the_designer_validates_and_deploys_with_the_simulation(office):
    office.runtime.deploy(shipped(), actor="init", comment="first")
    app = office_app(office, deploy=False)
    client, headers = sign_in(app, "designer")
    proc = client.get("/api/designer/processes/petition_case").get_json()
    text = proc["files"]["petition_case.bpmn"].replace(GOOD_CONDITION, BROKEN_CONDITION)
    edit = {"base_definition_id": proc["definition_id"], "files": {"petition_case.bpmn": text}}
    result = client.post("/api/designer/processes/petition_case/validate", headers=headers, json=edit).get_json()
    assert result["ok"] is False
    # valid as written, but it does not run: the problems are the simulation's, one per petition path
    assert len(result["problems"]) == len(PETITION_PATHS)
    [problem] = [p for p in result["problems"] if p["simulation"]["path"] == PATH]
    assert problem["simulation"]["step"] == "Task_triage" and problem["element_id"] == "Gateway_route"
    simulation = result["simulation"]
    assert simulation["ok"] is False
    [path] = [p for p in simulation["paths"] if p["name"] == PATH]
    assert [(s["step"], s["ok"]) for s in path["steps"]] == [("start", True), ("Task_triage", False)]
    assert "诉访分离" in path["steps"][1]["message"]
    r = client.post("/api/designer/processes/petition_case/deploy", headers=headers, json=dict(edit, comment="坏的"))
    assert r.status_code == 422
    [problem] = [p for p in r.get_json()["problems"] if p["simulation"]["path"] == PATH]
    assert problem["simulation"]["step"] == "Task_triage" and problem["element_id"] == "Gateway_route"
    assert r.get_json()["simulation"]["ok"] is False
    good = {"base_definition_id": proc["definition_id"], "files": {"petition_case.bpmn": proc["files"][
        "petition_case.bpmn"].replace("分流研判", "分流研判（新）", 1)}}
    result = client.post("/api/designer/processes/petition_case/validate", headers=headers, json=good).get_json()
    assert result["ok"] is True and result["simulation"]["ok"] is True
    r = client.post("/api/designer/processes/petition_case/deploy", headers=headers, json=dict(good, comment="好的"))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["simulation"]["ok"] is True


def test_lianxin_init_passes_and_lianxin_deploy_refuses_a_broken_path(tmp_path):
    env = {"LIANXIN_VAR_DIR": str(tmp_path / "var"), "LIANXIN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    assert CliRunner().invoke(main, ["init", "--demo"], env=env, catch_exceptions=False).exit_code == 0
    folder = tmp_path / "bundle"
    folder.mkdir()
    for f in broken(shipped()):
        (folder / f.name).write_bytes(f.content)
    result = CliRunner().invoke(main, ["deploy", str(folder)], env=env, catch_exceptions=False)
    assert result.exit_code == 1
    assert "petition_case.bpmn:" in result.output and "Gateway_route" in result.output
    assert PATH in result.output and "分流研判" in result.output and "未部署" in result.output
    (folder / "petition_case.bpmn").write_bytes(
        (ROOT / "processes" / "petition_case.bpmn").read_bytes().replace("分流研判".encode(), "分流研判（新）".encode(), 1))
    result = CliRunner().invoke(main, ["deploy", str(folder)], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "petition_case v2" in result.output
    assert f"模拟运行通过（simulation passed）：{PATH}，停在 审核销号（Task_signoff）" in result.output


def with_form(name: str, change) -> list[SourceFile]:
    files = []
    for f in shipped():
        if f.name == name:
            schema = json.loads(f.content)
            change(schema)
            f = SourceFile(f.name, json.dumps(schema, ensure_ascii=False).encode("utf-8"))
        files.append(f)
    return files


def test_a_field_the_form_newly_requires_is_filled_in_from_the_form(office):
    def add_reference(schema):
        schema["required"].append("acceptance_reference")
        schema["properties"]["acceptance_reference"] = {"type": "string", "title": "受理文号", "minLength": 6}

    _, report = office.runtime.deploy_and_report(with_form("acceptance.schema.json", add_reference),
                                                 actor="designer", comment="new field")
    [petition] = [p for p in report.paths if p.name == PATH]
    assert petition.ok and not petition.stopped and petition.waits == ["审核销号（Task_signoff）"]


def test_a_form_the_example_cannot_fill_ends_the_path_there_without_blocking(office):
    def add_date(schema):
        schema["required"].append("accepted_on")
        schema["properties"]["accepted_on"] = {"type": "string", "format": "date", "title": "受理日期"}

    _, report = office.runtime.deploy_and_report(with_form("acceptance.schema.json", add_date),
                                                 actor="designer", comment="new date field")
    [petition] = [p for p in report.paths if p.name == PATH]
    assert petition.ok and [s.step for s in petition.steps] == ["start", "Task_triage", "Task_sign"]
    assert "accepted_on" in petition.stopped and "未模拟" in petition.stopped


def test_a_new_step_on_the_path_ends_the_path_at_it_without_blocking(office):
    """A designer who adds a work item the example does not know (核实情况 before 作出受理决定) is not refused:
    the synthetic case waits there, having run without an incident; the steps after it are not simulated."""
    text = next(f for f in shipped() if f.name == "petition_case.bpmn").content.decode("utf-8")
    renamed = text.replace('id="Task_accept"', 'id="Task_accept_v2"').replace(
        'attachedToRef="Task_accept"', 'attachedToRef="Task_accept_v2"').replace(
        "<bpmn:flowNodeRef>Task_accept</bpmn:flowNodeRef>", "<bpmn:flowNodeRef>Task_accept_v2</bpmn:flowNodeRef>")
    renamed = renamed.replace('sourceRef="Task_accept"', 'sourceRef="Task_accept_v2"').replace(
        'targetRef="Task_accept"', 'targetRef="Task_accept_v2"').replace(
        'bpmnElement="Task_accept"', 'bpmnElement="Task_accept_v2"')
    files = [SourceFile(f.name, renamed.encode("utf-8")) if f.name == "petition_case.bpmn" else f for f in shipped()]
    # A renamed step that has a meaning also needs processes/meanings.yaml to follow (the meanings check says so,
    # tests/integration/test_meanings_at_deploy.py); this test is about the simulation alone.
    office.runtime.bundle_checks = []
    _, report = office.runtime.deploy_and_report(files, actor="designer", comment="renamed")
    [petition] = [p for p in report.paths if p.name == PATH]
    assert petition.ok and "Task_accept" in petition.stopped
    assert petition.waits == ["作出受理决定（Task_accept_v2）"]


def with_text(name: str, old: str, new: str) -> list[SourceFile]:
    out = []
    for f in shipped():
        if f.name == name:
            text = f.content.decode("utf-8")
            assert text.count(old) >= 1
            f = SourceFile(f.name, text.replace(old, new, 1).encode("utf-8"))
        out.append(f)
    return out


def test_a_timer_expression_that_fails_when_reached_blocks_the_deployment(office):
    """签收期限 reads a setting that does not exist (`limits["sign_days"]`): valid as written, it fails when the
    case reaches 签收 after triage."""
    files = with_text("petition_case.bpmn", 'workdays(limits["sign_workdays"], dispatch["at"])</bpmn:timeDate>',
                      'workdays(limits["sign_days"], dispatch["at"])</bpmn:timeDate>')
    office.runtime.check(files)
    with pytest.raises(SimulationFailed) as failed:
        office.runtime.deploy(files, actor="designer", comment="timer")
    problems = failed.value.problems
    assert {p.simulation["path"] for p in problems} == set(PETITION_PATHS)
    [problem] = [p for p in problems if p.simulation["path"] == PATH]
    assert problem.simulation["step"] == "Task_triage" and "sign_days" in problem.simulation["message"]


def test_work_nobody_can_do_is_a_warning_not_a_refusal(office):
    """审核销号 given a role nobody holds in the assigning office: the deployment goes through, and the report says
    which work nobody could do. (The responsible unit's own tasks are checked before: see the next test.)"""
    text = next(f for f in shipped() if f.name == "petition_case.bpmn").content.decode("utf-8")
    start = text.index('<bpmn:userTask id="Task_signoff"')
    unit = text.index('<spiffworkflow:property name="unit" value="assignment[&quot;assigning_unit&quot;]"/>', start)
    assert unit - start < 200
    files = with_text("petition_case.bpmn", text[start:unit], text[start:unit].replace(
        "<spiffworkflow:properties>", '<spiffworkflow:properties>\n          <spiffworkflow:property name="role" '
                                      'value="nobody_role"/>'))
    versions, report = office.runtime.deploy_and_report(files, actor="designer", comment="role")
    assert any(v.created and v.process_key == "petition_case" for v in versions)
    [petition] = [p for p in report.paths if p.name == PATH]
    assert petition.ok
    [warning] = petition.warnings
    assert "审核销号（Task_signoff）" in warning and "nobody_role" in warning and "无人可办" in warning


def test_a_role_nobody_holds_in_the_units_the_routing_table_reaches_refuses_the_deployment(office):
    """作出受理决定 given a role nobody holds in the responsible unit: every unit the routing table can reach would
    get work nobody can do, so the deployment is refused, naming each unit and the role (services/org_coverage.py)."""
    text = next(f for f in shipped() if f.name == "petition_case.bpmn").content.decode("utf-8")
    start = text.index('<bpmn:userTask id="Task_accept"')
    role = text.index('<spiffworkflow:property name="role" value="unit_handler"/>', start)
    assert role - start < 400
    files = with_text("petition_case.bpmn", text[start:role + 60],
                      text[start:role + 60].replace('value="unit_handler"', 'value="nobody_role"'))
    with pytest.raises(DefinitionError) as refused:
        office.runtime.deploy_and_report(files, actor="designer", comment="role")
    messages = [str(p) for p in refused.value.problems]
    assert messages and all("nobody_role" in m for m in messages)
    assert any("county_a_env" in m for m in messages) and any("city_edu" in m for m in messages)
