"""A case's file: comments and attachments handlers add to a case or one of its tasks.

Attachment content is kept in the database (`LargeBinary`), not on disk, so that a PostgreSQL backup of the
database carries every file with the case it belongs to. Each comment and upload is also journaled on the case's
hash chain (`engine.case_chain.append_case_events`, which says how that stays consistent with the commands).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base
from engine.store import ID, UTC_DT


class CaseComment(Base):
    __tablename__ = "case_comment"
    __table_args__ = (Index("ix_case_comment_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"))
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_item.id"), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTC_DT)
    journal_seq: Mapped[int] = mapped_column(Integer)


class CaseAttachment(Base):
    __tablename__ = "case_attachment"
    __table_args__ = (Index("ix_case_attachment_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"))
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_item.id"), nullable=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # The data key the content is sealed under (SM4-GCM, infra/keys.py); NULL: stored plain, from before 0014.
    key_ref: Mapped[str | None] = mapped_column(String(36), nullable=True)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTC_DT)
    journal_seq: Mapped[int] = mapped_column(Integer)
