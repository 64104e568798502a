"""The working-day calendar: which days are worked, and when a WD(n) or CAL(n) deadline falls due.

Petition deadlines count working days or calendar days, and China moves working days around every year (调休).
This package keeps a project-owned table of those days (seeded from `chinesecalendar`, topped up each year by
an administrator's import of the State Council notice), computes years not yet published provisionally from
the statutory holidays, and explains every due date it computes.

Import rule: `rules` and `statutory` are pure (no database, no clock) and may be used anywhere in `engine`;
`models`, `repository`, `seed`, `importer` and `service` use SQLAlchemy sessions handed to them. Nothing here
imports `services` or `web`, and nothing reads the real clock: callers pass dates and instants in.
"""
from .errors import CalendarError, CalendarImportError, CalendarYearMissing
from .importer import ImportResult, check_arrangement, import_year
from .kinds import NATIONAL, REGIONS, DayKind, YearSource, YearStatus
from .models import CalendarDay, CalendarYear
from .rules import (
    DEFAULT_CUTOFF,
    USE_CALENDAR_CUTOFF,
    Deadline,
    WorkingCalendar,
    YearCalendar,
    YearOverlay,
    end_of_day_utc,
)
from .seed import chinesecalendar_days, record_provisional_year, seed_from_chinesecalendar
from .service import CalendarService
from .statutory import StatutoryDay, provisional_days, qingming, statutory_holidays

__all__ = [
    "DEFAULT_CUTOFF",
    "NATIONAL",
    "REGIONS",
    "USE_CALENDAR_CUTOFF",
    "CalendarDay",
    "CalendarError",
    "CalendarImportError",
    "CalendarService",
    "CalendarYear",
    "CalendarYearMissing",
    "DayKind",
    "Deadline",
    "ImportResult",
    "StatutoryDay",
    "WorkingCalendar",
    "YearCalendar",
    "YearOverlay",
    "YearSource",
    "YearStatus",
    "check_arrangement",
    "chinesecalendar_days",
    "end_of_day_utc",
    "import_year",
    "provisional_days",
    "qingming",
    "record_provisional_year",
    "seed_from_chinesecalendar",
    "statutory_holidays",
]
