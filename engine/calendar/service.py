"""The calendar as the rest of the engine sees it: due dates, a year's summary, and the admin's warnings.

Loading the calendar costs a few hundred rows, computing a deadline a few microseconds; so the service keeps
one snapshot per region and checks before each use whether any year changed, by comparing (count of years, sum
of their versions). Versions only grow, so an import anywhere invalidates the snapshot on the next call, in
every process, without messages between them.
"""
from __future__ import annotations

import threading
from datetime import date, datetime, time
from typing import Any

from sqlalchemy.orm import Session

from .kinds import NATIONAL, DayKind
from .repository import find_year, load_calendar, version_key
from .rules import DEFAULT_CUTOFF, USE_CALENDAR_CUTOFF, Deadline, WorkingCalendar
from .statutory import statutory_holidays


class CalendarService:
    def __init__(self, session_factory, *, office_cutoff: time | None = DEFAULT_CUTOFF):
        self._session_factory = session_factory
        self._office_cutoff = office_cutoff
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int], WorkingCalendar]] = {}

    def calendar(self, region: str = NATIONAL, session: Session | None = None) -> WorkingCalendar:
        """The current snapshot. Pass the caller's session inside a unit of work, so that the version check
        reads the same transaction; a hot loop should take the snapshot once and query it directly."""
        if session is None:
            with self._session_factory() as own:
                return self._calendar(region, own)
        return self._calendar(region, session)

    def _calendar(self, region: str, session: Session) -> WorkingCalendar:
        key = version_key(session)
        with self._lock:
            cached = self._cache.get(region)
            if cached is not None and cached[0] == key:
                return cached[1]
        calendar = load_calendar(session, region, self._office_cutoff)
        with self._lock:
            self._cache[region] = (key, calendar)
        return calendar

    def due(self, start: date | datetime, workdays: int | None = None, days: int | None = None,
            region: str = NATIONAL, *, roll_forward: bool = True, cutoff: time | None = USE_CALENDAR_CUTOFF,
            session: Session | None = None) -> Deadline:
        """WD(workdays) or CAL(days) from `start`; exactly one of the two."""
        return self.calendar(region, session).due(start, workdays=workdays, days=days,
                                                  roll_forward=roll_forward, cutoff=cutoff)

    def provisional_years(self, region: str = NATIONAL, session: Session | None = None) -> list[int]:
        return self.calendar(region, session).provisional_years()

    def show_year(self, year: int, region: str = NATIONAL, session: Session | None = None) -> dict[str, Any]:
        """What the admin page and `lianxin calendar show YEAR` print. Raises CalendarYearMissing like a
        deadline would."""
        cal = self.calendar(region, session)
        yc = cal.year(year)
        row = None
        if yc.version:
            if session is None:
                with self._session_factory() as own:
                    row = find_year(own, year, NATIONAL)
            else:
                row = find_year(session, year, NATIONAL)
        holidays = sorted((d, n) for d, (k, n) in yc.days.items() if k == DayKind.HOLIDAY)
        makeup = sorted((d, n) for d, (k, n) in yc.days.items() if k == DayKind.ADJUSTED_WORKDAY)
        return {
            "year": year,
            "region": region,
            "source": yc.source,
            "status": "provisional" if yc.provisional else "official",
            "version": yc.version,
            "overlay_version": yc.overlay_version,
            "notice": None if row is None or row.notice_title is None else {
                "title": row.notice_title,
                "date": row.notice_date.isoformat() if row.notice_date else None,
                "url": row.notice_url,
            },
            "imported_at": row.imported_at.isoformat() if row is not None and row.imported_at else None,
            "imported_by": row.imported_by if row is not None else None,
            "holiday_days": len(holidays),
            "makeup_days": len(makeup),
            "workdays": sum(1 for o in range(date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal() + 1)
                            if yc.working(date.fromordinal(o))),
            "holidays": _periods(holidays),
            "makeup_workdays": [{"date": d.isoformat(), "for": n} for d, n in makeup],
            "statutory": [{"date": s.date.isoformat(), "name": s.name, "day_off": not yc.working(s.date)}
                          for s in statutory_holidays(year)],
        }


def _periods(holidays: list[tuple[date, str | None]]) -> list[dict[str, Any]]:
    """Consecutive holiday days become one period; its name lists the festivals in it (国庆节、中秋节)."""
    periods: list[dict[str, Any]] = []
    for d, name in holidays:
        last = periods[-1] if periods else None
        if last is None or (d - last["_end"]).days != 1:
            last = {"_start": d, "_end": d, "_names": []}
            periods.append(last)
        last["_end"] = d
        for part in (name or "").split("、"):
            if part and part not in last["_names"]:
                last["_names"].append(part)
    return [{"name": "、".join(p["_names"]) or "节假日", "start": p["_start"].isoformat(),
             "end": p["_end"].isoformat(), "days": (p["_end"] - p["_start"]).days + 1} for p in periods]
