"""What a registration sends to the database (issue #21): the parties it seals are inserted once, with their case
(not inserted without one and then attached by an UPDATE) and in the same flush as their data key; the index of
the new case is written without looking for one; the receipt reads the petitioner's phone from the session's
copy of the party (not by a SELECT of its own); the start reads the calendar's version key with its process
definition (not by a statement of its own). What is stored is what it was: the parties with their case and positions, the receipt to the first party, the index, a journal that
verifies. Both databases."""
from __future__ import annotations

import json

from sqlalchemy import bindparam, event, select

from engine import row_writes
from engine.calendar.repository import _VERSION_MEMO, version_key
from engine.store import CaseText, Outbox, case_text_body
from infra.keys import DataKey
from services import parties, registration
from services.index_key import IndexKey
from services.store.handling import PetitionerKey, RegistrationIndex
from services.store.parties import Party

from .test_handling_api import PETITION, app, desk  # noqa: F401  (fixtures)

SEALED = [c.key for c in Party.__table__.columns if c.key.endswith("_sealed")]
TWO = dict(PETITION, petitioners=[PETITION["petitioners"][0],
                                  {"name": "李四", "phone": "13900000000", "address": "东城县人民路2号"}])


def _statements(container, monkeypatch) -> list[str]:
    """Every statement sent from now on, those sent through the driver (engine.row_writes) too."""
    seen: list[str] = []
    fetch, execute, executemany = row_writes.fetch, row_writes.DriverWrites.execute, row_writes.DriverWrites.executemany

    def driver_fetch(s, text, params, **kw):
        seen.append(text)
        return fetch(s, text, params, **kw)

    def driver_execute(self, sql, values, then=None):
        seen.append(sql.text)
        return execute(self, sql, values, then)

    def driver_executemany(self, sql, rows):
        seen.append(sql.text)
        return executemany(self, sql, rows)

    monkeypatch.setattr(row_writes, "fetch", driver_fetch)
    monkeypatch.setattr(row_writes.DriverWrites, "execute", driver_execute)
    monkeypatch.setattr(row_writes.DriverWrites, "executemany", driver_executemany)
    event.listen(container.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: seen.append(" ".join(statement.split())))
    return seen


def _reads(seen: list[str]) -> list[str]:
    return [q for q in seen if q.upper().startswith("SELECT")]


def test_a_registration_inserts_its_parties_with_their_case(desk, container, monkeypatch):  # noqa: F811
    seen = _statements(container, monkeypatch)
    r = desk.post("registrar", "/api/cases", TWO)
    assert r.status_code == 201, r.get_json()
    case_id = r.get_json()["id"]
    party_statements = [q for q in seen if "party" in q.lower().split("where")[0] and "petitioner_key" not in q]
    # both parties in one INSERT; the receipt knows the first from the start and the phone from the session's copy
    assert [q.split()[0].upper() for q in party_statements] == ["INSERT"], party_statements
    # the search words the start wrote are the session's copy, not read back to note the registered title
    assert not [q for q in seen if q.startswith("SELECT") and "FROM case_text" in q], seen
    # the registering office and the places in one statement
    assert len([q for q in seen if q.startswith("SELECT unit.")]) == 1, [q for q in seen if "FROM unit" in q]
    inserts = [q.split()[2] for q in seen if q.upper().startswith("INSERT INTO")]
    at = {table: inserts.index(table) for table in ("case_instance", "data_key", "party")}
    assert at["case_instance"] < at["data_key"] and at["case_instance"] < at["party"], inserts  # after the start
    assert not [q for q in seen if q.startswith("SELECT") and "FROM registration_index" in q]  # a new case: no look
    calendar_reads = [q for q in seen if "calendar_year" in q]
    assert len(calendar_reads) == 1 and "process_definition" in calendar_reads[0], calendar_reads

    with container.session_factory() as s:
        rows = s.scalars(select(Party).where(Party.case_id == case_id).order_by(Party.position)).all()
        data = container.runtime.get_case(case_id).data
        assert [p.ref for p in rows] == data[parties.REFS] == [p[parties.REF] for p in data["petitioners"]]
        assert [(p.position, p.role) for p in rows] == [(0, "petitioner"), (1, "petitioner")]
        vault = container.extras["vault"]
        assert [parties.opened(s, vault, p)["phone"] for p in rows] == ["13812345678", "13900000000"]
        receipt = s.scalar(select(Outbox).where(Outbox.idempotency_key == f"receipt:{case_id}"))
        assert receipt.recipient == parties.RECIPIENT_PREFIX + rows[0].ref and receipt.channel == "sms"
        assert s.get(RegistrationIndex, case_id).petitioner_masked == "张*、李*"
        assert s.get(CaseText, case_id).body == case_text_body({"title": TWO["title"], "channel": TWO["channel"],
                                                                 "category": TWO["category"]})
    assert container.runtime.verify(case_id).ok


