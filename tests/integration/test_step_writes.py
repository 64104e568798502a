"""How a step writes its rows (engine/runtime.py `_write_case`, engine/row_writes.py): the case row, the closed and
new work items and timers go out as single statements, not through the ORM's unit of work. What the session holds
afterwards must be what the database holds; a changed version is still refused; a completion whose task is the
case's only open one does not read the open work items again; a case object a command changed as well is written
whole."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, inspect as orm_inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from engine import commands, row_writes
from engine.calendar.repository import _VERSION_MEMO, version_key
from engine.definitions import collect_files
from engine.row_writes import RowWrites, driver_writes, insert_sql
from engine.runtime import Conflict, _write_case
from engine.store import Case, JournalEvent, Timer, WorkItem
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


def _deadline_loop(c):
    """The loop with a working-day deadline on its task: every completion computes it with the calendar."""
    c.runtime.deploy([bpmn.source("deadline_loop", f"""
<bpmn:startEvent id="start"/>
{bpmn.user_task("handle", "办理")}
<bpmn:boundaryEvent id="handle_limit" name="办理时限" attachedToRef="handle" cancelActivity="false">
  <bpmn:timerEventDefinition id="td1"><bpmn:timeDate>workdays(15)</bpmn:timeDate></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:endEvent id="limit_end"/>
