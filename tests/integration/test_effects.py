"""Handlers ask for side effects with ctx.emit; they are written in the step's transaction and journaled."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import event, select

from engine.definitions import SourceFile
from engine.handlers import HandlerRegistry
from engine.store import CaseRegister, Outbox
from services import register_all
from tests.support import bpmn
from tests.support.db import make_container

OWNER = bpmn.SERVICE.replace('id="flaky"', 'id="name_owner"').replace(
    '<spiffworkflow:parameter id="value" type="int" value="amount"/>',
    '<spiffworkflow:parameter id="leader" type="str" value="leader"/>')


@dataclass
class OwnerInput:
    leader: str


@pytest.fixture
def make(database_url, clock, tmp_path):
    made = []

    def build(handler):
        registry = register_all(HandlerRegistry())
        registry.register("name_owner", handler)
        c = make_container(database_url, clock, tmp_path, handlers=registry)
        c.runtime.deploy([SourceFile("svc.bpmn", OWNER.encode())], actor="designer")
        made.append(c)
        return c

    yield build
    for c in made:
        c.engine.dispose()


def test_effects_are_written_with_the_step_and_journaled(make):
    def name_owner(inp: OwnerInput, ctx):
        ctx.emit("register", register="leader_ownership", key="owner", unit="county_a", person=inp.leader,
                 data={"role": "包案领导"})
        ctx.emit("notify", channel="sms", recipient="13800000000", template="reminder",
                 data={"case_no": "XF1", "title": "拖欠工资", "unit": inp.leader, "deadline_label": "办理期限",
                       "due": "2026-03-09", "workdays_left": 2})
        return {"owner": inp.leader}

    c = make(name_owner)
    case = c.runtime.start("svc_case", {"leader": "leader"}, "registrar")
    assert case.status == "waiting"
    with c.session_factory() as s:
        [row] = s.scalars(select(CaseRegister).where(CaseRegister.case_id == case.id))
        assert (row.register, row.key, row.person, row.status) == ("leader_ownership", "owner", "leader", "open")
        [msg] = s.scalars(select(Outbox).where(Outbox.case_id == case.id))
        assert (msg.channel, msg.template, msg.status) == ("sms", "reminder", "pending")
        assert msg.template_version >= 1  # the newest version, recorded on the row
        assert len(msg.idempotency_key) == 40
    kinds = [e["type"] for e in c.runtime.history(case.id)]
    assert kinds.count("effect.register") == 1 and kinds.count("effect.notify") == 1


def test_a_malformed_effect_fails_the_step_and_writes_nothing(make):
    def name_owner(inp: OwnerInput, ctx):
        ctx.emit("register", register="leader_ownership", key="owner", person=inp.leader)
        ctx.emit("notify", channel="pigeon", recipient="x", template="reminder")
        return {}

    c = make(name_owner)
    case = c.runtime.start("svc_case", {"leader": "leader"}, "registrar")
    assert case.status == "incident" and "pigeon" in case.incidents[0].message
    with c.session_factory() as s:
        assert s.scalars(select(CaseRegister)).all() == []
        assert s.scalars(select(Outbox)).all() == []


def test_unknown_effect_kind_is_an_incident(make):
    def name_owner(inp: OwnerInput, ctx):
        ctx.emit("telepathy", to=inp.leader)
        return {}

    case = make(name_owner).runtime.start("svc_case", {"leader": "leader"}, "registrar")
    assert case.status == "incident" and "telepathy" in case.incidents[0].message


def test_an_unknown_template_is_an_incident_at_the_step(make):
    def name_owner(inp: OwnerInput, ctx):
        ctx.emit("notify", channel="sms", recipient="13800000000", template="no_such_template", data={})
        return {}

    case = make(name_owner).runtime.start("svc_case", {"leader": "leader"}, "registrar")
    assert case.status == "incident" and "no_such_template" in case.incidents[0].message


def test_the_effects_new_rows_go_with_the_steps_writes_and_the_session_holds_them(make):
    """The new rows of `notify` and `register` are inserted with the step's other rows (engine.row_writes), not by
    the ORM's flush; afterwards the session holds them with their ids, as stored, defaults included."""
    def name_owner(inp: OwnerInput, ctx):
        ctx.emit("register", register="leader_ownership", key="owner", unit="county_a", person=inp.leader)
        ctx.emit("notify", channel="inapp", recipient="handler", template="reminder",
                 data={"case_no": "XF1", "title": "拖欠工资", "unit": inp.leader, "deadline_label": "办理期限",
                       "due": "2026-03-09", "workdays_left": 2})
        return {"owner": inp.leader}

    c = make(name_owner)
    orm_inserts: list[str] = []
    added: dict[str, object] = {}  # the objects the sinks added (the session's identity map holds them weakly)
    sinks = c.runtime.script_engine.sinks
    for kind in ("notify", "register"):
        def kept(s, payload, ctx, sink=sinks[kind]):
            out = sink(s, payload, ctx)
            added.update((type(o).__name__, o) for o in s.new if isinstance(o, (Outbox, CaseRegister)))
            return out
        sinks[kind] = kept

    def count(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith(("INSERT", "SELECT")) and (
                "outbox" in statement or "case_register" in statement):
            orm_inserts.append(statement)  # the register's own row is looked up through the driver too

    event.listen(c.engine, "before_cursor_execute", count)
    try:
        with c.session_factory() as s, s.begin():
            case = c.runtime.start("svc_case", {"leader": "leader"}, "registrar", session=s)
            held = {name: o for name, o in added.items() if o in s}
            assert not s.new and not s.dirty
            assert all(s.get(type(o), o.id) is o for o in held.values())  # persistent, under their ids
    finally:
        event.remove(c.engine, "before_cursor_execute", count)
    assert orm_inserts == []  # not through SQLAlchemy (the driver's statements pass by no event)
    assert set(held) == {"Outbox", "CaseRegister"} and all(o.id for o in held.values())
    with c.session_factory() as s:
        msg = s.get(Outbox, held["Outbox"].id)
        row = s.get(CaseRegister, held["CaseRegister"].id)
        assert (msg.case_id, msg.channel, msg.attempts, msg.status) == (case.id, "inapp", 0, "pending")
        assert (row.case_id, row.person, row.data, row.status) == (case.id, "leader", "{}", "open")
    assert case.status == "waiting" and c.runtime.verify(case.id).ok


def test_the_effects_rows_of_a_rolled_back_savepoint_are_not_the_sessions(make):
    """The timer worker runs each case in a savepoint: when that rolls back, the rows the step's effects inserted
    are gone, and the session no longer holds them (as it forgets the rows its own flush inserted)."""
    def name_owner(inp: OwnerInput, ctx):
        ctx.emit("register", register="leader_ownership", key="owner", unit="county_a", person=inp.leader)
        return {"owner": inp.leader}

    c = make(name_owner)
    with c.session_factory() as s, s.begin():
        with pytest.raises(RuntimeError), s.begin_nested():
            c.runtime.start("svc_case", {"leader": "leader"}, "registrar", session=s)
            [row] = [o for o in s.identity_map.values() if isinstance(o, CaseRegister)]
            raise RuntimeError("the caller's work after the step failed")
        assert row not in s and s.scalars(select(CaseRegister)).all() == []
