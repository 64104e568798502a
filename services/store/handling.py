"""Tables of the handlers' desk: a registration index for finding likely repeats, and saved task-list filters.

The index holds what repeat detection compares (registration time, location, category, title and request) and
keyed digests of the petitioners' ID numbers and phones, never the numbers themselves: the sealed party table
(services/store/parties.py) is the only place that holds them. It is written after registration and filled in for cases registered some other way
(SMS, demo data) the first time a repeat search looks (`services.registration.index_missing`).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base
from engine.store import ID, UTC_DT


class RegistrationIndex(Base):
    __tablename__ = "registration_index"
    __table_args__ = (Index("ix_registration_index_place", "location", "category", "registered_at"),)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), primary_key=True, autoincrement=False)
    case_no: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    registered_at: Mapped[datetime] = mapped_column(UTC_DT)
    channel: Mapped[str] = mapped_column(String(32), default="")
    location: Mapped[str] = mapped_column(String(64), default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    title: Mapped[str] = mapped_column(String(256), default="")
    request: Mapped[str] = mapped_column(Text, default="")
    petitioner_masked: Mapped[str] = mapped_column(String(256), default="")


class PetitionerKey(Base):
    """One keyed digest (HMAC-SHA256, services.index_key) per ID number or phone of a case's petitioners (kind
    `id` or `phone`); `key_id` names the key it was made with (NULL: an unkeyed digest from before 0007)."""
    __tablename__ = "petitioner_key"
    __table_args__ = (Index("ix_petitioner_key_lookup", "kind", "digest"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    digest: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)


class SavedTaskFilter(Base):
    __tablename__ = "saved_task_filter"
    __table_args__ = (UniqueConstraint("username", "name", name="uq_saved_task_filter_user_name"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64))
    params: Mapped[str] = mapped_column(Text)  # JSON of the list's query parameters
    created_at: Mapped[datetime] = mapped_column(UTC_DT)


class RepeatLink(Base):
    """A repeat petition (重复信访) and its original, both ways: written by the `repeat_link` effect of the repeat's
    merge step (services.repeat_originals), read by the original's case page and timeline. `outcome` is what the
    repeat became: 并入原件 (the original still in handling), 不予受理 (the original closed), 不再受理 (after 复核)."""
    __tablename__ = "repeat_link"
    repeat_case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), primary_key=True,
                                                autoincrement=False)
    original_case_id: Mapped[int | None] = mapped_column(ForeignKey("case_instance.id"), nullable=True, index=True)
    original_case_no: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    linked_at: Mapped[datetime] = mapped_column(UTC_DT)