def test_a_second_index_of_the_new_case_in_its_transaction_looks_first(app, container, clock):  # noqa: F811
    """Only the first index of a case started in the transaction skips the look: a second finds the first."""
    key = IndexKey.from_secret_key("test-secret")

    def twice(s, view, plain):
        registration.index_started(s, view, plain, clock.now(), key)
        registration.index_started(s, view, plain, clock.now(), key)

    view = parties.start_case(container.runtime, container.extras["vault"], "petition_case", dict(TWO),
                              "registrar", clock.now(), after=twice)
    with container.session_factory() as s:
        assert len(s.scalars(select(RegistrationIndex).where(RegistrationIndex.case_id == view.id)).all()) == 1
        assert not parties.first_index_of_new_case(s, view.id)  # another transaction: it looks


def test_people_sealed_before_the_start_are_attached_to_their_case(app, container, clock):  # noqa: F811
    """Start data whose people already carry references (sealed by the caller): the parties without a case get
    this one, as before."""
    vault = container.extras["vault"]
    with container.session_factory() as s, s.begin():
        sealed, _ = parties.seal_start_data(s, vault, {"category": "劳动社保", "location": "county_a",
                                                       "petitioners": [{"name": "王五"}]}, clock.now())
    view = parties.start_case(container.runtime, vault, "simple_case", sealed, "registrar", clock.now())
    with container.session_factory() as s:
        assert s.get(Party, sealed[parties.REFS][0]).case_id == view.id


def test_a_start_reads_the_calendar_version_with_its_definition(desk, container, monkeypatch):  # noqa: F811
    """A start that computes a deadline (a registration: the triage's limit) checks the calendar's version: read
    with the definition's row, and the key is the one a read of its own gives."""
    seen = _statements(container, monkeypatch)
    with container.session_factory() as s, s.begin():
        container.runtime.start("petition_case", dict(PETITION, petitioners=[]), "registrar", session=s)
        memo = s.info[_VERSION_MEMO][1]
        s.info.pop(_VERSION_MEMO)
        assert version_key(s) == memo
    reads = [q for q in seen if "calendar_year" in q]
    assert len(reads) == 2 and "process_definition" in reads[0], reads  # the start's, then the check's own



def test_the_first_party_of_a_case_started_in_the_transaction_is_known_without_a_read(app, container, clock,  # noqa: F811
                                                                                       monkeypatch):
    """The first party (by position) of a case `start_case` started with the parties it sealed, in the same
    transaction: what the SELECT gives, without it; in another transaction, and for a case whose people were sealed
    before its start (attached by an UPDATE), the SELECT."""
    vault = container.extras["vault"]
    first_party = select(Party.ref).where(Party.case_id == bindparam("case_id")).order_by(Party.position).limit(1)
    with container.session_factory() as s, s.begin():
        view = parties.start_case(container.runtime, vault, "petition_case", dict(TWO), "registrar", clock.now(),
                                  session=s)
        seen = _statements(container, monkeypatch)
        known = parties.first_party_of(s, view.id)
        assert _reads(seen) == []
        assert known == s.scalar(first_party, {"case_id": view.id}) == view.data["petitioners"][0][parties.REF]
        seen.clear()
        assert parties.first_party_of(s, view.id + 1000) is None and len(_reads(seen)) == 1  # another case: read
    with container.session_factory() as s:
        seen.clear()
        assert parties.first_party_of(s, view.id) == known and len(_reads(seen)) == 1  # another transaction: read
    with container.session_factory() as s, s.begin():
        sealed, _ = parties.seal_start_data(s, vault, dict(TWO), clock.now())
        attached = parties.start_case(container.runtime, vault, "simple_case", sealed, "registrar", clock.now(),
                                      session=s)
        seen.clear()
        assert parties.first_party_of(s, attached.id) == sealed[parties.REFS][0] and len(_reads(seen)) == 1


