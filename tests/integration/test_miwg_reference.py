"""Standard BPMN comes in: every model of the OMG BPMN MIWG reference suite (21 files from Camunda, Signavio,
bpmn.io and other tools; CC BY 3.0, see that folder's LICENSE.txt) is read without a crash. Descriptive models
(isExecutable="false") are stored as view-only models; executable ones either deploy or are refused with
problems that each name a file, a line and an element. The counts are exact, so that a regression fails.

The files are read from ../shared/testdata/miwg-reference beside the project (CI has that folder)."""
from __future__ import annotations

import io
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.definitions import DefinitionError, SourceFile
from engine.runtime import Invalid
from engine.store import ProcessDefinition
from engine.worker import Worker
from tests.support.web import api_sign_in, office_app, page_sign_in
from web.cli.main import main

MIWG = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "miwg-reference"

VIEW_ONLY = {"A.1.0.bpmn", "A.2.0.bpmn", "A.2.1.bpmn", "A.3.0.bpmn", "A.4.0.bpmn", "A.4.1.bpmn", "B.1.0.bpmn",
             "B.2.0.bpmn", "C.2.0.bpmn", "C.8.0.bpmn"}
REFUSED = {"C.1.0.bpmn", "C.1.1.bpmn", "C.3.0.bpmn", "C.4.0.bpmn", "C.5.0.bpmn", "C.6.0.bpmn", "C.7.0.bpmn",
           "C.8.1.bpmn", "C.9.0.bpmn", "C.9.1.bpmn", "C.9.2.bpmn"}


def miwg_files() -> list[Path]:
    if not MIWG.is_dir():
        pytest.fail(f"the MIWG reference models are missing: expected them in {MIWG} (shared test data beside the "
                    f"project; CI provides it)")
    return sorted(MIWG.glob("*.bpmn"))


def deploy(runtime, path: Path):
    return runtime.deploy([SourceFile(path.name, path.read_bytes())], actor="designer")


def test_every_miwg_reference_model_is_read_and_each_outcome_is_counted(container):
    rt = container.runtime
    files = miwg_files()
    assert len(files) == 21
    outcome: dict[str, str] = {}
    for path in files:
        try:
            versions = deploy(rt, path)
        except DefinitionError as err:  # anything else (a traceback) fails the test here
            assert err.problems, path.name
            for problem in err.problems:
                assert problem.file == path.name and problem.line and problem.element_id, str(problem)
                assert str(problem).startswith(f"{path.name}:{problem.line} {problem.element_id}: ")
            outcome[path.name] = "refused"
            continue
        assert versions, path.name
        listed = {d["key"]: d for d in rt.list_definitions()}
        kinds = {listed[v.process_key]["view_only"] for v in versions}
        outcome[path.name] = "view_only" if kinds == {True} else "executable" if kinds == {False} else "mixed"
    assert Counter(outcome.values()) == {"view_only": 10, "refused": 11}
    assert {name for name, kind in outcome.items() if kind == "view_only"} == VIEW_ONLY
    assert {name for name, kind in outcome.items() if kind == "refused"} == REFUSED


def test_a_view_only_model_is_listed_but_cannot_start(container):
    rt = container.runtime
    deploy(rt, MIWG / "C.8.0.bpmn")  # isExecutable="false": a drawing of the vacation request
    [entry] = [d for d in rt.list_definitions() if d["key"] == "VacationRequestProcess"]
    assert entry["view_only"] is True and entry["versions"][0]["view_only"] is True
    with pytest.raises(Invalid) as caught:
        rt.start("VacationRequestProcess", {}, "designer")
    assert "仅供查看" in caught.value.message and 'isExecutable="false"' in caught.value.message
    assert "deploy it again" in caught.value.message


def test_an_iso_8859_1_reference_model_keeps_its_text(container):
    rt = container.runtime
    path = MIWG / "A.1.0.bpmn"
    assert path.read_bytes().startswith(b'<?xml version="1.0" encoding="ISO-8859-1"')
    [version] = deploy(rt, path)
    with container.session_factory() as s:

        sources = s.get(ProcessDefinition, version.definition_id).sources_json
    assert "ISO-8859-1" not in sources.split("?>", 1)[0] and "UTF-8" in sources.split("?>", 1)[0]


