"""How a step writes its rows (engine/runtime.py `_write_case`, engine/row_writes.py): the case row, the closed and
new work items and timers go out as single statements, not through the ORM's unit of work. What the session holds
afterwards must be what the database holds; a changed version is still refused; a completion whose task is the
case's only open one does not read the open work items again; a case object a command changed as well is written
whole."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select, update

from engine import row_writes
from engine.definitions import collect_files
from engine.runtime import Conflict, _write_case
from engine.store import Case, Timer, WorkItem
from tests.support import bpmn
from tests.support.db import ROOT


def _loop(c):
    c.runtime.deploy([bpmn.source("loop_case", bpmn.LOOP.split('isExecutable="true">', 1)[1]
                                  .rsplit("</bpmn:process>", 1)[0])], actor="designer")
    return c.runtime.start("loop_case", {}, "registrar")


def test_the_session_holds_what_the_step_wrote(container):
    case = _loop(container)
    item_id = case.tasks[0].id
    with container.session_factory() as s, s.begin():
        held_item, held_case = s.get(WorkItem, item_id), s.get(Case, case.id)  # a caller's copies, loaded first
        view = container.runtime.complete(item_id, {"done": False}, "handler", session=s)
        assert (held_item.state, held_item.completed_by) == ("completed", "handler")
        assert (held_case.version, held_case.status) == (case.version + 1, "waiting") == (view.version, view.status)
        new_item = s.get(WorkItem, view.tasks[0].id)
        assert new_item.state == "open" and new_item.case_id == case.id and new_item.task_id == view.tasks[0].task_id
        assert not s.dirty and not s.new  # nothing left for a later flush to write again
    with container.session_factory() as s:
        stored = s.get(Case, case.id)
        assert (stored.version, stored.last_seq) == (view.version, len(container.runtime.history(case.id)))
        assert [w.id for w in s.scalars(select(WorkItem).where(WorkItem.case_id == case.id,
                                                                WorkItem.state == "open"))] == [view.tasks[0].id]
    assert container.runtime.verify(case.id).ok


def test_a_rolled_back_savepoint_leaves_the_session_with_the_database(container):
    """The timer worker fires each case in a savepoint and, when that fails, records the failure on the same
    case in the same session: the session's copies must then be the rows as they were, not as the step wrote."""
    case = _loop(container)
    item_id = case.tasks[0].id
    with container.session_factory() as s, s.begin():
        held_item, held_case = s.get(WorkItem, item_id), s.get(Case, case.id)
        with pytest.raises(RuntimeError), s.begin_nested():
            container.runtime.complete(item_id, {"done": False}, "handler", session=s)
            assert held_case.version == case.version + 1
            raise RuntimeError("the caller's work after the step failed")
        assert (held_case.version, held_case.status, held_item.state) == (case.version, case.status, "open")
        held_case.status = "incident"  # the ORM's version check on a later write still holds
    with container.session_factory() as s:
        assert (s.get(Case, case.id).version, s.get(Case, case.id).status) == (case.version + 1, "incident")
        assert s.get(WorkItem, item_id).state == "open"


def test_a_case_row_at_another_version_is_refused(container):
    case = _loop(container)
    with container.session_factory() as s, s.begin():
        row = s.get(Case, case.id)
        s.execute(update(Case.__table__).where(Case.__table__.c.id == case.id).values(version=row.version + 5))
        with pytest.raises(Exception) as refused:
            _write_case(s, row, {"status": "waiting"})
        assert "no longer at version" in str(refused.value)


def test_completing_the_only_open_task_reads_the_open_items_once(container, monkeypatch):
    case = _loop(container)
    selects: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FROM work_item" in statement:
            selects.append(statement)

    fetch_one = row_writes.fetch_one

    def driver_select(s, text, params):  # the statements sent through the driver, which SQLAlchemy does not see
        count(None, None, text, params, None, False)
        return fetch_one(s, text, params)

    monkeypatch.setattr(row_writes, "fetch_one", driver_select)
    event.listen(container.engine, "before_cursor_execute", count)
    try:
        view = container.runtime.complete(case.tasks[0].id, {"done": False}, "handler")
    finally:
        event.remove(container.engine, "before_cursor_execute", count)
    assert len(selects) == 1  # the item with its case, locked; not the case's open items a second time
    assert len(view.tasks) == 1 and view.tasks[0].id != case.tasks[0].id


def test_a_second_submission_of_the_same_task_is_refused(container):
    case = _loop(container)
    container.runtime.complete(case.tasks[0].id, {"done": False}, "handler")
    with pytest.raises(Conflict):
        container.runtime.complete(case.tasks[0].id, {"done": False}, "handler")
    assert container.runtime.verify(case.id).ok


def test_timer_rows_follow_and_a_paused_case_is_written_whole(container):
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    case = container.runtime.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar")
    with container.session_factory() as s:
        live = s.scalars(select(Timer).where(Timer.case_id == case.id, Timer.status == "pending")).all()
    assert live and [t["id"] for t in case.timers] == [t.id for t in sorted(live, key=lambda t: t.due_at)]
    paused = container.runtime.pause_deadlines(case.id, "bureau", "等待鉴定")  # the command changes the case object
    assert paused.paused and paused.version == case.version + 1
    with container.session_factory() as s:
        assert s.get(Case, case.id).paused_at is not None and s.get(Case, case.id).version == paused.version
    done = container.runtime.complete(paused.tasks[0].id, {"signed": True}, "handler")
    with container.session_factory() as s:
        statuses = {t.id: t.status for t in s.scalars(select(Timer).where(Timer.case_id == case.id))}
    assert all(statuses[t.id] != "pending" for t in live)  # the timers of the finished task were closed
    assert {t["id"] for t in done.timers} <= {i for i, st in statuses.items() if st in ("pending", "paused")}
    assert container.runtime.verify(case.id).ok
