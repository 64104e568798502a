"""The case journal: append-only events, each carrying the hash of the one before.

The hash covers the case id, sequence number, time, actor, type, element and data, so changing, removing or
reordering any stored event breaks the chain from that event on. The chain head is kept on the case row and
moves under the case's version lock, so two commands can never both append event N.

A hash chain alone does not stop someone who can write to the database: they can change an event and compute
every later hash again. So each event is also sealed: `seal` is an HMAC-SHA256 of its hash under a key that
lives outside the database (derived from the deployment's secret key, see `Sealer`). Without the key a rewritten
event cannot be given a valid seal. What a seal cannot show is events cut off the end together with the case's
chain head (a rollback to an earlier, genuinely sealed state): the backups and the access log are the check for
that.

Hash and seal use the deployment's cryptographic suite (engine/crypto.py, LIANXIN_CRYPTO): SHA-256 with
HMAC-SHA256, or SM3 with HMAC-SM3. Each event records its algorithm (`hash_alg`), and is checked with the
algorithm it records, so a chain whose older events are SHA-256 and newer ones SM3 verifies link by link; the
chain's rules (each event names the previous event's hash) do not change with the algorithm.
"""
from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .crypto import STD, SUITES, Suite, by_hash_alg
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
               data_text: str, prev_hash: str, hash_alg: str | None = None) -> str:
    """The event's hash with the algorithm it records (`hash_alg`; None: SHA-256, as before it was recorded)."""
    return by_hash_alg(hash_alg).hash_hex(
        _hashed_text(str(case_id), seq, _normal_time(at), actor, type_, element_id, data_text, prev_hash))


def _hashed_text(case_text: str, seq: int, at_text: str, actor: str, type_: str, element_id: str | None,
                 data_text: str, prev_hash: str) -> bytes:
    """What an event's hash is taken of (`event_hash`; `append` with the command's time text made once)."""
    return "\x1f".join([case_text, str(seq), at_text, actor, type_, element_id or "", data_text, prev_hash]).encode("utf-8")