CALL_CUSTOMER = b'<bpmn:userTask id="UserTask_CallCustomer" name="Call customer">'
WITH_ROLE = (b'<bpmn:userTask id="UserTask_CallCustomer" name="Call customer"><bpmn:extensionElements>'
             b'<spiffworkflow:properties xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core">'
             b'<spiffworkflow:property name="role" value="unit_handler"/></spiffworkflow:properties>'
             b'</bpmn:extensionElements>')


def test_c91_with_a_role_runs_its_standard_timers_daily_six_times_then_after_a_week(container, clock):
    """C.9.1 is refused only for its user task without a candidate role; given one, it deploys, and its bare
    R6/P1D reminder cycle and P7D deadline run on the engine's clock."""
    rt = container.runtime
    original = (MIWG / "C.9.1.bpmn").read_bytes()
    with pytest.raises(DefinitionError) as caught:
        deploy(rt, MIWG / "C.9.1.bpmn")
    assert [p.element_id for p in caught.value.problems] == ["UserTask_CallCustomer"]
    assert original.count(CALL_CUSTOMER) == 1
    rt.deploy([SourceFile("C.9.1.bpmn", original.replace(CALL_CUSTOMER, WITH_ROLE))], actor="designer")
    started = clock.now()
    case = rt.start("requestDocument_en", {}, "registrar")
    worker = Worker(rt, container.session_factory, clock)

    def fired(element_id):
        return sum(1 for e in rt.history(case.id) if e["type"] == "timer.fired"
                   for t in e["data"]["timers"] if t["element_id"] == element_id)

    for day in range(1, 7):
        clock.set(started + timedelta(days=day))
        assert worker.run_once()["cases_fired"] == 1
        assert (fired("BoundaryEvent_1"), fired("BoundaryEvent_2")) == (day, 0)
        assert rt.get_case(case.id).tasks == []
    clock.set(started + timedelta(days=7))
    assert worker.run_once()["cases_fired"] == 1
    assert (fired("BoundaryEvent_1"), fired("BoundaryEvent_2")) == (6, 1)
    assert [t.element_id for t in rt.get_case(case.id).tasks] == ["UserTask_CallCustomer"]


def test_over_http_a_view_only_model_uploads_lists_and_refuses_to_start(container):

    app = office_app(container, deploy=False)
    designer, dh = api_sign_in(app, "designer")
    path = MIWG / "B.2.0.bpmn"  # ISO-8859-1, a data store, four non-executable processes
    r = designer.post("/api/process-definitions", headers=dh,
                      data={"files": (io.BytesIO(path.read_bytes()), path.name)}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    listed = {d["key"]: d for d in designer.get("/api/process-definitions").get_json()["definitions"]}
    assert len(listed) == 4 and all(d["view_only"] for d in listed.values())
    r = designer.post("/api/process-definitions/WFP-0-/instances", headers=dh, json={"data": {}})
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error["code"] == "invalid" and "仅供查看" in error["message"] and "deploy it again" in error["message"]
    page = page_sign_in(app, "designer").get("/designer").get_data(as_text=True)
    assert page.count("仅供查看</span>") == 4


def test_lianxin_deploy_prints_view_only_versions_and_problem_lines_never_a_traceback(tmp_path):
    env = {"LIANXIN_VAR_DIR": str(tmp_path / "var"), "LIANXIN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}

    def run(*args):
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    assert run("init").exit_code == 0
    shown = run("deploy", str(MIWG / "A.2.1.bpmn"))  # crashed with JSONDecodeError before
    assert shown.exit_code == 0, shown.output
    assert re.search(r"^_To9ZoTOCEeSknpIVFCxNIQ v1 \w{12} 新版本 .* 仅供查看（view only", shown.output, re.MULTILINE)
    refused = run("deploy", str(MIWG / "C.9.0.bpmn"))
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    problems = [line for line in refused.output.splitlines() if line.startswith("C.9.0.bpmn:")]
    assert len(problems) == 14
    assert all(re.match(r"C\.9\.0\.bpmn:[1-9]\d* \S+: \S", line) for line in problems)
    assert "未部署任何文件" in refused.output
