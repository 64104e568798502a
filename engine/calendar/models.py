"""Tables of the working-day calendar: one row per year and region (where its data came from, which version),
and one row per day that differs from the Monday–Friday rule.

Only exceptions are stored (holidays, make-up working days, rare explicit REST/WORKDAY days of a regional
overlay), about 30 rows a year instead of 365. The weekday rule cannot drift, the table reads like the State
Council notice it came from, and replacing a year is a diff of a few dozen rows. Days absent from the table
are WORKDAY on Monday–Friday and REST on Saturday–Sunday, provided the year itself has a `calendar_year` row.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, DateTime, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from engine.clock import to_utc
from engine.db import Base

from .kinds import NATIONAL, DayKind, YearSource, YearStatus


def _in(column: str, values: type) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"  # type: ignore[attr-defined]


class _UtcDateTime(TypeDecorator):
    """Stores UTC; SQLite forgets the zone, so it is put back on reading."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else to_utc(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class CalendarYear(Base):
    __tablename__ = "calendar_year"
    __table_args__ = (
        UniqueConstraint("region", "year"),
        CheckConstraint(_in("source", YearSource), name="source"),
        CheckConstraint(_in("status", YearStatus), name="status"),
        CheckConstraint("version >= 1", name="version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(8), default=NATIONAL)
    year: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    notice_title: Mapped[str | None] = mapped_column(String(200))
    notice_date: Mapped[dt.date | None] = mapped_column(Date)
    notice_url: Mapped[str | None] = mapped_column(String(500))
    # Incremented on every change of the year's days or notice; deadlines record the versions they used.
    version: Mapped[int] = mapped_column(Integer, default=1)
    imported_at: Mapped[dt.datetime | None] = mapped_column(_UtcDateTime)
    imported_by: Mapped[str | None] = mapped_column(String(100))


class CalendarDay(Base):
    __tablename__ = "calendar_day"
    __table_args__ = (
        UniqueConstraint("region", "date"),
        CheckConstraint(_in("kind", DayKind), name="kind"),
        Index("ix_calendar_day_region_year", "region", "year"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(8), default=NATIONAL)
    date: Mapped[dt.date] = mapped_column(Date)
    year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    # The festival a holiday belongs to, or the one a make-up working day makes up for.
    holiday_name: Mapped[str | None] = mapped_column(String(100))
