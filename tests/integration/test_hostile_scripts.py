"""Scripts and handlers that try to stop the process running them (issue #15, point 4).

`raise Warning.mro()[2]('boom')` reached BaseException, which passes by every `except Exception`: the web
request's process ended, and behind a timer `lianxin worker` exited with code 1 leaving the timer pending, so
every worker that picked it up died. Now the case goes into incident with a clear message and the process goes
on: the worker with the next timer, the web app with the next request.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import sandbox
from engine.definitions import SourceFile
from engine.handlers import HandlerRegistry
from engine.store import Case, Timer
from engine.worker import Worker
from services import register_all
from tests.support import bpmn
from tests.support.db import ROOT, make_container
from tests.support.web import api_sign_in, office_app

# The attack as reported. Deployment now refuses `.mro`, so the first form only exists in definitions deployed
# before this fix; the second form passes the deploy-time check and meets the guard when it runs.
RAISE_BASE_EXCEPTION = "raise Warning.mro()[2]('boom')"
RAISE_BASE_EXCEPTION_LATE = "raise getattr(Warning, 'm' + 'ro')()[2]('boom')"


def timer_then_script(pid: str, script: str) -> SourceFile:
    return bpmn.source(pid, f"""
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="wait" name="等待一小时">
  <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:scriptTask id="after_wait" name="到期处理"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
{bpmn.user_task("review", "复核")}
<bpmn:endEvent id="end"/>
{bpmn.flow("f1", "start", "wait")}
{bpmn.flow("f2", "wait", "after_wait")}
{bpmn.flow("f3", "after_wait", "review")}
{bpmn.flow("f4", "review", "end")}
""", "定时脚本")


def deploy_unchecked(runtime, files, monkeypatch) -> None:
    """Deploys as a version without the `.mro` check did: the script is stored as it was written."""
    with monkeypatch.context() as patch:
        patch.setattr(sandbox, "check_script", lambda text: None)
        runtime.deploy(files, actor="designer")


def worker_process(database_url: str, tmp_path, now) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), LIANXIN_DATABASE_URL=database_url,
               LIANXIN_VAR_DIR=str(tmp_path / "var"), LIANXIN_SECRET_KEY="test-secret")
    return subprocess.run([sys.executable, "-m", "web.cli", "worker", "--once", "--now", now.isoformat()],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("script", [RAISE_BASE_EXCEPTION, RAISE_BASE_EXCEPTION_LATE])
def test_a_timer_script_raising_base_exception_is_an_incident_and_the_worker_goes_on(
        container, database_url, clock, tmp_path, monkeypatch, script):
    rt = container.runtime
    deploy_unchecked(rt, [timer_then_script("hostile_timer", script)], monkeypatch)
    rt.deploy([timer_then_script("plain_timer", "checked = True")], actor="designer")
    hostile = rt.start("hostile_timer", {}, "registrar")  # due first: the worker meets it first
    clock.advance(timedelta(minutes=1))
    plain = rt.start("plain_timer", {}, "registrar")

    done = worker_process(database_url, tmp_path, clock.now() + timedelta(hours=2))

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["cases_fired"] == 2 and result["failed"] == 0
    hostile_view = rt.get_case(hostile.id)
    assert hostile_view.status == "incident"
    [incident] = hostile_view.incidents
    assert incident.element_id == "after_wait"
    assert '"mro"' in incident.message and "not allowed in BPMN scripts" in incident.message
    plain_view = rt.get_case(plain.id)
    assert plain_view.status == "waiting" and plain_view.data["checked"] is True
    assert [t.element_id for t in plain_view.tasks] == ["review"]
    with container.session_factory() as s:
        timers = {row.case_id: row.status for row in s.scalars(select(Timer))}
    assert timers == {hostile.id: "fired", plain.id: "fired"}  # none left pending for the next worker to die on


class Abort(BaseException):
    """What a library may raise that is not an Exception (asyncio's CancelledError is one)."""


SERVICE_AFTER_TIMER = bpmn.source("svc_timer", f"""
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="wait" name="等待一小时">
  <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:serviceTask id="call_out" name="调用外部系统">
  <bpmn:extensionElements>
    <spiffworkflow:serviceTaskOperator id="abort" resultVariable="outcome">
      <spiffworkflow:parameters><spiffworkflow:parameter id="how" type="str" value="how"/></spiffworkflow:parameters>
    </spiffworkflow:serviceTaskOperator>
  </bpmn:extensionElements>
</bpmn:serviceTask>
{bpmn.user_task("review", "复核")}
<bpmn:endEvent id="end"/>
{bpmn.flow("f1", "start", "wait")}
{bpmn.flow("f2", "wait", "call_out")}
{bpmn.flow("f3", "call_out", "review")}
{bpmn.flow("f4", "review", "end")}
""", "定时服务")


def test_a_handler_raising_base_exception_is_an_incident_and_a_process_stop_is_not(database_url, clock, tmp_path):
    registry = register_all(HandlerRegistry())

    @registry.register("abort")
    def abort(params: dict, ctx):
        if params["how"] == "interrupt":
            raise KeyboardInterrupt  # as Ctrl-C arrives: the process's own, it must still stop the process
        raise Abort("外部库中止")

    c = make_container(database_url, clock, tmp_path, handlers=registry)
    try:
        rt = c.runtime
        rt.deploy([SERVICE_AFTER_TIMER, timer_then_script("plain_timer", "checked = True")], actor="designer")
        aborted = rt.start("svc_timer", {"how": "abort"}, "registrar")
        plain = rt.start("plain_timer", {}, "registrar")
        clock.advance(timedelta(hours=2))
        assert Worker(rt, c.session_factory, clock).run_once()["cases_fired"] == 2
        view = rt.get_case(aborted.id)
        assert view.status == "incident"
        assert "abort" in view.incidents[0].message and "外部库中止" in view.incidents[0].message
        assert rt.get_case(plain.id).data["checked"] is True

        interrupted = rt.start("svc_timer", {"how": "interrupt"}, "registrar")
        clock.advance(timedelta(hours=2))
        with pytest.raises(KeyboardInterrupt):
            Worker(rt, c.session_factory, clock).run_once()
        with c.session_factory() as s:  # rolled back: the timer is still due for the next worker
            assert s.scalar(select(Timer.status).where(Timer.case_id == interrupted.id)) == "pending"
            assert s.get(Case, interrupted.id).status == "waiting"
    finally:
        c.engine.dispose()


def user_task_then_script(script: str) -> SourceFile:
    unit = ('<bpmn:userTask id="fill" name="填写"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="role" value="unit_handler"/>'
            '<spiffworkflow:property name="unit" value="\'county_a_hrss\'"/>'
            '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>')
    return bpmn.source("hostile_step", f"""
<bpmn:startEvent id="start"/>
{unit}
<bpmn:scriptTask id="after_fill" name="计算"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
{bpmn.user_task("review", "复核")}
<bpmn:endEvent id="end"/>
{bpmn.flow("f1", "start", "fill")}
{bpmn.flow("f2", "fill", "after_fill")}
{bpmn.flow("f3", "after_fill", "review")}
{bpmn.flow("f4", "review", "end")}
""", "填写后计算")


@pytest.mark.parametrize("script", [RAISE_BASE_EXCEPTION, RAISE_BASE_EXCEPTION_LATE])
def test_completing_a_task_whose_next_script_raises_base_exception_answers_and_the_app_keeps_serving(
        container, monkeypatch, script):
    app = office_app(container)
    deploy_unchecked(container.runtime, [user_task_then_script(script)], monkeypatch)
    designer, dh = api_sign_in(app, "designer")
    started = designer.post("/api/process-definitions/hostile_step/instances", headers=dh, json={"data": {}})
    assert started.status_code == 201, started.get_json()
    case_id = started.get_json()["id"]
    handler, hh = api_sign_in(app, "handler")
    [task] = [t for t in handler.get("/api/tasks?scope=unit").get_json()["tasks"] if t["case_id"] == case_id]

    done = handler.post(f"/api/tasks/{task['id']}/complete", headers=hh, json={"data": {"note": "已填写"}})

    assert done.is_json
    assert done.status_code == 200, done.get_json()
    case = handler.get(f"/api/cases/{case_id}").get_json()
    assert case["status"] == "incident"
    [incident] = case["incidents"]
    assert incident["element_id"] == "after_fill" and '"mro"' in incident["message"]
    assert handler.get("/api/tasks?scope=unit").status_code == 200  # the same app still answers


def test_a_base_exception_that_still_reaches_the_web_app_is_a_json_500_and_the_next_request_is_served(
        sqlite_container):
    app = office_app(sqlite_container, deploy=False)

    def broken_view():
        raise Abort("视图中止")

    app.add_url_rule("/api/test-broken", "test_broken", broken_view)
    client = app.test_client()

    answer = client.get("/api/test-broken")

    assert answer.status_code == 500
    error = answer.get_json()["error"]
    assert error["code"] == "internal_error" and "try again later" in error["message"]
    assert client.get("/api/openapi.json").status_code == 200


@pytest.mark.parametrize("script, operation", [
    ("padded = 'a'.ljust(3 * 10**9)", "str.ljust"),
    ("n = pow(3, 2**16000, 2**16000 + 1)", "pow(base, exp, mod)"),
    ("s = 'x' * 10**6\nall = s.join([s for i in range(1200)])", "str.join"),
])
def test_a_refused_builder_is_the_cases_incident(container, script, operation):
    """Issue #15 point 5: the refusal, naming the operation and its limit, is what the admin sees."""
    rt = container.runtime
    rt.deploy([bpmn.source("big_step", f"""
<bpmn:startEvent id="start"/>
<bpmn:scriptTask id="build" name="生成"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
{bpmn.user_task("review", "复核")}
<bpmn:endEvent id="end"/>
{bpmn.flow("f1", "start", "build")}
{bpmn.flow("f2", "build", "review")}
{bpmn.flow("f3", "review", "end")}
""", "大数据")], actor="designer")
    case = rt.start("big_step", {"kept": 1}, "registrar")
    assert case.status == "incident" and case.tasks == []
    [incident] = case.incidents
    assert incident.element_id == "build" and operation in incident.message and "上限" in incident.message
    assert case.data == {"kept": 1}
