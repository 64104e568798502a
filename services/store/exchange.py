"""The matters received from the upstream petition information system (信访信息系统, 《信访工作条例》第二十一条):
one row per upstream number, naming the case it was registered as, so that a repeated push or file is
recognised and answered with the same case (services/exchange.py). `reported` lists the status changes of the
case already queued in the outbox for the upstream system, so each goes back once; `checked_version` is the
case's version already looked at.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base
from engine.store import UTC_DT


class UpstreamMatter(Base):
    __tablename__ = "upstream_matter"
    upstream_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_instance.id"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(8))  # 转送 or 交办
    deadline: Mapped[str | None] = mapped_column(String(10), nullable=True)  # ISO date the upstream set
    source: Mapped[str] = mapped_column(String(16))  # push (POST /api/exchange/inbound) or folder (exchange poll)
    received_at: Mapped[datetime] = mapped_column(UTC_DT)
    reported: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of the events queued for upstream
    # the case's version when its status changes were last looked at: unchanged cases are not looked at again
    checked_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
