"""SQLAlchemy models of the runtime: deployed definitions, cases, work items, timers, incidents, journal.

Workflow state is `Text`, never JSON/JSONB: SpiffWorkflow's task data depends on key order (see engine.state).
Task lists, timers and incidents are rows of their own, so listing work never loads a workflow.
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from .db import Base


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use the Clock (aware UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


UTC_DT = UTCDateTime()
ID = BigInteger().with_variant(Integer, "sqlite")


class Deployment(Base):
    __tablename__ = "deployment"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTC_DT)
    actor: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    files: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of file names


class ProcessDefinition(Base):
    """One immutable version of one process, identified by the hash of the sources it depends on."""

    __tablename__ = "process_definition"
    __table_args__ = (
        UniqueConstraint("process_key", "version"),
        UniqueConstraint("process_key", "content_hash"),
    )
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    spec_json: Mapped[str] = mapped_column(Text)
    sources_json: Mapped[str] = mapped_column(Text)
    meta_json: Mapped[str] = mapped_column(Text, default="{}")
    library_version: Mapped[str] = mapped_column(String(64))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"))
    deployed_at: Mapped[datetime] = mapped_column(UTC_DT)
    deployed_by: Mapped[str] = mapped_column(String(64))


class Case(Base):
    __tablename__ = "case_instance"
    # the confidential cases of a unit in one index search (the discipline track; 0019_scale_indexes)
    __table_args__ = (Index("ix_case_instance_discipline", "confidential", "confidential_unit"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_no: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(Text)
    state_format: Mapped[str] = mapped_column(String(64))
    summary_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTC_DT)
    updated_at: Mapped[datetime] = mapped_column(UTC_DT)
    completed_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    started_by: Mapped[str] = mapped_column(String(64))
    paused_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    pause_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default="")
    # Confidential (e.g. an accusation passed to the discipline organ): set by a step whose element has the property
    # `confidential` (engine.scripting) and by the `confidential` effect, which names the one unit that may see the
    # case (`confidential_unit`; NULL while no unit was named, e.g. the route failed). Read by the visibility rules.
    confidential: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    confidential_unit: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # The case whose step started this one (a supervision-feedback case of a petition case), if any.
    parent_case_id: Mapped[int | None] = mapped_column(ID, nullable=True, index=True)

    __mapper_args__ = {"version_id_col": version}


class CaseText(Base):
    """The words a case is found by in the case search (its summary's title, channel and category, and the title
    it was registered with): a narrow row of its own, so that a search reads neither the case row (on SQLite the
    words come after the workflow state in it) nor the whole table. Text-indexed by migration 0021_search_indexes:
    an FTS5 trigram table kept in step by triggers on SQLite (`case_text_fts`), a pg_trgm GIN index on PostgreSQL.
    Written with the case (engine.commands) and when the registration index is written (services.registration)."""
    __tablename__ = "case_text"
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), primary_key=True, autoincrement=False)
    body: Mapped[str] = mapped_column(Text, default="")


def case_text_body(summary: dict, *more: str) -> str:
    """The searched words of a case: the summary's title, channel and category and any `more` (a registered
    title) not already among them, one per line."""
    lines = [str(summary.get(k) or "") for k in ("title", "channel", "category")]
    body = "\n".join(lines)
    for extra in more:
        if extra and extra not in body:
            body += "\n" + extra
    return body


class WorkItem(Base):
    """A ready user task as a row: what task lists query."""

    __tablename__ = "work_item"
    __table_args__ = (
        UniqueConstraint("case_id", "task_id"),
        # the unit task list, one role at a time: counted and paged from the index (0021_search_indexes)
        Index("ix_work_item_open_role_unit_due", "state", "role", "unit", "due_at", "id", "case_id"),
        Index("ix_work_item_open_due", "state", "due_at"),
        Index("ix_work_item_assignee", "assignee", "state"),
        Index("ix_work_item_orphan_since", "orphan_since"),
        Index("ix_work_item_state_case", "state", "case_id"),  # the task list's count (0019_scale_indexes)
    )
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(256), default="")
    process_key: Mapped[str] = mapped_column(String(128))
    lane: Mapped[str | None] = mapped_column(String(128), nullable=True)
    role: Mapped[str | None] = mapped_column(String(64), nullable=True)
    unit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    form: Mapped[str | None] = mapped_column(String(256), nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16))  # open, completed, cancelled
    created_at: Mapped[datetime] = mapped_column(UTC_DT)
    due_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # 无人可办: nobody held `intended_role` in `intended_unit` when the item opened, so it was placed with the
    # nearest petition office above (`unit`, `role`); kept after it is handed back or done (the admin's report).
    intended_unit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    intended_role: Mapped[str | None] = mapped_column(String(64), nullable=True)
    orphan_since: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    orphan_resolved_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    orphan_resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Timer(Base):
    """A pending timer event of a case: the worker polls this table, never the cases."""

    __tablename__ = "timer"
    __table_args__ = (
        UniqueConstraint("case_id", "task_id"),
        Index("ix_timer_status_due", "status", "due_at"),
        # a command reads its case's live timers: found by the index, not among every timer the case ever had
        # (one a round in a case that loops; 0022_growing_case)
        Index("ix_timer_case_status", "case_id", "status"),
    )
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"))
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(128))
    due_at: Mapped[datetime] = mapped_column(UTC_DT)
    status: Mapped[str] = mapped_column(String(16))  # pending, paused, fired, cancelled, failed
    label: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # The deadline rule behind the due time, when the timer was written as workdays(n) or days(n): kept so that
    # a calendar import, a pause or an extension can recompute it, and so that anyone can see how it was counted.
    rule: Mapped[str | None] = mapped_column(String(8), nullable=True)  # WD or CAL
    days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    start_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    roll_forward: Mapped[bool] = mapped_column(Boolean, default=True)
    extension_days: Mapped[int] = mapped_column(Integer, default=0)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    explanation: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON of the calendar's Deadline
    paused_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    remaining_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    fired_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTC_DT)


class Incident(Base):
    __tablename__ = "incident"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    element_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTC_DT)
    resolved_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class JournalEvent(Base):
    """Append-only, hash-chained history of a case. `data` is JSON text of what changed."""

    __tablename__ = "journal_event"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTC_DT)
    actor: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(48))
    element_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    seal: Mapped[str | None] = mapped_column(String(96), nullable=True)  # engine.journal.Sealer
    # The algorithm `hash` and `seal` were made with (engine.crypto): "sha256" or "sm3".
    hash_alg: Mapped[str] = mapped_column(String(16), server_default="sha256")


class Setting(Base):
    """Small shared settings, e.g. the demo clock offset that all processes must agree on."""

    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Outbox(Base):
    """Notifications written in the same transaction as the step that causes them, delivered by the worker.
    `idempotency_key` is unique and handed to the channel, so a crash and retry never sends twice."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),
                      Index("ix_outbox_recipient_channel", "recipient", "channel", "status"))  # the inbox's bell
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_instance.id"), nullable=True, index=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # inapp, email, sms
    recipient: Mapped[str] = mapped_column(String(256))
    template: Mapped[str] = mapped_column(String(64))
    template_version: Mapped[int] = mapped_column(Integer, default=1)
    payload: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(16))  # pending, sending, sent, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTC_DT)
    sent_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)


