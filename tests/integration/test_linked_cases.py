"""The engine's linked cases: a handler's `start_case` effect starts a case of another deployed process after the
step, in the step's transaction, with the step's case as its parent (journaled on both); the linked case's
`register` effect with `of_parent` writes the parent's row. Refused: a process not deployed (the step becomes an
incident naming it, nothing is started), `of_parent` in a case nobody started. SQLite and PostgreSQL."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from engine.definitions import SourceFile
from engine.handlers import HandlerRegistry
from engine.store import Case, CaseRegister
from services import register_all
from tests.support import bpmn
from tests.support.db import make_container

OWNER = bpmn.SERVICE.replace('id="flaky"', 'id="link_case"').replace(
    '<spiffworkflow:parameter id="value" type="int" value="amount"/>',
    '<spiffworkflow:parameter id="target" type="str" value="target"/>')


@dataclass
class LinkInput:
    target: str


def link_case(inp: LinkInput, ctx):
    if inp.target == "parent_row":  # the linked case writes its parent's register row
        ctx.emit("register", register="supervision", key="row-1", unit="county_a", data={"status": "已反馈"},
                 of_parent=True, action="close")
        return {}
    ctx.emit("register", register="supervision", key="row-1", unit="county_a", data={"status": "待反馈"})
    ctx.emit("start_case", process_key=inp.target, data={"target": "parent_row"})
    return {}


@pytest.fixture
def c(database_url, clock, tmp_path):
    registry = register_all(HandlerRegistry())
    registry.register("link_case", link_case)
    container = make_container(database_url, clock, tmp_path, handlers=registry)
    container.runtime.deploy([SourceFile("svc.bpmn", OWNER.encode())], actor="designer")
    yield container
    container.engine.dispose()


def test_a_step_starts_a_linked_case_that_closes_its_parents_row(c):
    parent = c.runtime.start("svc_case", {"target": "svc_case"}, "registrar")
    assert parent.status == "waiting" and not parent.incidents
    with c.session_factory() as s:
        [child] = s.scalars(select(Case).where(Case.parent_case_id == parent.id))
        [row] = s.scalars(select(CaseRegister).where(CaseRegister.register == "supervision"))
        assert (row.case_id, row.status, json.loads(row.data)) == (parent.id, "closed", {"status": "已反馈"})
        assert not s.scalars(select(CaseRegister).where(CaseRegister.case_id == child.id)).all()
    started = [e for e in c.runtime.history(child.id) if e["type"] == "case.started"]
    assert started[0]["data"]["parent_case_id"] == parent.id
    asked = [e for e in c.runtime.history(parent.id) if e["type"] == "effect.start_case"]
    assert asked and asked[0]["data"]["payload"]["process_key"] == "svc_case"
    for case_id in (parent.id, child.id):  # both journals replay: the parent's does not start the child again
        assert c.runtime.verify(case_id).ok, case_id


def test_a_process_not_deployed_is_an_incident_and_starts_nothing(c):
    parent = c.runtime.start("svc_case", {"target": "no_such_process"}, "registrar")
    assert parent.status == "incident"
    assert "no_such_process" in parent.incidents[0].message and "尚未部署" in parent.incidents[0].message
    with c.session_factory() as s:
        assert s.scalars(select(Case).where(Case.parent_case_id == parent.id)).all() == []
        assert s.scalars(select(CaseRegister)).all() == []  # the step's other effects went with it


def test_of_parent_in_a_case_nobody_started_is_refused(c):
    case = c.runtime.start("svc_case", {"target": "parent_row"}, "registrar")
    assert case.status == "incident" and "of_parent" in case.incidents[0].message
