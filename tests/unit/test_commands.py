"""The command model (engine.commands): every journaled command decodes from the event the runtime wrote and
encodes back to the same bytes, and replay applies a command through the very `apply` the runtime ran."""
from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from engine import commands
from engine.case_migration import CaseMigration
from engine.commands import REGISTRY, CompleteTask, DeliverMessage, from_event
from engine.definitions import SourceFile, collect_files
from engine.handlers import HandlerRegistry
from engine.journal import to_json
from engine.store import JournalEvent, Timer
from engine.worker import Worker
from services import register_all
from services.store import drafts
from tests.support import bpmn
from tests.support.db import make_container

ROOT = Path(__file__).resolve().parents[2]
DATA = {"category": "劳动社保", "location": "county_a"}


@pytest.fixture
def world(database_url, clock, tmp_path):
    """A container whose registry has a handler that fails until told otherwise, with every process deployed."""
    fail = {"on": True}
    registry = register_all(HandlerRegistry())

    @registry.register("flaky")
    def flaky(params: dict, ctx):
        if fail["on"]:
            raise ConnectionError("对方系统超时")
        return {"ok": params["value"]}

    c = make_container(database_url, clock, tmp_path, handlers=registry)
    c.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    c.runtime.deploy([SourceFile("svc.bpmn", bpmn.SERVICE.encode()), SourceFile("msg.bpmn", bpmn.MESSAGE.encode())],
                     actor="designer")
    try:
        yield c, fail
    finally:
        c.engine.dispose()


def run_every_command(c, fail, clock) -> list[int]:
    """Cases whose journals hold at least one event of every command type."""
    rt = c.runtime
    a = rt.start("simple_case", DATA, "registrar", case_no="X-1")
    clock.advance(timedelta(days=1))
    rt.pause_deadlines(a.id, "county", "等待补充材料")
    clock.advance(timedelta(days=3))
    rt.resume_deadlines(a.id, "county", "材料已补齐")
    a = rt.complete(rt.get_case(a.id).tasks[0].id, {"signed": True}, "handler")
    rt.extend_deadline(a.id, "Timer_reply_limit", 10, "leader", "批准延期")
    rt.correct_deadline(a.id, "Timer_reply_limit", "2026-06-30", "admin", "期限录入错误，按交办单更正")
    with c.session_factory() as s, s.begin():  # a rule changed behind the timer: recomputing moves it
        s.execute(update(Timer).where(Timer.case_id == a.id, Timer.rule.is_not(None)).values(days=Timer.days + 10))
    assert rt.recompute_deadlines()["moved"] >= 1
    clock.advance(timedelta(days=120))
    Worker(rt, c.session_factory, clock).run_once()
    b = rt.start("svc_case", {"amount": 2}, "registrar")
    repaired = rt.start("svc_case", {"amount": 2}, "registrar")  # in incident: its data corrected, then moved on
    rt.repair_data(repaired.id, "amount", 5, "admin", "金额录错")
    rt.move_to_step(repaired.id, "after", "admin", "外部系统已人工处理")
    fail["on"] = False
    rt.retry_incidents(b.id, "admin")
    m = rt.start("msg_case", {}, "registrar")
    rt.deliver_message(m.id, "补充材料", {"docs": ["身份证"]}, "bureau")
    q = rt.start("msg_case", {}, "registrar")
    rt.queue_message(q.id, "补充材料", {"docs": ["户口簿"]}, "bureau")  # waited for already: delivered at once
    assert not rt.queued_messages(q.id) and "补充材料" not in rt.waiting_messages(q.id)
    moved = rt.start("simple_case", DATA, "registrar")
    with c.session_factory() as s:
        base = drafts.version_row(s, "simple_case")
        main = drafts.main_file(base)
        text = drafts.sources_of(base)[main]
        files = drafts.bundle(base, {main: re.sub(r"workdays\(5\)", "workdays(3)", text)})
    [v2] = [v for v in rt.deploy(files, actor="designer") if v.process_key == "simple_case"]
    CaseMigration(rt).migrate(v2.definition_id, [moved.id], actor="designer")
    return [a.id, b.id, m.id, q.id, moved.id, repaired.id]


def test_every_command_decodes_from_its_journal_event_and_encodes_back_to_the_same_bytes(world, clock):
    c, fail = world
    case_ids = run_every_command(c, fail, clock)
    with c.session_factory() as s:
        rows = s.scalars(select(JournalEvent).where(JournalEvent.case_id.in_(case_ids))
                         .order_by(JournalEvent.case_id, JournalEvent.seq)).all()
        seen = set()
        for row in rows:
            command = from_event(row.type, row.element_id, json.loads(row.data))
            if command is None:
                assert row.type not in REGISTRY
                continue
            seen.add(row.type)
            assert type(command) is REGISTRY[row.type]
            event = command.to_event(row.actor, row.at)
            assert (event.type, event.element_id, event.actor) == (row.type, row.element_id, row.actor)
            assert to_json(event.data) == row.data, row.type  # byte for byte: the hash chain covers this text
    assert seen == set(REGISTRY), set(REGISTRY) - seen
    for case_id in case_ids:
        check = c.runtime.verify(case_id)
        assert check.ok, (case_id, check.reason)


def test_replay_applies_a_command_through_the_same_apply_as_the_runtime(world, monkeypatch):
    c, _ = world
    rt = c.runtime
    calls = []
    original = CompleteTask.apply

    def watched(self, wf, ctx):
        calls.append(ctx.replaying)
        return original(self, wf, ctx)

    monkeypatch.setattr(CompleteTask, "apply", watched)
    case = rt.start("simple_case", DATA, "registrar")
    rt.complete(case.tasks[0].id, {"signed": True}, "handler")
    assert calls == [False]  # the runtime's unit of work
    assert rt.verify(case.id).ok
    assert calls == [False, True]  # the replay, through the same method
    rt.replay(case.id)
    assert calls == [False, True, True]


def test_a_changed_apply_changes_what_replay_arrives_at(world, monkeypatch):
    """No second copy of a command in replay: break one command's apply and the replay of a journal that holds
    it no longer matches the state the runtime stored."""
    c, _ = world
    rt = c.runtime
    m = rt.start("msg_case", {}, "registrar")
    rt.deliver_message(m.id, "补充材料", {"docs": ["身份证"]}, "bureau")
    assert rt.verify(m.id).ok
    monkeypatch.setattr(DeliverMessage, "apply", lambda self, wf, ctx: None)
    check = rt.verify(m.id)
    assert not check.ok and "不一致" in check.reason


def test_replay_groups_by_the_commands_the_registry_replays():
    assert "case.migrated" in REGISTRY and not REGISTRY["case.migrated"].replayed
    assert commands.replayed_types() == frozenset(REGISTRY) - {"case.migrated"}
    assert from_event("task.completed", "Task_sign", {}) is None  # what a command produced is no command