def test_a_started_case_s_search_words_are_the_session_s_copy_in_its_transaction(app, container, clock,  # noqa: F811
                                                                                    monkeypatch):
    """The row of search words a start wrote is got without a read in the start's transaction, a registered title
    noted in it is saved; after the commit it is read again, and a rolled-back start leaves nothing behind."""
    with container.session_factory() as s, s.begin():
        view = container.runtime.start("petition_case", dict(PETITION, petitioners=[]), "registrar", session=s)
        seen = _statements(container, monkeypatch)
        registration._note_title(s, view.id, "另一个标题")
        registration._note_title(s, view.id, PETITION["title"])  # already among the words: unchanged
        assert _reads(seen) == []
    expected = case_text_body({k: PETITION[k] for k in ("title", "channel", "category")}, "另一个标题")
    with container.session_factory() as s:
        seen.clear()
        assert s.get(CaseText, view.id).body == expected and len(_reads(seen)) == 1
    with container.session_factory() as s:
        s.begin()
        gone = container.runtime.start("petition_case", dict(PETITION, petitioners=[]), "registrar", session=s)
        s.rollback()
        with s.begin():
            seen.clear()
            assert s.get(CaseText, gone.id) is None and len(_reads(seen)) == 1


def _written(container, case_id: int) -> dict:
    """What a registration stored in the tables it writes beside the engine's, as read back: every column but the
    ones that differ between two registrations (ids, references, keys and seals, the case number and query code)."""
    def plain(row, *leave_out):
        return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in leave_out}

    with container.session_factory() as s:
        people = s.scalars(select(Party).where(Party.case_id == case_id).order_by(Party.position)).all()
        keys = s.scalars(select(PetitionerKey).where(PetitionerKey.case_id == case_id)
                         .order_by(PetitionerKey.id)).all()
        receipt = s.scalar(select(Outbox).where(Outbox.case_id == case_id))
        opened = [parties.opened(s, container.extras["vault"], p) for p in people]
        return {
            "data_keys": [plain(s.get(DataKey, p.key_ref), "ref", "wrapped") for p in people],
            "parties": [plain(p, "ref", "case_id", "key_ref", *SEALED)
                        for p in people],
            "opened": opened,
            "index": plain(s.get(RegistrationIndex, case_id), "case_id", "case_no"),
            "keys": [plain(k, "id", "case_id") for k in keys],
            "receipt": dict(plain(receipt, "id", "case_id", "idempotency_key", "recipient", "payload"),
                            payload=sorted(json.loads(receipt.payload)),
                            recipient=receipt.recipient == parties.RECIPIENT_PREFIX + people[0].ref,
                            key=receipt.idempotency_key == f"receipt:{case_id}"),
        }


def test_the_rows_written_through_the_driver_are_those_the_flush_wrote(desk, container, monkeypatch):  # noqa: F811
    """The data key, parties, index, search keys and receipt of a registration go through the driver: read back,
    the same values and types as when the session's flush wrote them."""
    direct = desk.post("registrar", "/api/cases", TWO)
    assert direct.status_code == 201, direct.get_json()

    def by_flush(s, made):
        s.add_all(made)
        s.flush()

    monkeypatch.setattr(parties, "_insert", by_flush)
    monkeypatch.setattr(parties, "_insert_staged", lambda s: None)
    flushed = desk.post("registrar", "/api/cases", TWO)
    assert flushed.status_code == 201, flushed.get_json()
    ours, theirs = _written(container, direct.get_json()["id"]), _written(container, flushed.get_json()["id"])
    assert ours == theirs
    assert ours["receipt"]["recipient"] and ours["receipt"]["key"] and len(ours["keys"]) >= 4
    assert {k: type(v) for k, v in ours["index"].items()} == {k: type(v) for k, v in theirs["index"].items()}
    for case_id in (direct.get_json()["id"], flushed.get_json()["id"]):
        assert container.runtime.verify(case_id).ok