def _normal_time(at: datetime) -> str:
    """SQLite hands datetimes back naive (UTC), PostgreSQL aware: hash the same UTC text either way."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


_SEAL_LABEL = b"lianxin journal seal v1"
SEALER_INFO_KEY = "lianxin.journal_sealer"  # where a session factory's `info` carries the installation's sealer


class Sealer:
    """Seals event hashes with a key derived from the deployment's secret key (never stored in the database).

    A seal reads `<key id>:<hex HMAC>`; the key id (a fingerprint of the derived key, not the key) says which key
    made it, so that seals made before the secret key was replaced still verify when the old secret key is given
    as a previous key (LIANXIN_PREVIOUS_SECRET_KEYS).

    `suite` (engine/crypto.py) is the one new events are hashed and sealed with. An event is sealed with its own
    algorithm's HMAC under a key derived with that HMAC, so the key ids of the two suites differ and a seal names
    its suite as well as its key."""

    def __init__(self, secret_key: str, previous: Iterable[str] = (), suite: Suite = STD):
        if not secret_key:
            raise ValueError("没有密钥，无法为日志加封（the deployment's secret key is empty）")
        self.suite = suite
        secret_keys = [k for k in (secret_key, *previous) if k]
        # Keys of every suite, so that events of either algorithm verify whichever suite is chosen now; the
        # fingerprints are computed once, not per event sealed.
        self._keys: dict[str, dict[str, bytes]] = {}  # hash_alg -> key id -> key
        self._current: dict[str, tuple[str, bytes]] = {}  # hash_alg -> (key id, key) of the current secret key
        for s in SUITES.values():
            keys = [(s.fingerprint(key), key) for key in (s.derive(k, _SEAL_LABEL) for k in secret_keys)]
            self._current[s.hash_alg] = keys[0]
            self._keys[s.hash_alg] = dict(reversed(keys))
        self.key_id = self._current[suite.hash_alg][0]

    def seal(self, event_hash_hex: str, hash_alg: str | None = None) -> str:
        """The seal of an event hashed with `hash_alg` (None: SHA-256, an event from before it was recorded)."""
        s = by_hash_alg(hash_alg)
        key_id, key = self._current[s.hash_alg]
        return f"{key_id}:{s.mac_hex(key, event_hash_hex)}"

    def problem(self, event_hash_hex: str, seal: str | None, hash_alg: str | None = None) -> str | None:
        """None when `seal` is a valid seal of the hash (made with `hash_alg`) under a key this installation holds;
        else why not."""
        if not seal:
            return ("事件没有封印（event is not sealed）：若日志写于启用封印之前，请运行一次 `lianxin audit seal`；"
                    "否则说明封印被删除")
        key_id, _, mac = seal.partition(":")
        s = by_hash_alg(hash_alg)
        key = self._keys[s.hash_alg].get(key_id)
        if key is None and any(key_id in keys for keys in self._keys.values()):
            return (f"事件的封印所用算法与事件记录的算法 {s.hash_alg} 不符：事件的算法被改动过"
                    "（the seal was made with another algorithm than the event records）")
        if key is None:
            return (f"事件的封印来自本系统没有的密钥 {key_id}（sealed with an unknown key）：若更换过密钥，请在 "
                    f"LIANXIN_PREVIOUS_SECRET_KEYS 中给出旧密钥后再校验")
        if not hmac.compare_digest(mac, s.mac_hex(key, event_hash_hex)):
            return "事件的封印与内容不符：事件连同哈希被改写过（seal does not match: the event was rewritten）"
        return None

    def __repr__(self) -> str:  # never print a key
        return f"Sealer(key_id={self.key_id}, suite={self.suite.name})"


def append(case: Case, events: list[PendingEvent], sealer: Sealer | None = None) -> list[dict]:
    """Turn pending events into journal rows (as dicts for one executemany insert) and move the chain head;
    with a `sealer`, each row is sealed, and hashed with the sealer's suite (without one: SHA-256)."""
    suite = sealer.suite if sealer is not None else STD
    alg = suite.hash_alg
    rows = []
    prev = case.last_hash or GENESIS
    seq = case.last_seq or 0
    times: dict[datetime, str] = {}  # a command's events share its instant: its normal text made once
    case_text = str(case.id)
    for ev in events:
        seq += 1
        data_text = to_json(ev.data)
        at_text = times.get(ev.at)
        if at_text is None:
            at_text = times[ev.at] = _normal_time(ev.at)
        h = suite.hash_hex(_hashed_text(case_text, seq, at_text, ev.actor, ev.type, ev.element_id, data_text, prev))
        rows.append(
            dict(case_id=case.id, seq=seq, at=ev.at, actor=ev.actor, type=ev.type,
                 element_id=ev.element_id, data=data_text, prev_hash=prev, hash=h, hash_alg=alg,
                 seal=sealer.seal(h, alg) if sealer is not None else None)
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


def verify_chain(case: Case, events: list[JournalEvent], sealer: Sealer | None = None) -> ChainCheck:
    """The chain from the first event to the case's head, each event with the algorithm it records; with a
    `sealer`, every event's seal too."""
    prev = GENESIS
    expected_seq = 1
    for ev in events:
        if ev.seq != expected_seq:
            return ChainCheck(False, len(events), expected_seq, f"事件 {expected_seq} 缺失或顺序被改动 (event missing or reordered)")
        if ev.prev_hash != prev:
            return ChainCheck(False, len(events), ev.seq, "前序哈希不符 (previous-hash link broken)")
        try:
            h = event_hash(ev.case_id, ev.seq, ev.at, ev.actor, ev.type, ev.element_id, ev.data, ev.prev_hash,
                           ev.hash_alg)
        except ValueError:
            return ChainCheck(False, len(events), ev.seq, f"事件记录的算法 {ev.hash_alg!r} 未知 (unknown hash algorithm)")
        if h != ev.hash:
            return ChainCheck(False, len(events), ev.seq, "事件内容与哈希不符 (event content was changed)")
        if sealer is not None:
            problem = sealer.problem(h, ev.seal, ev.hash_alg)
            if problem is not None:
                return ChainCheck(False, len(events), ev.seq, problem)
        prev = h
        expected_seq += 1
    if case.last_hash and prev != case.last_hash or (case.last_seq or 0) != len(events):
        return ChainCheck(False, len(events), len(events) + 1 if (case.last_seq or 0) > len(events) else len(events),
                          "链尾与案件记录不符 (events were removed from the end)")
    return ChainCheck(True, len(events), None)
