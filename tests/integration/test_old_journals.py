"""Journals written before events carried only what changed (issue #21 point 4): the cases of
tests/fixtures/journals/whole_data_v1.json were journaled by the engine as it was then (every completed task's
event held the whole values of the keys it changed, before and after). Put into a database of today, they still
verify (hash chain, seals, replay against the stored state), replay step by step, show their history, and go on
under the engine of today with new, change-only events on the same chain. Both databases."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import DateTime, select, text

from engine.definitions import SourceFile
from engine.store import Case, JournalEvent, ProcessDefinition, Timer, WorkItem
from services.audit_export import changes_of
from tests.bench import processes

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "journals" / "whole_data_v1.json"
MODELS = {m.__table__.name: m for m in (Case, WorkItem, Timer, JournalEvent)}


def _typed(model, row: dict) -> dict:
    out = dict(row)
    for col in model.__table__.columns:
        is_time = isinstance(col.type, DateTime) or getattr(col.type, "impl", None).__class__ is DateTime
        if is_time and isinstance(out.get(col.key), str):
            out[col.key] = datetime.fromisoformat(out[col.key])
    return out


@pytest.fixture
def old(container):
    """The fixture's definitions deployed, its cases' rows written as they were: {case id: process key}."""
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert fixture["secret_key"] == container.settings.secret_key  # the seals were made with the tests' key
    sources = {f["name"]: SourceFile(f["name"], f["text"].encode("utf-8")) for f in fixture["sources"]}
    for names in fixture["deploys"]:
        container.runtime.deploy([sources[n] for n in names], actor="fixture")
    with container.session_factory() as s, s.begin():
        definition_of = {d.process_key: d.id for d in s.scalars(select(ProcessDefinition))}
        for table in ("case_instance", "work_item", "timer", "journal_event"):
            model = MODELS[table]
            rows = [_typed(model, r) for r in fixture["tables"][table]]
            if table == "case_instance":
                for r in rows:
                    r["definition_id"] = definition_of[r["process_key"]]
            s.execute(model.__table__.insert(), rows)
        if s.bind.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in MODELS:
                s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT max(id) FROM {table}))"))
    container.clock.set(datetime.fromisoformat(fixture["clock"]))
    return {r["id"]: r["process_key"] for r in fixture["tables"]["case_instance"]}


def _realistic(old: dict) -> int:
    return next(cid for cid, key in old.items() if key == processes.REALISTIC_KEY)


def test_old_journals_verify_with_chain_seals_and_replay(container, old):
    for case_id in old:
        check = container.runtime.verify(case_id)
        assert check.ok, (case_id, check.reason)
        assert check.events > 5


def test_old_journals_hold_whole_values_and_replay_step_by_step(container, old):
    case_id = _realistic(old)
    with container.session_factory() as s:
        rows = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id)
                         .order_by(JournalEvent.seq)).all()
    recorded = [json.loads(r.data) for r in rows if r.type == "task.completed" and r.element_id == "record"]
    assert recorded and all("patch" not in d for d in recorded)  # the old form: whole values before and after
    assert recorded[-1]["changes"]["opinions"][1][-1]["text"].startswith("第7轮")
    submitted = [r.seq for r in rows if r.type == "task.submitted"]
    after_second = container.runtime.replay(case_id, submitted[1])
    assert [o["round"] for o in after_second.data["opinions"]] == [1, 2]  # as it stood after the 2nd round
    whole = container.runtime.replay(case_id)
    assert len(whole.data["opinions"]) == 7 and whole.data["comments"]["r7"].startswith("第7轮")
    source, fields = changes_of({"type": "task.completed", "data": recorded[-1]})
    opinions = next(f for f in fields if f["field"] == "opinions")
    assert source == "diff" and len(opinions["before"]) == 6 and len(opinions["after"]) == 7


def test_an_old_case_goes_on_with_change_only_events_and_still_verifies(container, old):
    case_id = _realistic(old)
    rt = container.runtime
    view = rt.get_case(case_id)
    for r in range(8, 30):  # past PATCH_MIN_ITEMS entries: the growing list and dict are journaled as patches
        view = rt.complete(view.tasks[0].id, processes.round_data(r), "handler")
    assert rt.verify(case_id).ok
    with container.session_factory() as s:
        last = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id, JournalEvent.type ==
                                                    "task.completed", JournalEvent.element_id == "record")
                         .order_by(JournalEvent.seq.desc())).first()
    data = json.loads(last.data)
    assert "opinions" not in data.get("changes", {}) and "comments" not in data.get("changes", {})
    assert {op["path"] for op in data["patch"]} == {"/opinions/-", "/comments/r29"}
    source, fields = changes_of({"type": "task.completed", "data": data})
    assert {f["field"] for f in fields} >= {"opinions[+]", "comments.r29", "rounds"}
    assert len(rt.replay(case_id).data["opinions"]) == 29
