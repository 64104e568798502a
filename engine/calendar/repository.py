"""Reading and writing calendar years in the database.

Every writer (the chinesecalendar seed, the yearly import, a provisional year) goes through `write_year`, so
that versions move the same way whatever the source: a year's version goes up exactly when its days or its
notice change, and the dates that changed are reported so that open deadlines touching them can be recomputed.
Functions take the caller's session and never commit: the caller's unit of work decides.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .kinds import NATIONAL, DayKind, YearStatus
from .models import CalendarDay, CalendarYear
from .rules import DEFAULT_CUTOFF, WorkingCalendar, YearCalendar, YearOverlay

Days = Mapping[date, tuple[DayKind, str | None]]


@dataclass(frozen=True)
class YearWrite:
    year: int
    region: str
    version: int
    previous_version: int | None
    changed: bool
    changed_dates: list[date] = field(default_factory=list)

    @property
    def created(self) -> bool:
        return self.previous_version is None


def find_year(session: Session, year: int, region: str = NATIONAL) -> CalendarYear | None:
    return session.scalar(
        select(CalendarYear).where(CalendarYear.region == region, CalendarYear.year == year))


def year_days(session: Session, year: int, region: str = NATIONAL) -> dict[date, tuple[DayKind, str | None]]:
    rows = session.execute(select(CalendarDay.date, CalendarDay.kind, CalendarDay.holiday_name)
                           .where(CalendarDay.region == region, CalendarDay.year == year))
    return {d: (DayKind(k), n) for d, k, n in rows}


def write_year(session: Session, *, year: int, region: str, source: str, status: str, days: Days,
               actor: str | None, at: datetime | None, notice_title: str | None = None,
               notice_date: date | None = None, notice_url: str | None = None) -> YearWrite:
    """Create or replace one year of one region. A write that changes nothing keeps the version."""
    session.info.pop(_VERSION_MEMO, None)  # this transaction's version key is about to change
    for d in days:
        if d.year != year:
            raise ValueError(f"{d} 不属于 {year} 年 (not in year {year})")
    wanted = {d: (DayKind(k), n) for d, (k, n) in days.items()}
    header = {"source": str(source), "status": str(status), "notice_title": notice_title,
              "notice_date": notice_date, "notice_url": notice_url}
    row = find_year(session, year, region)
    if row is None:
        previous_version = None
        old: dict[date, tuple[DayKind, str | None]] = {}
        row = CalendarYear(region=region, year=year, version=1, **header)
        session.add(row)
    else:
        previous_version = row.version
        old = year_days(session, year, region)
        same_header = all(getattr(row, k) == v for k, v in header.items())
        if same_header and old == wanted:
            return YearWrite(year, region, row.version, previous_version, changed=False)
        for k, v in header.items():
            setattr(row, k, v)
        row.version = previous_version + 1
    row.imported_at = at
    row.imported_by = actor
    changed_dates = sorted(d for d in set(old) | set(wanted) if old.get(d) != wanted.get(d))
    if old:
        session.execute(delete(CalendarDay).where(CalendarDay.region == region, CalendarDay.year == year))
    session.add_all(CalendarDay(region=region, date=d, year=year, kind=str(k), holiday_name=n)
                    for d, (k, n) in sorted(wanted.items()))
    session.flush()
    return YearWrite(year, region, row.version, previous_version, changed=True, changed_dates=changed_dates)


_VERSION_MEMO = "lianxin.calendar_version_key"
# Built once, on the table, and run on the session's connection: building the expression, and the ORM's steps
# for a statement that loads no entity, cost more than running it. Nothing is left to flush first: every writer
# goes through `write_year`, which flushes.
_YEARS = CalendarYear.__table__
_VERSION_KEY = select(func.count(_YEARS.c.id), func.coalesce(func.sum(_YEARS.c.version), 0))


def version_key(session: Session) -> tuple[int, int]:
    """(number of years, sum of their versions), all regions. Versions only grow, so any write changes it.

    Read once per transaction: a completion computes several deadlines, each asking for the calendar, and the
    answer cannot change inside the transaction except through `write_year`, which forgets it."""
    transaction = session.get_transaction()
    memo = session.info.get(_VERSION_MEMO)
    if transaction is not None and memo is not None and memo[0] is transaction:
        return memo[1]
    count, total = session.connection().execute(_VERSION_KEY).one()
    key = int(count), int(total)
    if transaction is not None:
        session.info[_VERSION_MEMO] = (transaction, key)
    return key


def version_key_sql(dialect) -> str:
    """The version key as two scalar subqueries, for a statement of the unit of work that reads it along with
    its own rows (the completion's lock of its case: one round trip less); the caller hands the two values read
    to `remember_version_key`."""
    q = dialect.identifier_preparer
    table, id_, version = q.format_table(_YEARS), q.quote(_YEARS.c.id.name), q.quote(_YEARS.c.version.name)
    return f"(SELECT count({id_}) FROM {table}), (SELECT coalesce(sum({version}), 0) FROM {table})"


def version_key_columns():
    """The version key as two labelled scalar subqueries (`calendar_years`, `calendar_versions`), for a query of
    the ORM that reads it along with its own columns; the caller hands the two values to `remember_version_key`."""
    return (select(func.count(_YEARS.c.id)).scalar_subquery().label("calendar_years"),
            select(func.coalesce(func.sum(_YEARS.c.version), 0)).scalar_subquery().label("calendar_versions"))


def remember_version_key(session: Session, count, total) -> None:
    """The version key read in this transaction by a statement of its own (`version_key_sql`): `version_key`
    then answers from it, as from its own read."""
    transaction = session.get_transaction()
    if transaction is not None:
        session.info[_VERSION_MEMO] = (transaction, (int(count), int(total)))


def load_calendar(session: Session, region: str = NATIONAL,
                  office_cutoff: time | None = DEFAULT_CUTOFF) -> WorkingCalendar:
    """A snapshot of the national calendar, with `region`'s overlay laid over it (if not national)."""
    regions = [NATIONAL] if region == NATIONAL else [NATIONAL, region]
    years = session.scalars(select(CalendarYear).where(CalendarYear.region.in_(regions))).all()
    days: dict[tuple[str, int], dict[date, tuple[DayKind, str | None]]] = {}
    for r, y, d, k, n in session.execute(select(CalendarDay.region, CalendarDay.year, CalendarDay.date,
                                                CalendarDay.kind, CalendarDay.holiday_name)
                                         .where(CalendarDay.region.in_(regions))):
        days.setdefault((r, y), {})[d] = (DayKind(k), n)
    national = [YearCalendar(row.year, row.version, row.status != YearStatus.OFFICIAL,
                             days.get((NATIONAL, row.year), {}), row.source, row.notice_title)
                for row in years if row.region == NATIONAL]
    overlays = {row.year: YearOverlay(row.version, days.get((region, row.year), {}))
                for row in years if row.region == region and region != NATIONAL}
    return WorkingCalendar(national, region=region, overlays=overlays, office_cutoff=office_cutoff)