<bpmn:exclusiveGateway id="done_gw"/>
<bpmn:endEvent id="end"/>
{bpmn.flow("f1", "start", "handle")}
{bpmn.flow("f1b", "handle_limit", "limit_end")}
{bpmn.flow("f2", "handle", "done_gw")}
{bpmn.flow("f3", "done_gw", "end", "done == True")}
{bpmn.flow("f4", "done_gw", "handle", "done == False")}
""")], actor="designer")
    return c.runtime.start("deadline_loop", {}, "registrar")


def test_a_completion_reads_the_calendar_version_with_its_lock(container, monkeypatch):
    """A completion that computes a deadline checks the calendar's version (engine.calendar): read with the lock
    query, not by a statement of its own (on PostgreSQL a round trip); the key is the one a read of its own gives."""
    case = _deadline_loop(container)
    statements: list[str] = []
    fetch_one = row_writes.fetch_one

    def driver_select(s, text, params):
        statements.append(text)
        return fetch_one(s, text, params)

    def count(conn, cursor, statement, params, context, executemany):
        statements.append(statement)

    monkeypatch.setattr(row_writes, "fetch_one", driver_select)
    event.listen(container.engine, "before_cursor_execute", count)
    try:
        with container.session_factory() as s, s.begin():
            view = container.runtime.complete(case.tasks[0].id, {"done": False}, "handler", session=s)
            memo = s.info[_VERSION_MEMO][1]
            s.info.pop(_VERSION_MEMO)
            statements_before = len(statements)
            assert version_key(s) == memo  # the same key as a read of its own
            assert len(statements) == statements_before + 1
    finally:
        event.remove(container.engine, "before_cursor_execute", count)
    reads = [q for q in statements[:statements_before] if "sum(" in q and "calendar_year" in q]
    assert len(reads) == 1 and "FROM work_item" in reads[0], reads  # only the lock query reads it
    assert [t["element_id"] for t in view.timers] == ["handle_limit"]
    assert container.runtime.verify(case.id).ok


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


# ---- the statements sent through the driver (engine/row_writes.py)

def _timer(case_id: int, task_id: str, **values) -> Timer:
    base = dict(case_id=case_id, task_id=task_id, element_id="deadline", due_at=datetime(2026, 3, 23, 16, 0, tzinfo=UTC),
                status="pending", attempts=0, created_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC), label="办理时限",
                extension_days=0, provisional=True, roll_forward=False,
                start_at=datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=8))))
    return Timer(**dict(base, **values))


def test_rows_written_through_the_driver_are_stored_as_sqlalchemy_stores_them(container):
    """Each value converted as its column's type does (aware datetimes to UTC, booleans, NULLs, defaults): the row
    the driver wrote and the one the ORM wrote read back the same, as the database holds them and as objects."""
    case = _loop(container)
    with container.session_factory() as s, s.begin():
        ours, theirs = _timer(case.id, "ours"), _timer(case.id, "theirs")
        RowWrites(Timer.__table__, new=[ours]).write(s)
        s.add(theirs)
        s.flush()
        assert ours.id is not None and ours.id != theirs.id
        later = {"status": "fired", "fired_at": datetime(2026, 3, 24, 8, 30, tzinfo=timezone(timedelta(hours=8)))}
        RowWrites(Timer.__table__, changed=[(ours, later)]).write(s)
        theirs.status, theirs.fired_at = later["status"], later["fired_at"]
        s.flush()
        raw = {row.task_id: row._asdict() for row in s.execute(
            text("SELECT * FROM timer WHERE case_id = :c AND task_id IN ('ours', 'theirs')"), {"c": case.id})}
    assert {k: v for k, v in raw["ours"].items() if k not in ("id", "task_id")} == \
        {k: v for k, v in raw["theirs"].items() if k not in ("id", "task_id")}
    with container.session_factory() as s:
        read = {t.task_id: t for t in s.scalars(select(Timer).where(Timer.case_id == case.id,
                                                                    Timer.task_id.in_(("ours", "theirs"))))}
        columns = [c.key for c in Timer.__table__.columns if c.key not in ("id", "task_id")]
        assert [getattr(read["ours"], c) for c in columns] == [getattr(read["theirs"], c) for c in columns]
        assert read["ours"].fired_at == later["fired_at"] and read["ours"].provisional is True


def test_a_database_error_in_the_driver_writes_is_raised_as_sqlalchemy_raises_it(container):
    case = _loop(container)
    with container.session_factory() as s, s.begin():
        with pytest.raises(IntegrityError):  # (case_id, task_id) is unique
            with driver_writes(s) as w:
                RowWrites(Timer.__table__, new=[_timer(case.id, "twice")]).write(s, w)
                RowWrites(Timer.__table__, new=[_timer(case.id, "twice")]).write(s, w)
        s.rollback()


def test_a_stale_version_is_refused_as_such_when_a_later_write_fails_too(container):
    """On PostgreSQL the writes go out together: the journal insert of a command on a stale case fails on its
    sequence number, and the refusal still names the version (a Conflict for the caller), not the insert."""
    case = _loop(container)
    with container.session_factory() as s, s.begin():
        row = s.get(Case, case.id)
        s.execute(update(Case.__table__).where(Case.__table__.c.id == case.id).values(version=row.version + 5))
        first = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case.id, JournalEvent.seq == 1)).one()
        again = {c.key: getattr(first, c.key) for c in JournalEvent.__table__.columns if c.key != "id"}
        with pytest.raises(StaleDataError) as refused:
            with driver_writes(s) as w:
                _write_case(s, row, {"status": "waiting"}, w)
                w.executemany(insert_sql(w.dialect, JournalEvent.__table__, tuple(again)), [again])
        assert "no longer at version" in str(refused.value)


def test_rows_read_through_the_driver_are_the_sessions_copies(container):
    """As the ORM's query: a copy the session holds keeps what the command changed on it, an expired one is
    read again; the completion's own read (`refresh`) takes the row as stored."""
    case = _loop(container)
    with container.session_factory() as s, s.begin():
        changed, expired = _timer(case.id, "changed"), _timer(case.id, "expired")
        s.add_all([changed, expired])
        s.flush()
        changed.status = "paused"  # not yet written
        s.expire(expired)
        read = {t.task_id: t for t in row_writes.rows_where(s, Timer, "t.case_id = {p}", (case.id,))}
        assert read["changed"] is changed and changed.status == "paused"
        assert read["expired"] is expired and "status" in expired.__dict__ and expired.status == "pending"
        unseen = s.get(WorkItem, case.tasks[0].id)
        unseen.state = "nobody wrote this"
        item, held_case = commands.item_with_case(s, case.tasks[0].id)
        assert item is unseen and item.state == "open" and held_case is s.get(Case, case.id)
        assert not s.dirty


def test_a_new_row_made_without_the_constructor_is_written_and_read_as_one_made_with_it(container):
    """engine.row_writes.new_row: the step's new work items and timers skip the mapped constructor's attribute
    events; written by RowWrites they are stored as the constructor's object would be, and read back the same."""
    case = _loop(container)
    made = row_writes.new_row(Timer, **{k: v for k, v in vars(_timer(case.id, "bare")).items() if not k.startswith("_")})
    assert orm_inspect(made).transient and not orm_inspect(made).attrs.status.history.added
    assert made.id is None and made.status == "pending"
    built = _timer(case.id, "built")
    with container.session_factory() as s, s.begin():
        RowWrites(Timer.__table__, new=[made, built]).write(s)
    made.status = "paused"  # it changes as any new object does
    with container.session_factory() as s:
        bare, other = s.get(Timer, made.id), s.get(Timer, built.id)
        columns = [c.key for c in Timer.__table__.columns if c.key not in ("id", "task_id")]
        assert [getattr(bare, k) for k in columns] == [getattr(other, k) for k in columns]
        assert bare.status == "pending"
