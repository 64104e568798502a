"""Filling the calendar table: official years from the `chinesecalendar` package, and provisional years.

chinesecalendar transcribes every State Council notice since 2004 and fails closed after its last year, which
is what we want from a seed. An administrator's own import of a year is never overwritten by the seed: the
notice they typed in is the more deliberate source.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import chinese_calendar

from .errors import CalendarYearMissing
from .kinds import LAST_COMPUTABLE_YEAR, NATIONAL, DayKind, YearSource, YearStatus
from .repository import find_year, write_year
from .statutory import provisional_days

# chinesecalendar's own short Chinese names, mapped onto the full names the notices use.
_NAMES = {"清明": "清明节", "端午": "端午节", "中秋": "中秋节"}


def _chinese_name(english: str | None) -> str | None:
    if english is None:
        return None
    try:
        chinese = chinese_calendar.Holiday(english).chinese
    except ValueError:
        return english
    return _NAMES.get(chinese, chinese)


def chinesecalendar_days(year: int) -> dict[date, tuple[DayKind, str | None]]:
    """The days of `year` that differ from the weekday rule, as chinesecalendar knows them."""
    days: dict[date, tuple[DayKind, str | None]] = {}
    d = date(year, 1, 1)
    while d.year == year:
        try:
            on_holiday, name = chinese_calendar.get_holiday_detail(d)
        except NotImplementedError:
            raise CalendarYearMissing(year, f"chinesecalendar {chinese_calendar.__version__} 没有{year}年的数据，"
                                            f"请导入该年的节假日安排 (chinesecalendar has no data for {year}; "
                                            f"import the year's arrangement instead)") from None
        weekday = d.weekday() < 5
        if on_holiday and name is not None:
            days[d] = (DayKind.HOLIDAY, _chinese_name(name))
        elif not on_holiday and not weekday:
            days[d] = (DayKind.ADJUSTED_WORKDAY, _chinese_name(name))
        d += timedelta(days=1)
    return days


def seed_from_chinesecalendar(session, years: Iterable[int] = range(2004, 2027), *,
                              actor: str = "chinesecalendar", at: datetime | None = None) -> dict[int, str]:
    """Load official national years from chinesecalendar. Idempotent: running it again changes nothing.

    Returns {year: "created" | "updated" | "unchanged" | "kept-import"}; "updated" means the package's data
    differ from what was stored (a newer package version, or a provisional year becoming official).
    """
    outcome: dict[int, str] = {}
    for year in years:
        existing = find_year(session, year, NATIONAL)
        if existing is not None and existing.source == YearSource.IMPORT:
            outcome[year] = "kept-import"
            continue
        written = write_year(session, year=year, region=NATIONAL, source=YearSource.CHINESECALENDAR,
                             status=YearStatus.OFFICIAL, days=chinesecalendar_days(year), actor=actor, at=at,
                             notice_title=None, notice_date=None, notice_url=None)
        outcome[year] = "created" if written.created else ("updated" if written.changed else "unchanged")
    return outcome


def record_provisional_year(session, year: int, *, actor: str, at: datetime) -> str:
    """Store a provisional national year (statutory days only) so that it shows in the admin pages with a
    version of its own. Refuses to replace an official year."""
    if year > LAST_COMPUTABLE_YEAR:
        raise CalendarYearMissing(year, f"{year}年超出可推算范围 (year {year} cannot be computed)")
    existing = find_year(session, year, NATIONAL)
    if existing is not None and existing.status == YearStatus.OFFICIAL:
        raise ValueError(f"{year}年已有正式数据，不能改为临时推算 (year {year} is official; not replaced)")
    written = write_year(session, year=year, region=NATIONAL, source=YearSource.PROVISIONAL,
                         status=YearStatus.PROVISIONAL, days=provisional_days(year), actor=actor, at=at)
    return "created" if written.created else ("updated" if written.changed else "unchanged")
