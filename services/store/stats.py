"""Read side for the statistics, and frozen monthly snapshots (统计快照).

`load_rows` reads what the KPIs are computed from: the cases of the given processes, their work items with
deadlines, and the journal events that record registration, triage, replies, sign-off and ratings. It only
reads; which elements it reads come from the statistics' settings (the element meanings of
processes/meanings.yaml, through `services.stats_settings`), which service calls from the facts
(`services.stats_facts.FACT_HANDLERS`).

`StatsSnapshot` keeps a published figure set as it was computed: the period, the unit scope, the settings used
(kpi.yaml's values with the element lists of the meanings, and their digest) and the full result (every KPI with its numerator, denominator and case ids). Once frozen a snapshot is never
changed, so published monthly rankings can be reproduced after cases change.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.db import Base
from engine.store import ID, UTC_DT, Case, CaseRegister, JournalEvent, WorkItem
from services.stats_facts import FACT_HANDLERS
from services.store.handling import RepeatLink

EVENT_TYPES = ("case.started", "task.completed", "service.called", "deadline.computed")


class StatsSnapshot(Base):
    __tablename__ = "stats_snapshot"
    __table_args__ = (UniqueConstraint("period", "scope"), Index("ix_stats_snapshot_frozen_at", "frozen_at"))
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    period: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(64))  # a unit code, or "all"
    frozen_at: Mapped[datetime] = mapped_column(UTC_DT)
    frozen_by: Mapped[str] = mapped_column(String(64))
    settings_digest: Mapped[str] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(Text)  # JSON: period, settings, kpis, rankings


class SnapshotExists(Exception):
    pass


def load_rows(s: Session, process_keys, element_ids, handlers=FACT_HANDLERS, case_ids=None) -> tuple[list, list, list]:
    """(cases, work items, journal events) for the statistics; events in seq order per case. `case_ids`: of
    these cases only (None: every case)."""
    q = select(Case.id, Case.case_no, Case.created_at, Case.status, Case.summary_json, Case.process_key) \
        .where(Case.process_key.in_(list(process_keys)))
    if case_ids is None:
        cases = list(s.execute(q).all())
    else:
        cases = [row for chunk in _chunks(sorted(case_ids), 500) for row in s.execute(q.where(Case.id.in_(chunk)))]
    ids = [c.id for c in cases]
    if not ids:
        return [], [], []
    items, events = [], []
    for chunk in _chunks(ids, 500):
        items.extend(s.execute(select(WorkItem.id, WorkItem.case_id, WorkItem.element_id, WorkItem.unit,
                                      WorkItem.state, WorkItem.created_at, WorkItem.due_at, WorkItem.completed_at)
                               .where(WorkItem.case_id.in_(chunk), WorkItem.element_id.in_(list(element_ids))))
                     .all())
        events.extend(s.execute(
            select(JournalEvent.case_id, JournalEvent.seq, JournalEvent.at, JournalEvent.type,
                   JournalEvent.element_id, JournalEvent.data)
            .where(JournalEvent.case_id.in_(chunk), JournalEvent.type.in_(EVENT_TYPES),
                   or_(JournalEvent.type == "case.started", JournalEvent.type == "service.called",
                       JournalEvent.element_id.in_(list(element_ids))))
            .order_by(JournalEvent.case_id, JournalEvent.seq)).all())
    events = [e for e in events if e.type != "service.called" or _wanted_call(e.data, handlers)]
    return cases, items, events


def load_repeat_links(s: Session) -> list:
    """Every recognised repeat (repeat_case_id, original_case_id, linked_at): merged at registration or at triage,
    merged into an original in handling or refused because it was closed or final (services.repeat_originals)."""
    return list(s.execute(select(RepeatLink.repeat_case_id, RepeatLink.original_case_id, RepeatLink.linked_at)).all())


def related_cases(s: Session, changed) -> set[int]:
    """The parents of `changed` (a linked case such as an urgent matter's report case writes its parent's rows) and
    the other side of every repeat link of `changed`."""
    ids = sorted(set(changed))
    out: set[int] = set()
    for chunk in _chunks(ids, 500):
        out |= {p for p in s.scalars(select(Case.parent_case_id).where(Case.id.in_(chunk),
                                                                      Case.parent_case_id.is_not(None)))}
        out |= set(s.scalars(select(RepeatLink.original_case_id).where(RepeatLink.repeat_case_id.in_(chunk))))
        out |= set(s.scalars(select(RepeatLink.repeat_case_id).where(RepeatLink.original_case_id.in_(chunk))))
    return out - set(ids)


def _wanted_call(data: str, handlers) -> bool:
    return any(f'"handler": "{h}"' in data or f'"handler":"{h}"' in data for h in handlers)


def _chunks(values: list, size: int):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def freeze(s: Session, *, period: str, scope: str, at: datetime, actor: str, digest: str, result: dict) -> dict:
    """Store a snapshot; a second freeze of the same period and scope is refused (published figures stay)."""
    if s.scalar(select(StatsSnapshot.id).where(StatsSnapshot.period == period, StatsSnapshot.scope == scope)):
        raise SnapshotExists(period, scope)
    row = StatsSnapshot(period=period, scope=scope, frozen_at=at, frozen_by=actor, settings_digest=digest,
                        result=json.dumps(result, ensure_ascii=False, sort_keys=True))
    s.add(row)
    try:
        s.flush()
    except IntegrityError:
        raise SnapshotExists(period, scope) from None
    return snapshot_dict(row)


def get(s: Session, period: str, scope: str) -> dict | None:
    row = s.scalar(select(StatsSnapshot).where(StatsSnapshot.period == period, StatsSnapshot.scope == scope))
    return snapshot_dict(row) if row is not None else None


def list_snapshots(s: Session) -> list[dict]:
    rows = s.scalars(select(StatsSnapshot).order_by(StatsSnapshot.period.desc(), StatsSnapshot.scope))
    return [{"period": r.period, "scope": r.scope, "frozen_at": r.frozen_at.isoformat(), "frozen_by": r.frozen_by,
             "settings_digest": r.settings_digest} for r in rows]


def snapshot_dict(row: StatsSnapshot) -> dict:
    return {"period": row.period, "scope": row.scope, "frozen_at": row.frozen_at.isoformat(),
            "frozen_by": row.frozen_by, "settings_digest": row.settings_digest, "result": json.loads(row.result)}


def load_register_rows(s: Session, register: str, *, opened_from: datetime | None = None,
                       opened_before: datetime | None = None) -> list[dict]:
    """Rows of one case register (e.g. the supervision list), optionally opened within [from, before)."""
    q = select(CaseRegister).where(CaseRegister.register == register)
    if opened_from is not None:
        q = q.where(CaseRegister.opened_at >= opened_from)
    if opened_before is not None:
        q = q.where(CaseRegister.opened_at < opened_before)
    return [{"case_id": r.case_id, "key": r.key, "unit": r.unit, "person": r.person, "status": r.status,
             "data": json.loads(r.data or "{}"), "opened_at": r.opened_at, "updated_at": r.updated_at,
             "closed_at": r.closed_at} for r in s.scalars(q.order_by(CaseRegister.opened_at, CaseRegister.id))]