class CaseRegister(Base):
    """A row in one of the registers a process keeps up to date (e.g. the four lists of responsibility:
    leader case-ownership, stabilisation, resolution, supervision). One row per (case, register, key)."""

    __tablename__ = "case_register"
    __table_args__ = (
        UniqueConstraint("case_id", "register", "key"),
        Index("ix_case_register_lookup", "register", "status", "unit"),
        Index("ix_case_register_person", "register", "person"),
    )
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), index=True)
    register: Mapped[str] = mapped_column(String(48))
    key: Mapped[str] = mapped_column(String(128))
    unit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    person: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # open, closed
    data: Mapped[str] = mapped_column(Text, default="{}")
    opened_at: Mapped[datetime] = mapped_column(UTC_DT)
    updated_at: Mapped[datetime] = mapped_column(UTC_DT)
    closed_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)


class OutboxEvent(Base):
    """What happened to a notification after it was written, append-only: each claim by a worker (its lease is
    the row's `next_attempt_at`), send (with the rendered text and the provider's id), failure, dead letter,
    resend by an admin, delivery report from the SMS gateway, and in-app read."""

    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_event_outbox_kind", "outbox_id", "kind"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    at: Mapped[datetime] = mapped_column(UTC_DT)
    kind: Mapped[str] = mapped_column(String(16))  # claimed, sent, failed, dead, resent, delivered, undelivered, read
    actor: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON
