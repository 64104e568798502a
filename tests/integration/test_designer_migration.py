"""Moving running cases to a newer version: dry run by replay, one batch, journaled, deadlines recomputed."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.case_migration import CaseMigration
from engine.definitions import collect_files
from engine.runtime import Conflict
from engine.store import Timer, WorkItem
from services.store import drafts

ROOT = Path(__file__).resolve().parents[2]
DATA = {"category": "劳动社保", "location": "county_a"}


def deploy_processes(c):
    c.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="init", comment="lianxin init")


def deploy_changed(c, old: str, new: str, comment: str = "改签收期限"):
    with c.session_factory() as s:
        base = drafts.version_row(s, "simple_case")
        main = drafts.main_file(base)
        text = drafts.sources_of(base)[main]
        assert re.search(old, text)
        files = drafts.bundle(base, {main: re.sub(old, new, text)})
    [v] = [v for v in c.runtime.deploy(files, actor="designer", comment=comment) if v.process_key == "simple_case"]
    return v


def test_dry_run_then_migrate_moves_case_with_recomputed_deadline(container):
    rt = container.runtime
    deploy_processes(container)
    case = rt.start("simple_case", DATA, "registrar")
    assert case.definition_version == 1
    [old_timer] = case.timers
    item = case.tasks[0]
    rt.claim(item.id, "handler")
    v2 = deploy_changed(container, r"workdays\(5\)", "workdays(3)")
    assert v2.version == 2

    [check] = CaseMigration(rt).check(v2.definition_id)
    assert check.case_id == case.id and check.can_move, check.reason
    assert (check.from_version, check.to_version) == (1, 2)
    [moved] = check.deadlines
    assert moved["element_id"] == "Timer_sign_limit"
    assert moved["new_due_at"] < moved["old_due_at"]
    assert rt.get_case(case.id).definition_version == 1  # a dry run changes nothing

    CaseMigration(rt).migrate(v2.definition_id, [case.id], actor="designer")
    after = rt.get_case(case.id)
    assert after.definition_version == 2
    assert [t.id for t in after.tasks] == [item.id]  # the same work item, still claimed
    assert after.tasks[0].assignee == "handler"
    [timer] = after.timers
    assert timer["id"] == old_timer["id"] and timer["due_at"] < old_timer["due_at"]
    with container.session_factory() as s:
        row = s.get(Timer, timer["id"])
        assert (row.rule, row.days) == ("WD", 3)
    [event] = [e for e in rt.history(case.id) if e["type"] == "case.migrated"]
    assert event["actor"] == "designer"
    assert (event["data"]["from_version"], event["data"]["to_version"]) == (1, 2)
    assert event["data"]["deadlines"][0]["element_id"] == "Timer_sign_limit"
    assert rt.verify(case.id).ok
    # the case goes on, on the new version
    done = rt.complete(item.id, {"signed": True}, "handler")
    assert done.definition_version == 2
    assert rt.verify(case.id).ok


def test_case_past_a_removed_step_cannot_move_and_batch_is_all_or_nothing(container):
    rt = container.runtime
    deploy_processes(container)
    waiting = rt.start("simple_case", DATA, "registrar")
    advanced = rt.start("simple_case", DATA, "registrar")
    sign = advanced.tasks[0]
    rt.complete(sign.id, {"signed": True}, "handler")
    # v2 renames the sign task's element: a case that already signed cannot replay its journal there
    v2 = deploy_changed(container, r"\bTask_sign\b", "Task_sign_v2").definition_id
    checks = {c.case_id: c for c in CaseMigration(rt).check(v2)}
    assert not checks[advanced.id].can_move
    assert "Task_sign" in checks[advanced.id].reason
    assert not checks[waiting.id].can_move  # it waits at an element that no longer exists
    assert "签收办理" in checks[waiting.id].reason or "Task_sign" in checks[waiting.id].reason
    with pytest.raises(Conflict) as err:
        CaseMigration(rt).migrate(v2, [waiting.id, advanced.id], actor="designer")
    assert "未迁移任何案件" in err.value.message
    assert rt.get_case(waiting.id).definition_version == 1
    assert rt.get_case(advanced.id).definition_version == 1


def test_a_change_to_a_later_step_lets_cases_move_and_applies_there(container):
    rt = container.runtime
    deploy_processes(container)
    case = rt.start("simple_case", DATA, "registrar")
    v2 = deploy_changed(container, 'name="书面答复"', 'name="书面答复（新）"').definition_id
    [check] = CaseMigration(rt).check(v2)
    assert check.can_move and check.deadlines == []
    CaseMigration(rt).migrate(v2, [case.id], actor="designer")
    view = rt.complete(case.tasks[0].id, {"signed": True}, "handler")
    assert view.definition_version == 2
    with container.session_factory() as s:
        names = [w.name for w in s.scalars(select(WorkItem).where(WorkItem.case_id == case.id,
                                                                  WorkItem.state == "open"))]
    assert names == ["书面答复（新）"]


def test_a_deadline_moved_into_the_past_fires_by_the_worker_and_the_journal_still_verifies(container, clock):
    rt = container.runtime
    deploy_processes(container)
    case = rt.start("simple_case", DATA, "registrar")
    clock.advance(timedelta(days=4))
    v2 = deploy_changed(container, r"workdays\(5\)", "workdays(1)").definition_id
    [check] = CaseMigration(rt).check(v2)
    assert check.can_move and check.deadlines
    CaseMigration(rt).migrate(v2, [case.id], actor="designer")
    assert rt.verify(case.id).ok
    rt.fire_timers(case.id)
    history = [e["type"] for e in rt.history(case.id)]
    assert history.index("case.migrated") < history.index("timer.fired")
    assert rt.verify(case.id).ok


def test_completed_and_same_version_cases_are_refused_with_reasons(container):
    rt = container.runtime
    deploy_processes(container)
    case = rt.start("simple_case", DATA, "registrar")
    with container.session_factory() as s:
        v1 = drafts.version_row(s, "simple_case").id
    [check] = CaseMigration(rt).check(v1, [case.id])
    assert not check.can_move and "已在版本 1" in check.reason
    with pytest.raises(Conflict):
        CaseMigration(rt).migrate(v1, [case.id], actor="designer")


NEW_STEP = (
    (r'<bpmn:flowNodeRef>Task_reply</bpmn:flowNodeRef>',
     '<bpmn:flowNodeRef>Task_check</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_reply</bpmn:flowNodeRef>'),
    (r'<bpmn:sequenceFlow id="Flow_to_reply" sourceRef="Task_sign" targetRef="Task_reply" />',
     '<bpmn:sequenceFlow id="Flow_to_reply" sourceRef="Task_sign" targetRef="Task_check" />'
     '<bpmn:userTask id="Task_check" name="核实情况"><bpmn:extensionElements><spiffworkflow:properties>'
     '<spiffworkflow:property name="unit" value="responsible_unit" /></spiffworkflow:properties>'
     '</bpmn:extensionElements></bpmn:userTask>'
     '<bpmn:sequenceFlow id="Flow_check_reply" sourceRef="Task_check" targetRef="Task_reply" />'),
)


def test_a_new_step_moves_cases_before_it_and_names_why_not_for_cases_past_it(container):
    rt = container.runtime
    deploy_processes(container)
    before = rt.start("simple_case", DATA, "registrar")
    past = rt.start("simple_case", DATA, "registrar")
    rt.complete(past.tasks[0].id, {"signed": True}, "handler")
    with container.session_factory() as s:
        base = drafts.version_row(s, "simple_case")
        text = drafts.sources_of(base)["simple_case.bpmn"]
        for old, new in NEW_STEP:
            assert old in text
            text = text.replace(old, new)
        files = drafts.bundle(base, {"simple_case.bpmn": text})
    [v2] = [v for v in rt.deploy(files, actor="designer", comment="签收后先核实情况") if v.process_key == "simple_case"]
    checks = {c.case_id: c for c in CaseMigration(rt).check(v2.definition_id)}
    assert checks[before.id].can_move, checks[before.id].reason
    assert not checks[past.id].can_move
    assert "核实情况" in checks[past.id].reason and "书面答复" in checks[past.id].reason
    CaseMigration(rt).migrate(v2.definition_id, [before.id], actor="designer")
    after_sign = rt.complete(before.tasks[0].id, {"signed": True}, "handler")
    assert [t.name for t in after_sign.tasks] == ["核实情况"]
    assert rt.verify(before.id).ok
    assert rt.get_case(past.id).definition_version == 1
