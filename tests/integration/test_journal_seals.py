"""Journal seals: an event rewritten together with every later hash (what someone with write access to the
database alone can do) is caught by its seal; seals of a replaced secret key verify when that key is given as a
previous key; events from before sealing are sealed once by `seal_unsealed`, and a stripped seal is never
restored. Both databases."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from engine.journal import GENESIS, Sealer, event_hash
from engine.store import Case, JournalEvent
from tests.support.db import make_container
from tests.support.web import office_app

ROOT = Path(__file__).resolve().parents[2]
DATA = {"title": "工资拖欠", "category": "劳动社保", "location": "county_a",
        "petitioner": {"name": "张三丰", "phone": "13812345678"}}


@pytest.fixture(autouse=True)
def deployed(container):
    office_app(container)  # the organisation and processes/


def a_case(container) -> int:
    rt = container.runtime
    case = rt.start("simple_case", DATA, "registrar")
    rt.complete(case.tasks[0].id, {"signed": True, "note": "已电话联系"}, "handler")
    return case.id


def rewrite(container, case_id: int, seq: int, data: dict | None = None, actor: str | None = None) -> None:
    """Change event `seq` (its data or who did it) and compute its hash and every later one again, and the
    case's chain head: the chain is consistent afterwards, as a careful forger with database access leaves it."""
    with container.session_factory() as s, s.begin():
        rows = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id)
                         .order_by(JournalEvent.seq)).all()
        prev = GENESIS
        for r in rows:
            if r.seq == seq and data is not None:
                r.data = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            if r.seq == seq and actor is not None:
                r.actor = actor
            r.prev_hash = prev
            r.hash = event_hash(r.case_id, r.seq, r.at, r.actor, r.type, r.element_id, r.data, prev)
            prev = r.hash
        s.execute(update(Case).where(Case.id == case_id).values(last_hash=prev))


def test_every_event_is_sealed_under_the_deployments_key(container):
    case_id = a_case(container)
    item = container.runtime.start("simple_case", DATA, "registrar").tasks[0]
    container.runtime.claim(item.id, "handler")  # journaled beside the process (engine.case_chain)
    with container.session_factory() as s:
        rows = s.execute(select(JournalEvent.hash, JournalEvent.seal, JournalEvent.type)).all()
    sealer = Sealer(container.settings.secret_key)
    assert "work_item.claimed" in {r.type for r in rows}
    assert all(r.seal == sealer.seal(r.hash) for r in rows)
    assert sealer.key_id not in container.settings.secret_key and len(sealer.key_id) == 16
    assert container.runtime.verify(case_id).ok


def test_an_event_rewritten_with_a_consistent_chain_is_caught_by_its_seal(container):
    case_id = a_case(container)
    submitted = next(e["seq"] for e in container.runtime.history(case_id) if e["type"] == "task.submitted")
    rewrite(container, case_id, submitted, actor="bureau")  # who signed is changed; the replay cannot tell
    assert container.runtime.verify(case_id, seals=False).ok  # chain and replay alone are fooled
    result = container.runtime.verify(case_id)
    assert not result.ok and result.first_bad_seq == submitted
    assert "封印与内容不符" in result.reason


def test_forged_data_is_caught_by_its_seal_before_the_replay(container):
    case_id = a_case(container)
    rewrite(container, case_id, 2, {"forged": True})
    result = container.runtime.verify(case_id)
    assert not result.ok and result.first_bad_seq == 2
    assert "封印与内容不符" in result.reason


def test_seals_of_a_replaced_secret_key_verify_when_it_is_given_as_a_previous_key(database_url, clock, tmp_path,
                                                                                 container):
    case_id = a_case(container)
    rotated = make_container(database_url, clock, tmp_path / "rotated", secret_key="a-new-secret")
    try:
        result = rotated.runtime.verify(case_id)
        assert not result.ok and result.first_bad_seq == 1
        assert "LIANXIN_PREVIOUS_SECRET_KEYS" in result.reason
    finally:
        rotated.engine.dispose()
    keeping = make_container(database_url, clock, tmp_path / "keeping", secret_key="a-new-secret",
                             previous_secret_keys=(container.settings.secret_key,))
    try:
        assert keeping.runtime.verify(case_id).ok
        newer = a_case(keeping)  # new events are sealed with the new key only
        with keeping.session_factory() as s:
            seals = s.scalars(select(JournalEvent.seal).where(JournalEvent.case_id == newer)).all()
        assert {seal.split(":")[0] for seal in seals} == {Sealer("a-new-secret").key_id}
        assert not container.runtime.verify(newer).ok  # the old deployment does not hold the new key
    finally:
        keeping.engine.dispose()


def test_events_from_before_sealing_are_sealed_once_and_a_stripped_seal_is_refused(container):
    old = a_case(container)
    tampered = a_case(container)
    with container.session_factory() as s, s.begin():  # as the database stood before 0009_journal_seal
        s.execute(text("update journal_event set seal = null"))
    result = container.runtime.verify(old)
    assert not result.ok and result.first_bad_seq == 1 and "lianxin audit seal" in result.reason
    rewrite(container, tampered, 2, {"forged": True})
    with container.session_factory() as s, s.begin():  # a forger who also breaks the replay is refused
        s.execute(text("update case_instance set state = 'x' where id = :id"), {"id": tampered})
    outcome = container.runtime.seal_unsealed(actor="test")
    assert outcome["cases"] == 1 and outcome["events"] >= 3
    assert [case_id for case_id, _ in outcome["refused"]] == [tampered]
    assert container.runtime.verify(old).ok
    assert container.runtime.seal_unsealed(actor="test") == {"cases": 0, "events": 0,
                                                              "refused": outcome["refused"]}

    newer = a_case(container)  # written after sealing began; its seals are stripped
    with container.session_factory() as s, s.begin():
        s.execute(text("update journal_event set seal = null where case_id = :id"), {"id": newer})
    assert "没有封印" in container.runtime.verify(newer).reason
    again = container.runtime.seal_unsealed(actor="test")
    assert again["events"] == 0
    assert dict(again["refused"])[newer].startswith("事件 1 写于启用封印之后却没有封印")
    assert not container.runtime.verify(newer).ok
