"""Checking a case's journal: the hash chain and seals, then a replay compared with the stored state; sealing the
events written before seals began; the auditor's view of a case as it stood after any event.

The runtime's `verify`, `seal_unsealed` and `replay` stand for these functions; they take the runtime for its
sessions, sealer and definitions, and import no runtime module (engine.runtime imports this one).
"""
from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .errors import Invalid, NotFound
from .journal import ChainCheck, verify_chain
from .replay import Replayer
from .store import Case, JournalEvent

logger = logging.getLogger("lianxin.runtime")


def lock_case_row(s: Session, case_id: int) -> Case:
    case = s.execute(select(Case).where(Case.id == case_id).with_for_update()
                     .execution_options(populate_existing=True)).scalar_one_or_none()
    if case is None:
        raise NotFound(f"案件 {case_id} 不存在（no such case）")
    return case


def verify(rt, case_id: int, *, seals: bool = True):
    """The hash chain and the seals first (naming the first changed event), then a replay of the whole
    journal compared with the stored state (catching a state changed behind the journal's back). `seals`:
    False checks chain and replay only (what `seal_unsealed` needs before it seals old events)."""
    with rt.read_sessions() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound(f"案件 {case_id} 不存在（no such case）")
        rows = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id)
                         .order_by(JournalEvent.seq)).all()
        chain = verify_chain(case, rows, rt.sealer if seals else None)
    if not chain.ok:
        return chain
    ok, seq, reason = Replayer(rt).verify(case_id)
    if not ok:
        return ChainCheck(False, chain.events, seq, reason)
    return chain


def snapshot(rt, case_id: int, seq: int | None = None):
    """The case as it stood after event `seq` (the auditor's step-by-step view)."""
    return Replayer(rt).rebuild(case_id, upto=seq)[1]


def seal_unsealed(rt, actor: str = "admin") -> dict:
    """Seal the events written before sealing began (a database upgraded to 0009_journal_seal), once.

    A case is sealed only if its chain and its replay verify first. An unsealed event written after the
    first sealed event of the database is never sealed: seals are made as events are written, so it has
    lost its seal, which is what verification reports. Returns {"cases", "events", "refused": [(case id,
    reason)]}."""
    if rt.sealer is None:
        raise Invalid("没有配置封印密钥（no sealer: the deployment's secret key is missing）")
    with rt.read_sessions() as s:
        first_sealed = s.scalar(select(func.min(JournalEvent.id)).where(JournalEvent.seal.is_not(None)))
        case_ids = s.scalars(select(JournalEvent.case_id).where(JournalEvent.seal.is_(None))
                             .distinct().order_by(JournalEvent.case_id)).all()
    sealed_cases = sealed_events = 0
    refused: list[tuple[int, str]] = []
    for case_id in case_ids:
        check = rt.verify(case_id, seals=False)
        if not check.ok:
            refused.append((case_id, f"事件 {check.first_bad_seq}：{check.reason}"))
            continue
        with rt.session_factory() as s, s.begin():
            sealed = _seal_case(s, rt.sealer, case_id, first_sealed)
        if isinstance(sealed, str):
            refused.append((case_id, sealed))
            continue
        sealed_events += sealed
        sealed_cases += 1
    logger.info("journal seals: %d events of %d cases sealed by %s, %d cases refused", sealed_events,
                sealed_cases, actor, len(refused))
    return {"cases": sealed_cases, "events": sealed_events, "refused": refused}


def _seal_case(s: Session, sealer, case_id: int, first_sealed: int | None) -> int | str:
    """Seal one case's unsealed events under its lock: the number sealed, or why not."""
    case = lock_case_row(s, case_id)
    rows = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id)
                     .order_by(JournalEvent.seq)).all()
    chain = verify_chain(case, rows)  # again, under the lock: nothing changed since the check
    late = [r.seq for r in rows if r.seal is None and first_sealed is not None and r.id > first_sealed]
    if not chain.ok or late:
        return (chain.reason if not chain.ok else
                f"事件 {late[0]} 写于启用封印之后却没有封印，不予补封（its seal was removed）")
    sealed = 0
    for r in rows:
        if r.seal is None:
            r.seal = sealer.seal(r.hash, r.hash_alg)
            sealed += 1
    return sealed
