"""Erasures under the retention rule (processes/retention.yaml, services/retention.py): one row per case whose
personal data was erased by destroying its data key. The row keeps what the case page shows (the rule, the date)
and who ran it; it holds no personal data itself."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base
from engine.store import ID, UTC_DT


class Erasure(Base):
    __tablename__ = "erasure"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), unique=True)  # a case is erased once
    rule: Mapped[str] = mapped_column(Text)
    years: Mapped[int] = mapped_column(Integer)
    erased_at: Mapped[datetime] = mapped_column(UTC_DT)
    actor: Mapped[str] = mapped_column(String(64))
