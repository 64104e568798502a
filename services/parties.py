"""Personal data outside the workflow state: the parties of a case live in their own table, sealed field by field
(services/store/parties.py, infra/keys.py); the case data keeps a reference and masked values.

At registration `seal_start_data` takes the start data the registrar entered, writes one `Party` per person
(petitioners, in order; the first is also `petitioner`, the one the notices go to) under a new data key, and
returns the start data with each person replaced by `{"party_ref", "name": 张*, "id_number": 410121********1234,
...}` (masked, what lists, notices to offices and processes need) and `party_refs`. Since the case's start event
journals exactly that start data, the journal holds references and masked values, never the plain ones: erasing a
case's personal data (deleting its data key) leaves the hash chain and every replay exact.

`resolve` is the way back, for a reader allowed to see the data in full (web/personal_data.py decides who): any
dict with a `party_ref` of this case, at any depth (case data, a snapshot, journal entries), gets the party's
plain fields back. `contact_phone` gives the delivery of an SMS its number at the moment of sending; the outbox
keeps only `party:<ref>`.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from engine.row_writes import RowWrites, staged_inserts, write_now
from engine.store import Outbox
from infra.keys import KeyProblem, Vault

from .masking import mask_petitioner
from .store.handling import PetitionerKey, RegistrationIndex
from .store.parties import SEALED_FIELDS, Party

log = logging.getLogger("lianxin.parties")

REF = "party_ref"
REFS = "party_refs"
RECIPIENT_PREFIX = "party:"
VAULT_PORT = "vault"  # the runtime's ports entry (ctx.ports) the composition root fills with the Vault


def vault_of(runtime) -> Vault | None:
    return runtime.ports.get(VAULT_PORT)


def _people(data: dict) -> list[dict]:
    people = [dict(p) for p in data.get("petitioners") or [] if isinstance(p, dict)]
    if not people and isinstance(data.get("petitioner"), dict):
        people = [dict(data["petitioner"])]
    return people


def seal_start_data(s: Session, vault: Vault, data: dict, now: datetime,
                    role: str = "petitioner") -> tuple[dict, dict[str, dict]]:
    """The start data with its people moved into sealed `Party` rows (in `s`'s transaction; see the docstring),
    and the plain fields by reference (for what the caller indexes in the same transaction). Start data that names
    nobody is returned unchanged; people already sealed (with a `party_ref`) stay so."""
    out, plain, made = _sealed_people(s, vault, data, now, role)
    s.add_all(made)
    return out, plain


def _sealed_people(s: Session, vault: Vault, data: dict, now: datetime,
                   role: str = "petitioner") -> tuple[dict, dict[str, dict], list]:
    """`seal_start_data`'s start data and plain fields, and the rows to write, not yet added to the session: the
    new data key, then each `Party`."""
    people = _people(data)
    if not people or all(REF in p for p in people):
        return dict(data), {}, []
    data_key = vault.new_data_key_row(now)
    key_ref = data_key.ref
    refs, masked, plain, made = [], [], {}, [data_key]
    for position, person in enumerate(people):
        party = sealed_party(s, vault, key_ref, person, now, position=position, role=role)
        plain[party.ref] = {name: str(person[name]) for name in SEALED_FIELDS if person.get(name) not in (None, "")}
        refs.append(party.ref)
        masked.append({REF: party.ref, **mask_petitioner(person)})
        made.append(party)
    out = dict(data)
    if "petitioners" in data:
        out["petitioners"] = masked
    out["petitioner"] = masked[0]
    out[REFS] = refs
    return out, plain, made


def start_case(runtime, vault: Vault, process_key: str, data: dict, actor: str, now: datetime, *,
               session: Session | None = None, after=None):
    """Start a case whose start data names people: the parties, the case and `after(s, view, plain)` (an index,
    a receipt) in one transaction (the caller's `session`, or one of the runtime's own).

    The parties sealed here are written once the case has its id, with it: inserted without a case and then
    attached, each cost a statement more (an UPDATE, and on PostgreSQL a round trip). Their data key goes with
    them, written before `after` runs and the rows held until it has: what it reads of them (the receipt's phone)
    is the session's copy, not read again (a get of a row still pending misses the session's copy and reads the
    row). Both go through the driver (`_insert`), and so do the new rows of `_AFTER_ROWS` that `after` added (the
    index, its search keys, the receipt), once it has run (`_insert_staged`)."""
    if session is None:
        with runtime.session_factory() as s, s.begin():
            return start_case(runtime, vault, process_key, data, actor, now, session=s, after=after)
    sealed, plain, made = _sealed_people(session, vault, data, now)
    view = runtime.start(process_key, sealed, actor, session=session)
    first = next((row.ref for row in made if isinstance(row, Party)), None)  # position 0: sealed in order
    _note_new_case(session, view.id, first)
    if made:
        for row in made:
            if isinstance(row, Party):
                row.case_id = view.id
        _insert(session, made)
    else:  # people sealed before (their references in the data): attach those still without a case
        attach(session, sealed, view.id)
    if after is not None:
        after(session, view, plain)
        _insert_staged(session)
    return view


# In Session.info: (transaction, cases `start_case` started in it not yet indexed, {case started in it with parties
# sealed there: the reference of its first party})
_NEW_CASES = "lianxin.new_cases"

# What a registration's `after` adds (services.registration: the repeat index and its search keys; services.portal:
# the receipt): new rows only, inserted through the driver as the parties are (`_insert_staged`).
_AFTER_ROWS = (RegistrationIndex, PetitionerKey, Outbox)


def _insert_staged(s: Session) -> None:
    """The new rows of `_AFTER_ROWS` the session holds, inserted now through the driver (on PostgreSQL in one round
    trip) and made the session's copies, as the commit's flush would have inserted them."""
    writes = staged_inserts(s, _AFTER_ROWS)
    if writes:
        write_now(s, writes)


def _insert(s: Session, made: list) -> None:
    """The data key and the parties sealed under it, inserted at once through the driver (engine.row_writes: the
    statements built once, on PostgreSQL both in one round trip; through the ORM's flush each row cost more in its
    bookkeeping than in the statement) and made the session's copies, as a flush would have made them."""
    write_now(s, [RowWrites(made[0].__table__, new=made[:1]), RowWrites(Party.__table__, new=made[1:])])


def _note_new_case(s: Session, case_id: int, first_party: str | None) -> None:
    transaction = s.get_transaction()
    found = s.info.get(_NEW_CASES)
    if found is None or found[0] is not transaction:
        found = s.info[_NEW_CASES] = (transaction, set(), {})
    found[1].add(case_id)
    if first_party is not None:
        found[2][case_id] = first_party


def first_index_of_new_case(s: Session, case_id: int) -> bool:
    """True once for a case `start_case` started in the session's current transaction: nothing can name it in
    another table yet (the foreign keys refuse a row naming a case that does not exist), so the first row that
    indexes it needs no look for one already there. Every later call, and any other case: False (look)."""
    found = s.info.get(_NEW_CASES)
    if found is None or found[0] is not s.get_transaction() or case_id not in found[1]:
        return False
    found[1].discard(case_id)
    return True


def new_party(s: Session, vault: Vault, key_ref: str, person: dict, now: datetime, *, position: int = 0,
              role: str = "petitioner", case_id: int | None = None) -> str:
    """One `Party` with `person`'s personal fields sealed under data key `key_ref`; returns its reference."""
    party = sealed_party(s, vault, key_ref, person, now, position=position, role=role, case_id=case_id)
    s.add(party)
    return party.ref


def sealed_party(s: Session, vault: Vault, key_ref: str, person: dict, now: datetime, *, position: int = 0,
                 role: str = "petitioner", case_id: int | None = None) -> Party:
    """`new_party`'s row, not added to the session."""
    ref = str(uuid.uuid4())
    return Party(ref=ref, case_id=case_id, key_ref=key_ref, role=role, position=position, created_at=now,
                 **{f"{name}_sealed": vault.seal(s, key_ref, ref, name, person.get(name)) for name in SEALED_FIELDS})


def attach(s: Session, data: dict, case_id: int) -> None:
    """Name the case in the parties its start data refers to (once the case has its id)."""
    refs = data.get(REFS) or []
    if refs:
        s.execute(update(Party).where(Party.ref.in_(list(refs)), Party.case_id.is_(None)).values(case_id=case_id))


def opened(s: Session, vault: Vault, party: Party) -> dict:
    """A party's plain fields (those it has)."""
    out = {}
    for name in SEALED_FIELDS:
        value = vault.open(s, party.key_ref, party.ref, name, getattr(party, f"{name}_sealed"))
        if value is not None:
            out[name] = value
    return out


# The columns `opened` reads, as plain rows: a read of every case view that shows personal data in full, which needs
# no ORM object (through the session still, which flushes the parties a caller's transaction has added).
_PARTIES_OF_CASE = (select(Party.ref, Party.key_ref, *(getattr(Party, f"{name}_sealed") for name in SEALED_FIELDS))
                    .where(Party.case_id == bindparam("case_id")).order_by(Party.position))


def case_parties(s: Session, vault: Vault, case_id: int) -> dict[str, dict]:
    """ref -> plain fields of every party of the case."""
    rows = s.execute(_PARTIES_OF_CASE, {"case_id": case_id}).all()
    return {p.ref: opened(s, vault, p) for p in rows}


def resolve(value, parties: dict[str, dict]):
    """A copy of `value` with every record that names a known party's reference given its plain fields back."""
    if isinstance(value, dict):
        out = {k: resolve(v, parties) for k, v in value.items()}
        ref = value.get(REF)
        if isinstance(ref, str) and ref in parties:
            out.update(parties[ref])
        return out
    if isinstance(value, list):
        return [resolve(v, parties) for v in value]
    return value


def resolve_case(s: Session, vault: Vault, case_id: int, value):
    """`value` (case data, a view, journal entries) with the case's parties resolved; unchanged when it has none,
    and when they cannot be opened (data key erased, master key not configured): the masked copy is shown then."""
    try:
        parties = case_parties(s, vault, case_id)
    except KeyProblem:
        log.exception("parties of case %s cannot be opened; shown masked", case_id)
        return value
    return resolve(value, parties) if parties else value


def first_party_ref(data: dict) -> str | None:
    person = data.get("petitioner")
    return person.get(REF) if isinstance(person, dict) and isinstance(person.get(REF), str) else None


def first_party_of(s: Session, case_id: int) -> str | None:
    """The reference of a case's first party (the petitioner the notices go to), if it has parties. A case that
    `start_case` started in the session's current transaction, with the parties it sealed: the first of those
    (position 0), without a SELECT (the receipt of every registration asked); no other party names that case yet,
    since parties are only ever given to a case at its start or by a migration of old cases."""
    found = s.info.get(_NEW_CASES)
    if found is not None and found[0] is s.get_transaction() and case_id in found[2]:
        return found[2][case_id]
    return s.scalar(select(Party.ref).where(Party.case_id == case_id).order_by(Party.position).limit(1))


def contact_phone(s: Session, vault: Vault, recipient: str) -> str | None:
    """The phone of the party an outbox row names (`party:<ref>`), opened at the moment of sending."""
    if not recipient.startswith(RECIPIENT_PREFIX):
        return recipient
    party = s.get(Party, recipient[len(RECIPIENT_PREFIX):])
    if party is None:
        return None
    return vault.open(s, party.key_ref, party.ref, "phone", party.phone_sealed)


def plain_people(s: Session, vault: Vault, case_id: int, data: dict) -> list[dict]:
    """The case's petitioners with their plain fields (for the repeat index), in order."""
    resolved = resolve_case(s, vault, case_id, data)
    return _people(resolved)


def refs_of(values: Iterable[dict]) -> list[str]:
    return [v[REF] for v in values if isinstance(v, dict) and isinstance(v.get(REF), str)]
