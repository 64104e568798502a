"""The case journal: append-only events, each carrying the hash of the one before.

The hash covers the case id, sequence number, time, actor, type, element and data, so changing, removing or
reordering any stored event breaks the chain from that event on. The chain head is kept on the case row and
moves under the case's version lock, so two commands can never both append event N.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .store import Case, JournalEvent

GENESIS = "0" * 64


@dataclass
class PendingEvent:
    type: str
    actor: str
    at: datetime
    element_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _json_default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def event_hash(case_id: int, seq: int, at: datetime, actor: str, type_: str, element_id: str | None,
               data_text: str, prev_hash: str) -> str:
    body = "\x1f".join([str(case_id), str(seq), _normal_time(at), actor, type_, element_id or "", data_text, prev_hash])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _normal_time(at: datetime) -> str:
    """SQLite hands datetimes back naive (UTC), PostgreSQL aware: hash the same UTC text either way."""
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def append(case: Case, events: list[PendingEvent]) -> list[dict]:
    """Turn pending events into journal rows (as dicts for one executemany insert) and move the chain head."""
    rows = []
    prev = case.last_hash or GENESIS
    seq = case.last_seq or 0
    for ev in events:
        seq += 1
        data_text = to_json(ev.data)
        h = event_hash(case.id, seq, ev.at, ev.actor, ev.type, ev.element_id, data_text, prev)
        rows.append(
            dict(case_id=case.id, seq=seq, at=ev.at, actor=ev.actor, type=ev.type,
                 element_id=ev.element_id, data=data_text, prev_hash=prev, hash=h)
        )
        prev = h
    case.last_seq = seq
    case.last_hash = prev
    return rows


@dataclass
class ChainCheck:
    ok: bool
    events: int
    first_bad_seq: int | None
    reason: str = ""


def verify_chain(case: Case, events: list[JournalEvent]) -> ChainCheck:
    prev = GENESIS
    expected_seq = 1
    for ev in events:
        if ev.seq != expected_seq:
            return ChainCheck(False, len(events), expected_seq, f"事件 {expected_seq} 缺失或顺序被改动 (event missing or reordered)")
        if ev.prev_hash != prev:
            return ChainCheck(False, len(events), ev.seq, "前序哈希不符 (previous-hash link broken)")
        h = event_hash(ev.case_id, ev.seq, ev.at, ev.actor, ev.type, ev.element_id, ev.data, ev.prev_hash)
        if h != ev.hash:
            return ChainCheck(False, len(events), ev.seq, "事件内容与哈希不符 (event content was changed)")
        prev = h
        expected_seq += 1
    if case.last_hash and prev != case.last_hash or (case.last_seq or 0) != len(events):
        return ChainCheck(False, len(events), len(events) + 1 if (case.last_seq or 0) > len(events) else len(events),
                          "链尾与案件记录不符 (events were removed from the end)")
    return ChainCheck(True, len(events), None)
