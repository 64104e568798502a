"""The parties of a case (当事人): petitioners, representatives, respondents, ... with their personal fields sealed
one by one under the case file's data key (infra/keys.py: SM4-GCM, associated data naming the key, the party and
the field). The case data carries only each party's reference and masked values (services/parties.py).

`case_id` is filled in once the case exists: parties are written in the same transaction as the case's start,
before the case has its id, so a party names its case file's data key (`key_ref`, one per case) from the start.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base
from engine.store import UTC_DT

SEALED_FIELDS = ("name", "id_number", "phone", "address")


class Party(Base):
    __tablename__ = "party"
    ref: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_instance.id"), nullable=True, index=True)
    key_ref: Mapped[str] = mapped_column(String(36), index=True)  # infra.keys.DataKey.ref: the case file's key
    role: Mapped[str] = mapped_column(String(32))  # petitioner, representative, respondent, ...
    position: Mapped[int] = mapped_column(Integer, default=0)  # order among the case's parties
    name_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    id_number_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    phone_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    address_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTC_DT)
