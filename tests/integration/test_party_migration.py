"""Issue #23: an older database's personal data moves out of case state, journal and outbox into sealed parties;
every case is verified before and after, and a case that does not verify is left as it was and keeps the
migration from finishing. Both databases."""
from __future__ import annotations

import json

from sqlalchemy import select, update

from engine.store import Case, JournalEvent, Outbox, Setting
from services import parties, party_migration
from services.store.parties import Party

from .test_handling_api import PETITION, app, desk  # noqa: F401  (fixtures: the deployed processes)

OLD = {"name": "司马光明", "id_number": "410121197003081236", "phone": "13711112222", "address": "东城县旧街9号"}


def _old_registration(container, person=OLD) -> int:
    """A case registered as before the party table: the people in plain text in the start data."""
    data = {k: v for k, v in PETITION.items() if k != "petitioners"}
    data.update(petitioners=[dict(person)], petitioner=dict(person), registering_unit="city_bureau")
    view = container.runtime.start("petition_case", data, actor="registrar")
    with container.session_factory() as s, s.begin():  # an SMS copy queued to the petitioner's phone
        s.add(Outbox(case_id=view.id, idempotency_key=f"old-{view.id}", channel="sms", recipient=person["phone"],
                     template="registration_receipt", template_version=1, payload="{}", status="sent", attempts=1,
                     created_at=container.clock.now()))
    return view.id


def _stored_text(container, case_id) -> str:
    with container.session_factory() as s:
        case = s.get(Case, case_id)
        events = s.scalars(select(JournalEvent.data).where(JournalEvent.case_id == case_id)).all()
        outbox = s.scalars(select(Outbox.recipient).where(Outbox.case_id == case_id)).all()
        return "\n".join([case.state, *events, *outbox])


def _plain_in(text: str) -> list[str]:
    return [v for v in OLD.values() if v in text or json.dumps(v).strip('"') in text]


def test_old_cases_move_out_and_still_verify(desk, container):  # noqa: F811
    case_id = _old_registration(container)
    assert _plain_in(_stored_text(container, case_id)) == list(OLD.values())  # as an old database holds it
    assert container.runtime.verify(case_id).ok
    outcome = party_migration.move_out(container.runtime, container.extras["vault"], container.clock.now())
    assert outcome.moved == [case_id] and outcome.finished
    assert _plain_in(_stored_text(container, case_id)) == []
    assert container.runtime.verify(case_id).ok  # chain, new seals and replay
    view = container.runtime.get_case(case_id)
    assert view.data["petitioner"]["phone"] == "137****2222" and parties.REF in view.data["petitioner"]
    with container.session_factory() as s:
        full = parties.resolve_case(s, container.extras["vault"], case_id, view.data)
        [recipient] = s.scalars(select(Outbox.recipient).where(Outbox.case_id == case_id)).all()
        assert parties.contact_phone(s, container.extras["vault"], recipient) == OLD["phone"]
        assert s.get(Setting, party_migration.MARKER) is not None
    plain = {k: v for k, v in full["petitioner"].items() if k != parties.REF}
    assert plain == OLD and full["petitioners"] == [full["petitioner"]]
    # the case goes on working after the move: the registrar reads it in full, work continues and verifies
    assert desk.get("registrar", f"/api/cases/{case_id}").get_json()["data"]["petitioner"]["name"] == "司马光明"
    # a second run has nothing left to do
    assert party_migration.move_out(container.runtime, container.extras["vault"], container.clock.now()).moved == []


def test_a_case_that_does_not_verify_is_left_alone_and_the_migration_does_not_finish(desk, container):  # noqa: F811
    good, bad = _old_registration(container), _old_registration(container, dict(OLD, phone="13733334444"))
    with container.session_factory() as s, s.begin():  # someone edited the journal behind its back
        s.execute(update(JournalEvent).where(JournalEvent.case_id == bad, JournalEvent.seq == 1)
                  .values(data=JournalEvent.data + " "))
    before = _stored_text(container, bad)
    outcome = party_migration.move_out(container.runtime, container.extras["vault"], container.clock.now())
    assert outcome.moved == [good] and [case for case, _ in outcome.refused] == [bad]
    assert not outcome.finished
    assert _stored_text(container, bad) == before
    with container.session_factory() as s:
        assert s.get(Setting, party_migration.MARKER) is None
        assert s.scalars(select(Party).where(Party.case_id == bad)).all() == []
