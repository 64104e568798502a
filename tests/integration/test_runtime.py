"""The case runtime on SQLite and PostgreSQL: every command one unit of work, conflicts refused, errors kept
as incidents, timers fired once, long loops correct, journals chained."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from engine import tree
from engine.definitions import DefinitionError, SourceFile, collect_files
from engine.handlers import HandlerRegistry
from engine.runtime import Conflict
from engine.store import Case, ProcessDefinition, Timer, WorkItem
from engine.worker import Worker
from services import register_all
from tests.support import bpmn
from tests.support.db import ROOT, make_container


def deploy_processes(c):
    return c.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")


def open_items(c, case_id):
    with c.session_factory() as s:
        return list(s.scalars(select(WorkItem).where(WorkItem.case_id == case_id, WorkItem.state == "open")
                              .order_by(WorkItem.id)))


def src(text_: str, name: str) -> SourceFile:
    return SourceFile(name, text_.encode("utf-8"))


# ---------------------------------------------------------------- deployment and versions

def test_deploy_versions_by_content_hash(container):
    first = [v for v in deploy_processes(container) if v.process_key == "simple_case"]
    assert [(v.process_key, v.version, v.created) for v in first] == [("simple_case", 1, True)]
    again = [v for v in deploy_processes(container) if v.process_key == "simple_case"]
    assert [(v.version, v.created) for v in again] == [(1, False)]

    case = container.runtime.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar")
    changed = (ROOT / "processes" / "simple_case.bpmn").read_text(encoding="utf-8").replace(
        "workdays(5)", "workdays(3)")
    files = [f for f in collect_files([str(ROOT / "processes")]) if not f.name.endswith(".bpmn")]
    second = container.runtime.deploy(files + [src(changed, "simple_case.bpmn")], actor="designer")
    assert [(v.version, v.created) for v in second] == [(2, True)]

    # the running case stays on version 1, a new case starts on version 2
    assert container.runtime.get_case(case.id).definition_version == 1
    newer = container.runtime.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar")
    assert newer.definition_version == 2
    [simple] = [d for d in container.runtime.list_definitions() if d["key"] == "simple_case"]
    assert [v["open_cases"] for v in simple["versions"]] == [1, 1]


def test_nothing_deployed_when_any_file_fails(container):
    good = bpmn.source("loop_case", bpmn.LOOP.split('isExecutable="true">', 1)[1].rsplit("</bpmn:process>", 1)[0])
    bad = src(bpmn.SERVICE.replace('id="flaky"', 'id="no_such_handler"'), "svc_case.bpmn")
    with pytest.raises(DefinitionError) as err:
        container.runtime.deploy([good, bad], actor="designer")
    text_ = "\n".join(str(p) for p in err.value.problems)
    assert "svc_case.bpmn:" in text_ and "call_flaky" in text_ and "no_such_handler" in text_
    with container.session_factory() as s:
        assert s.scalar(select(ProcessDefinition.id).limit(1)) is None


# ---------------------------------------------------------------- the simple case, end to end

def test_simple_case_runs_to_completion_with_redo(container, clock):
    deploy_processes(container)
    rt = container.runtime
    case = rt.start("simple_case", {"title": "拖欠工资", "category": "劳动社保", "location": "county_a"}, "registrar")
    assert case.status == "waiting"
    [sign] = case.tasks
    assert (sign.element_id, sign.role, sign.unit, sign.form) == ("Task_sign", "unit_handler", "county_a_hrss",
                                                                  "sign.schema.json")
    # WD(5) from Mon 2026-03-02 09:00 is Mon 03-09, deadline at 24:00 Beijing time
    assert sign.due_at.isoformat() == "2026-03-09T16:00:00+00:00"
    case = rt.complete(sign.id, {"signed": True}, "handler")
    [reply] = case.tasks
    assert reply.element_id == "Task_reply"
    case = rt.complete(reply.id, {"outcome": "支持", "reply_text": "已处理"}, "handler")
    [review] = case.tasks
    assert (review.role, review.unit) == ("bureau", "city_bureau")
    case = rt.complete(review.id, {"approved": False}, "bureau")  # returned for redo
    [reply2] = case.tasks
    assert reply2.element_id == "Task_reply" and reply2.id != reply.id
    case = rt.complete(reply2.id, {"outcome": "解释说明", "reply_text": "补充说明"}, "handler")
    case = rt.complete(case.tasks[0].id, {"approved": True}, "bureau")
    assert case.status == "completed"
    assert case.data["outcome"] == "解释说明"
    history = rt.history(case.id)
    types = [e["type"] for e in history]
    assert types[0] == "case.started" and types[-1] == "case.completed"
    assert types.count("task.submitted") == 5
    routed = [e for e in history if e["type"] == "service.called"]
    assert routed[0]["data"]["handler"] == "choose_unit"
    assert routed[0]["data"]["result"] == {"unit": "county_a_hrss", "rule": "category"}
    completed_review = [e for e in history if e["type"] == "task.completed" and e["element_id"] == "Task_review"]
    assert completed_review[0]["data"]["changes"]["approved"] == [None, False]
    assert rt.verify(case.id).ok


def test_state_is_stored_as_text_in_writing_order(container):
    deploy_processes(container)
    case = container.runtime.start("simple_case", {"category": "劳动社保", "location": "county_a", "zz": 1,
                                                   "aa": 2}, "registrar")
    with container.engine.connect() as conn:
        raw = conn.execute(text("select state from case_instance where id = :id"), {"id": case.id}).scalar_one()
        if container.engine.dialect.name == "postgresql":
            col_type = conn.execute(text(
                "select data_type from information_schema.columns where table_name='case_instance' "
                "and column_name='state'")).scalar_one()
            assert col_type == "text"
    assert isinstance(raw, str)
    keys = list(json.loads(raw).keys())
    assert keys != sorted(keys)  # SpiffWorkflow's own order, never re-sorted
    # data of the waiting task survives a reload
    assert container.runtime.get_case(case.id).data["responsible_unit"] == "county_a_hrss"


# ---------------------------------------------------------------- conflicts

def test_double_completion_and_stale_version_are_conflicts(container):
    deploy_processes(container)
    rt = container.runtime
    case = rt.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar")
    sign = case.tasks[0]
    with pytest.raises(Conflict):
        rt.complete(sign.id, {"signed": True}, "handler", expected_version=case.version + 5)
    after = rt.complete(sign.id, {"signed": True}, "handler", expected_version=case.version)
    events_before = len(rt.history(case.id))
    with pytest.raises(Conflict) as err:
        rt.complete(sign.id, {"signed": True}, "handler")
    assert "已办理" in err.value.message
    assert len(rt.history(case.id)) == events_before
    assert rt.get_case(case.id).version == after.version


# ---------------------------------------------------------------- timers through the worker

def test_timer_fires_once_through_the_worker(container, clock):
    deploy_processes(container)
    rt = container.runtime
    case = rt.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar")
    worker = Worker(rt, container.session_factory, clock)
    assert worker.run_once()["cases_fired"] == 0
    clock.advance(timedelta(days=6))  # Sun 03-08: not yet due
    assert worker.run_once()["cases_fired"] == 0
    clock.advance(timedelta(days=2))  # Tue 03-10: WD(5) passed at Mon 24:00
    result = worker.run_once()
    assert result["cases_fired"] == 1
    assert worker.run_once()["cases_fired"] == 0
    history = rt.history(case.id)
    reminders = [e for e in history if e["type"] == "service.called" and e["data"]["handler"] == "remind"]
    assert len(reminders) == 1 and reminders[0]["data"]["result"]["task"] == "签收办理"
    view = rt.get_case(case.id)
    assert [t.element_id for t in view.tasks] == ["Task_sign"]  # non-interrupting: the task stays
    with container.session_factory() as s:
        statuses = [t.status for t in s.scalars(select(Timer).where(Timer.case_id == case.id))]
    assert statuses == ["fired"]


def test_completing_a_task_cancels_its_timer(container):
    deploy_processes(container)
    rt = container.runtime
    case = rt.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar")
    rt.complete(case.tasks[0].id, {"signed": True}, "handler")
    with container.session_factory() as s:
        rows = {t.element_id: t.status for t in s.scalars(select(Timer).where(Timer.case_id == case.id))}
    assert rows == {"Timer_sign_limit": "cancelled", "Timer_reply_limit": "pending"}


# ---------------------------------------------------------------- incidents

def test_failing_handler_opens_incident_with_its_message_and_retry_recovers(database_url, clock, tmp_path):
    calls = {"fail": True}
    registry = register_all(HandlerRegistry())

    @registry.register("flaky")
    def flaky(params: dict, ctx):
        if calls["fail"]:
            raise ConnectionError("省信访系统接口超时")
        return {"echo": params["value"] * 2}

    c = make_container(database_url, clock, tmp_path, handlers=registry)
    try:
        c.runtime.deploy([src(bpmn.SERVICE, "svc_case.bpmn")], actor="designer")
        case = c.runtime.start("svc_case", {"amount": 21}, "registrar")
        assert case.status == "incident"
        [inc] = case.incidents
        assert inc.element_id == "call_flaky"
        assert "省信访系统接口超时" in inc.message and "NameError" not in inc.message
        assert case.tasks == []
        calls["fail"] = False  # the outside system is fixed
        case = c.runtime.retry_incidents(case.id, "admin")
        assert case.status == "waiting" and case.incidents == []
        assert case.data["flaky_result"] == {"echo": 42}
        assert [t.element_id for t in case.tasks] == ["after"]
    finally:
        c.engine.dispose()


def test_uncaught_error_end_event_in_called_process_is_an_incident(container):
    container.runtime.deploy([src(bpmn.CALLEE_ERROR, "callee.bpmn"), src(bpmn.CALLER, "caller.bpmn")],
                             actor="designer")
    case = container.runtime.start("caller_case", {}, "registrar")
    assert case.status == "incident"
    assert case.tasks == []  # the success path was NOT taken
    assert "CHECK_FAILED" in case.incidents[0].message


def test_sandbox_refusal_is_an_incident(container):
    container.runtime.deploy([src(bpmn.SCRIPT_ESCAPE, "escape.bpmn")], actor="designer")
    case = container.runtime.start("escape_case", {}, "registrar")
    assert case.status == "incident"
    assert case.incidents[0].element_id == "evil"
    assert "__globals__" in case.incidents[0].message
    assert "leaked" not in case.data


def test_scripts_that_cannot_pass_the_sandbox_are_refused_at_deploy(container):
    bad = bpmn.SCRIPT_ESCAPE.replace('secret = "__glo" + "bals__"', "import os")
    with pytest.raises(DefinitionError) as err:
        container.runtime.deploy([src(bad, "escape.bpmn")], actor="designer")
    [problem] = err.value.problems
    assert problem.element_id == "evil" and "import" in problem.message


# ---------------------------------------------------------------- messages

def test_message_delivery(container):
    container.runtime.deploy([src(bpmn.MESSAGE, "msg.bpmn")], actor="designer")
    rt = container.runtime
    case = rt.start("msg_case", {}, "registrar")
    assert case.tasks == [] and case.status == "waiting"
    with pytest.raises(Conflict):
        rt.deliver_message(case.id, "没有这个消息", {}, "bureau")
    case = rt.deliver_message(case.id, "补充材料", {"docs": ["身份证复印件"]}, "bureau")
    assert [t.element_id for t in case.tasks] == ["review_docs"]


# ---------------------------------------------------------------- long cases

def test_a_case_looping_1000_times_stays_correct(sqlite_container):
    c = sqlite_container
    c.runtime.deploy([src(bpmn.LOOP, "loop.bpmn")], actor="designer")
    case = c.runtime.start("loop_case", {}, "registrar")
    for _ in range(1000):
        case = c.runtime.complete(case.tasks[0].id, {"done": False}, "handler")
        assert case.status == "waiting" and len(case.tasks) == 1
    with c.session_factory() as s:
        size = len(s.get(Case, case.id).state)
    case = c.runtime.complete(case.tasks[0].id, {"done": True}, "handler")
    assert case.status == "completed"
    assert size < 20_000  # finished history is pruned from the live tree; the journal keeps it
    assert c.runtime.verify(case.id).ok


def test_a_commands_case_view_makes_its_data_when_read_and_it_is_the_cases_data(container):
    c = container
    c.runtime.deploy([src(bpmn.LOOP, "loop.bpmn")], actor="designer")
    case = c.runtime.start("loop_case", {"opinions": [f"意见{i}" for i in range(40)]}, "registrar")
    view = c.runtime.complete(case.tasks[0].id, {"done": False, "at": "2026-03-02"}, "handler")
    assert callable(view.data_source)  # not made by the command (issue #21: a long case's data is large)
    stored = c.runtime.get_case(case.id)
    assert view.data == stored.data and view.data["opinions"][-1] == "意见39" and view.data["done"] is False
    assert view.data is view.data  # made once
    as_dict = view.to_dict()
    assert as_dict["data"] == stored.data and "data_source" not in as_dict
    assert list(as_dict) == list(stored.to_dict())
    assert list(as_dict).index("data") == list(as_dict).index("timers") + 1  # where it always was


def test_a_stored_case_with_plain_data_is_read_without_a_copy_through_json(container, monkeypatch):
    c = container
    c.runtime.deploy([src(bpmn.LOOP, "loop.bpmn")], actor="designer")
    case = c.runtime.start("loop_case", {"opinions": [f"意见{i}" for i in range(40)]}, "registrar")
    view = c.runtime.complete(case.tasks[0].id, {"done": False, "score": 2.5, "note": None}, "handler")
    expected = view.data  # made from the command's workflow, through JSON

    def refuse(value):
        raise AssertionError("copied through JSON")
    monkeypatch.setattr(tree, "to_json", refuse)
    stored = c.runtime.get_case(case.id)  # issue #21: the long case's data was written out and read back
    assert stored.data == expected and list(stored.data) == list(expected)


# ---------------------------------------------------------------- journal

def test_tampering_with_a_stored_event_is_detected(container):
    deploy_processes(container)
    rt = container.runtime
    case = rt.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar")
    rt.complete(case.tasks[0].id, {"signed": True}, "handler")
    assert rt.verify(case.id).ok
    with container.engine.begin() as conn:
        conn.execute(text("update journal_event set actor = 'mallory' where case_id = :c and seq = 3"),
                     {"c": case.id})
    result = rt.verify(case.id)
    assert not result.ok and result.first_bad_seq == 3


def test_removing_the_last_event_is_detected(container):
    deploy_processes(container)
    rt = container.runtime
    case = rt.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar")
    n = len(rt.history(case.id))
    with container.engine.begin() as conn:
        conn.execute(text("delete from journal_event where case_id = :c and seq = :n"), {"c": case.id, "n": n})
    assert not rt.verify(case.id).ok


def test_builtins_may_be_called_in_conditions(container):
    text_ = bpmn.LOOP.replace("done == True", "len(str(done)) == 4").replace("done == False", "len(str(done)) == 5")
    [v] = container.runtime.deploy([src(text_, "loop.bpmn")], actor="designer")
    case = container.runtime.start("loop_case", {}, "registrar")
    case = container.runtime.complete(case.tasks[0].id, {"done": True}, "handler")
    assert case.status == "completed"


ESCAPES_AT_RUN_TIME = {
    "file": ("content = open('/etc/passwd').read()", "open"),
    "globals": ("leaked = getattr(now, '__glo' + 'bals__')", "__globals__"),
    "class_walk": ("leaked = getattr(getattr((), '__cla' + 'ss__'), '__ba' + 'se__')", "__class__"),
    "environment": ("leaked = os.environ['HOME']", "os"),
    "endless": ("while True:\n    pass", "CPU"),
    "allocation": ("big = 'x' * (10 ** 9)", "10"),
}


@pytest.mark.parametrize("name", sorted(ESCAPES_AT_RUN_TIME))
def test_each_escape_attempt_leaves_a_clear_incident(sqlite_container, name):
    script, words = ESCAPES_AT_RUN_TIME[name]
    body = bpmn.SCRIPT_ESCAPE.replace('secret = "__glo" + "bals__"\nleaked = getattr(now, secret)', script)
    sqlite_container.runtime.deploy([src(body, "escape.bpmn")], actor="designer")
    case = sqlite_container.runtime.start("escape_case", {}, "registrar")
    assert case.status == "incident"
    [incident] = case.incidents
    assert incident.element_id == "evil" and words in incident.message
    assert not {"content", "leaked", "big"} & set(case.data)


ESCAPES_AT_DEPLOY = {
    "import": "import os",
    "dunder_import": "m = __import__('os')",
    "subclasses": "s = ().__class__.__base__.__subclasses__()",
    "globals_attribute": "g = now.__globals__",
}


@pytest.mark.parametrize("name", sorted(ESCAPES_AT_DEPLOY))
def test_escape_attempts_visible_in_the_source_are_refused_at_deploy(sqlite_container, name):
    body = bpmn.SCRIPT_ESCAPE.replace('secret = "__glo" + "bals__"\nleaked = getattr(now, secret)',
                                      ESCAPES_AT_DEPLOY[name])
    with pytest.raises(DefinitionError) as err:
        sqlite_container.runtime.deploy([src(body, "escape.bpmn")], actor="designer")
    assert [p.element_id for p in err.value.problems] == ["evil"]


def test_a_unit_expression_that_fails_leaves_the_task_unrouted_and_says_why(container):
    text_ = (ROOT / "processes" / "simple_case.bpmn").read_text(encoding="utf-8").replace(
        '<spiffworkflow:property name="unit" value="responsible_unit" />\n          <spiffworkflow:property name="form" value="sign.schema.json" />',
        '<spiffworkflow:property name="unit" value="responsible_unt" />\n          <spiffworkflow:property name="form" value="sign.schema.json" />')
    files = [f for f in collect_files([str(ROOT / "processes")]) if not f.name.endswith(".bpmn")]
    container.runtime.deploy(files + [src(text_, "simple_case.bpmn")], actor="designer")
    case = container.runtime.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar")
    assert case.tasks[0].unit is None
    [warning] = [e for e in container.runtime.history(case.id) if e["type"] == "work_item.unrouted"]
    assert warning["element_id"] == "Task_sign" and "responsible_unt" in warning["data"]["message"]


MULTI = bpmn.process("multi_case", f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="ask" name="各单位报送意见"><bpmn:extensionElements><spiffworkflow:properties>
<spiffworkflow:property name="role" value="unit_handler"/><spiffworkflow:property name="unit" value="unit_item"/>
</spiffworkflow:properties></bpmn:extensionElements>
<bpmn:multiInstanceLoopCharacteristics>
<bpmn:loopDataInputRef>units</bpmn:loopDataInputRef>
<bpmn:loopDataOutputRef>opinions</bpmn:loopDataOutputRef>
<bpmn:inputDataItem id="unit_item" name="unit_item"/>
<bpmn:outputDataItem id="opinion" name="opinion"/>
</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>
<bpmn:boundaryEvent id="ask_limit" name="报送期限" cancelActivity="false" attachedToRef="ask">
<bpmn:timerEventDefinition><bpmn:timeDate>workdays(10)</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:boundaryEvent>
<bpmn:endEvent id="late"/>
<bpmn:endEvent id="end"/>
{bpmn.flow("f1", "start", "ask")}
{bpmn.flow("f2", "ask", "end")}
{bpmn.flow("f3", "ask_limit", "late")}
""", "多实例")


def test_each_instance_of_a_multi_instance_task_is_a_work_item_with_its_unit_and_the_tasks_due_date(container):
    rt = container.runtime
    rt.deploy([SourceFile("multi_case.bpmn", MULTI.encode("utf-8"))], actor="test")
    view = rt.start("multi_case", {"units": ["county_a_housing", "county_a_hrss"]}, "registrar")
    assert sorted((t.name, t.unit) for t in view.tasks) == [("各单位报送意见", "county_a_housing"),
                                                             ("各单位报送意见", "county_a_hrss")]
    [deadline] = view.deadlines
    assert {t.due_at for t in view.tasks} == {deadline["due_at"]}  # the timer on the task is each instance's
    for task in view.tasks:
        view = rt.complete(task.id, {"opinion": f"{task.unit} 的意见"}, "handler")
    assert view.status == "completed" and view.data["opinions"] == ["county_a_housing 的意见", "county_a_hrss 的意见"]
    assert rt.verify(view.id).ok
    empty = rt.start("multi_case", {"units": []}, "registrar")  # no unit: no work item, straight through
    assert empty.status == "completed" and empty.tasks == []
