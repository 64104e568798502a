"""Writing beside a command on a case's hash chain: take the case's lock, append events that are not commands.

`append_case_events` journals things that happen *beside* the process (a comment, an upload, a work item
claimed or handed over) on the case's hash chain. Such events are not commands, so replay passes over them like
any other produced event and `Runtime.verify` still holds. They move the chain head without bumping the case's
version: adding a comment must not make a handler's open form stale. Concurrency: the case row is read `FOR
UPDATE` (PostgreSQL; SQLite serialises writers with BEGIN IMMEDIATE) before anything else is written for the case
(`lock_case`), in the same order as the runtime's commands, so a command that already moved the head is waited
for and writers never deadlock; a command that read the case before us and writes after fails on the journal's
unique (case_id, seq) and rolls back whole.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .journal import SEALER_INFO_KEY, PendingEvent, append
from .store import Case, JournalEvent


@dataclass
class ChainHead:
    id: int
    last_seq: int
    last_hash: str


def lock_case(s: Session, case_id: int) -> ChainHead:
    """Take the case row FOR UPDATE and read its chain head. Every writer of a case does this *first*, before it
    inserts or updates a row that refers to the case: on PostgreSQL such a row takes a key-share lock on the case
    row, and two writers that each hold one and then ask for FOR UPDATE wait for each other (a deadlock; four
    users commenting on one case at once lost two thirds of their comments). Taking it again later in the same
    transaction costs nothing."""
    row = s.execute(select(Case.id, Case.last_seq, Case.last_hash).where(Case.id == case_id)
                    .with_for_update()).one_or_none()
    if row is None:
        raise LookupError(f"案件 {case_id} 不存在（no such case）")
    return ChainHead(row.id, row.last_seq or 0, row.last_hash or "")


def append_case_events(s: Session, case_id: int, events: list[PendingEvent]) -> list[int]:
    """Append events to a case's journal inside the caller's transaction; returns their sequence numbers.
    Callers that write rows of their own for the case call `lock_case` before writing them."""
    head = lock_case(s, case_id)
    old_seq = head.last_seq
    rows = append(head, events, s.info.get(SEALER_INFO_KEY))  # type: ignore[arg-type]  (reads id, last_seq, last_hash)
    s.execute(JournalEvent.__table__.insert(), rows)
    s.execute(update(Case.__table__).where(Case.__table__.c.id == case_id, Case.__table__.c.last_seq == old_seq)
              .values(last_seq=head.last_seq, last_hash=head.last_hash))
    return [r["seq"] for r in rows]
