"""Moving an older database's personal data out of the workflow state and the journal (issue #23).

Cases registered before the party table kept their petitioners in plain text in three places: the case state
(every task's data), the journal (the start event's data, and any later event that copied it) and the outbox
(the phone of each SMS copy). For each such case, `move_out`:

1. verifies the case (hash chain, seals, replay against the stored state) and leaves it untouched if that fails;
2. in one transaction: seals its people into `Party` rows under a new data key (services/parties.py), replaces
   every record of those people, in the state and in every journal event, by the masked record with its
   `party_ref` (the same record a new registration keeps), computes the hash chain again from the first changed
   event and seals each rewritten event anew with the deployment's key (`Sealer`), and names the party instead
   of the phone in the case's outbox rows;
3. verifies the case again, and if that fails puts back exactly what was there and drops the new parties.

A migration that refused any case does not finish: the marker that says the move is done is written only when
every case moved (or had nothing to move), so `lianxin init` and `lianxin parties migrate` try again and name the
refused cases. Rewriting the journal is what the seals exist to detect; it is done here, once, with the key that
makes seals, after a verification proved the events genuine, so that the chain stays exact when personal data
is later erased (deleting a case's data key then leaves every hash and every replay as it is).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.journal import GENESIS, event_hash, to_json
from engine.store import Case, JournalEvent, Outbox, Setting
from infra.keys import DataKey, Vault

from . import parties
from .masking import mask_petitioner
from .store.parties import SEALED_FIELDS, Party

MARKER = "parties_moved_out"  # Setting: written once every case's personal data is out of state and journal


@dataclass
class Outcome:
    moved: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return not self.refused


def _person_key(d: dict) -> tuple[str, ...] | None:
    if parties.REF in d or not any(d.get(f) not in (None, "") for f in SEALED_FIELDS):
        return None
    return tuple(str(d.get(f) or "") for f in SEALED_FIELDS)


def _plain_people(data: dict) -> list[dict]:
    people = [p for p in data.get("petitioners") or [] if isinstance(p, dict)]
    if isinstance(data.get("petitioner"), dict) and data["petitioner"] not in people:
        people.append(data["petitioner"])
    return [p for p in people if _person_key(p) is not None]


def needs_moving(data: dict) -> bool:
    return bool(_plain_people(data))


class _Rewrite:
    """Replaces each record of a known person, at any depth, by its masked copy naming the party."""

    def __init__(self, refs: dict[tuple[str, ...], str]):
        self.refs = refs

    def __call__(self, value):
        if isinstance(value, dict):
            key = _person_key(value)
            ref = self.refs.get(key) if key is not None else None
            if ref is None:
                return {k: self(v) for k, v in value.items()}
            masked = mask_petitioner({f: value[f] for f in SEALED_FIELDS if f in value})
            out = {k: (masked[k] if k in SEALED_FIELDS else self(v)) for k, v in value.items()}
            out[parties.REF] = ref
            return out
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


@dataclass
class _Before:
    state: str
    last_hash: str
    events: list[tuple[int, str, str, str, str | None]]  # id, data, prev_hash, hash, seal
    outbox: list[tuple[int, str]]


def _apply(s: Session, runtime, vault: Vault, case: Case, now: datetime) -> tuple[_Before, str]:
    data = runtime.case_data(s, case)
    people = _plain_people(data)
    key_ref = vault.new_data_key(s, now)
    refs: dict[tuple[str, ...], str] = {}
    phones: dict[str, str] = {}
    for position, person in enumerate(people):
        ref = parties.new_party(s, vault, key_ref, person, now, position=position, case_id=case.id)
        refs[_person_key(person)] = ref
        if person.get("phone"):
            phones.setdefault(str(person["phone"]), ref)
    rewrite = _Rewrite(refs)
    events = list(s.scalars(select(JournalEvent).where(JournalEvent.case_id == case.id)
                            .order_by(JournalEvent.seq).with_for_update()))
    outbox = list(s.scalars(select(Outbox).where(Outbox.case_id == case.id, Outbox.recipient.in_(list(phones)))))
    before = _Before(case.state, case.last_hash, [(e.id, e.data, e.prev_hash, e.hash, e.seal) for e in events],
                     [(o.id, o.recipient) for o in outbox])
    case.state = json.dumps(rewrite(json.loads(case.state)), ensure_ascii=False, separators=(",", ":"))
    prev, relink = GENESIS, False
    for e in events:
        loaded = json.loads(e.data)
        rewritten = rewrite(loaded)
        if rewritten != loaded:
            e.data, relink = to_json(rewritten), True
        if relink:
            e.prev_hash = prev
            e.hash = event_hash(e.case_id, e.seq, e.at, e.actor, e.type, e.element_id, e.data, prev, e.hash_alg)
            if e.seal is not None and runtime.sealer is not None:
                e.seal = runtime.sealer.seal(e.hash, e.hash_alg)
        prev = e.hash
    case.last_hash = prev if events else case.last_hash
    for o in outbox:
        o.recipient = parties.RECIPIENT_PREFIX + phones[o.recipient]
    return before, key_ref


def _restore(session_factory, case_id: int, before: _Before, key_ref: str) -> None:
    with session_factory() as s, s.begin():
        case = s.get(Case, case_id)
        case.state, case.last_hash = before.state, before.last_hash
        for event_id, data, prev_hash, hash_, seal in before.events:
            e = s.get(JournalEvent, event_id)
            e.data, e.prev_hash, e.hash, e.seal = data, prev_hash, hash_, seal
        for outbox_id, recipient in before.outbox:
            s.get(Outbox, outbox_id).recipient = recipient
        for party in s.scalars(select(Party).where(Party.key_ref == key_ref)):
            s.delete(party)
        key = s.get(DataKey, key_ref)
        if key is not None:
            s.delete(key)


def move_case(runtime, vault: Vault, case_id: int, now: datetime) -> str | None:
    """Move one case's people out (see the module's docstring); None when done, else why it was refused."""
    check = runtime.verify(case_id)
    if not check.ok:
        return f"迁移前校验未通过（verification before: event {check.first_bad_seq}: {check.reason}）"
    with runtime.session_factory() as s, s.begin():
        case = s.get(Case, case_id, with_for_update=True)
        if not needs_moving(runtime.case_data(s, case)):
            return None
        before, key_ref = _apply(s, runtime, vault, case, now)
    check = runtime.verify(case_id)
    if not check.ok:
        _restore(runtime.session_factory, case_id, before, key_ref)
        return f"迁移后校验未通过，已恢复原状（verification after: event {check.first_bad_seq}: {check.reason}; restored）"
    return None


def move_out(runtime, vault: Vault, now: datetime) -> Outcome:
    """Every case whose state still holds plain personal data; the marker once none is left."""
    outcome = Outcome()
    with runtime.session_factory() as s:
        if s.get(Setting, MARKER) is not None:
            return outcome
        ids = list(s.scalars(select(Case.id).where(Case.state.contains('"petitioner')).order_by(Case.id)))
    for case_id in ids:
        with runtime.read_sessions() as s:
            pending = needs_moving(runtime.case_data(s, s.get(Case, case_id)))
        if not pending:
            continue
        problem = move_case(runtime, vault, case_id, now)
        if problem is None:
            outcome.moved.append(case_id)
        else:
            outcome.refused.append((case_id, problem))
    if outcome.finished:
        with runtime.session_factory() as s, s.begin():
            if s.get(Setting, MARKER) is None:
                s.add(Setting(key=MARKER, value=to_json({"at": now.isoformat(), "cases": len(outcome.moved)})))
    return outcome
