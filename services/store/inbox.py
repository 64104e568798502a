"""Read state of the in-app inbox (收件箱): one row per (notification, user) that the user has marked read.

Reading is the user's own business, not a change to a case: it is journaled nowhere, and marking a notice unread
again deletes its row. The notification itself is an outbox row (`engine.store.Outbox`, channel `inapp`,
recipient the username), delivered by the worker (infra/delivery.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base
from engine.store import ID, UTC_DT


class InboxRead(Base):
    __tablename__ = "inbox_read"
    __table_args__ = (UniqueConstraint("outbox_id", "username"), Index("ix_inbox_read_username", "username"))
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    username: Mapped[str] = mapped_column(String(64))
    read_at: Mapped[datetime] = mapped_column(UTC_DT)
