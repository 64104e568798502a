"""How a due instant reads: the one home of the 24:00 rule for every page, document and export.

A deadline ends at 24:00 Beijing time of its due day, which the store keeps as the instant 00:00 of the next day.
Read naively, that instant names the wrong day (a deadline of 14 December shows as 15 December). Everything that
shows a due date to a person goes through `due_day` (or `due_day_and_time` where a time is shown), never through
`astimezone(...).date()` of the raw instant. Start and event instants are not deadlines: 00:00 of a day is the start
of that day, and they are formatted as they are.

Pure: no database, no clock, no Flask. Callers pass instants in.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from engine.clock import SHANGHAI

_JUST_BEFORE = timedelta(microseconds=1)


def _instant(value: date | datetime | str) -> date | datetime:
    """A date, or an aware instant; ISO text is read (a naive time is Beijing wall time, as the pages show it)."""
    if isinstance(value, str):
        value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return value


def due_day(value: date | datetime | str | None) -> date | None:
    """The Beijing day a deadline ending at `value` falls due: an instant at 00:00 belongs to the day before it.
    A date is already a due day and is returned as it is; None (no deadline) gives None."""
    if value is None or value == "":
        return None
    value = _instant(value)
    if not isinstance(value, datetime):
        return value
    return (value - _JUST_BEFORE).astimezone(SHANGHAI).date()


def due_day_and_time(value: date | datetime | str | None) -> tuple[date, str] | None:
    """The due day and its Beijing clock time, "24:00" for a deadline ending at midnight (never "00:00" of the
    next day). A bare date is a whole day: 24:00."""
    if value is None or value == "":
        return None
    value = _instant(value)
    if not isinstance(value, datetime):
        return value, "24:00"
    local = value.astimezone(SHANGHAI)
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        return local.date() - timedelta(days=1), "24:00"
    return local.date(), f"{local:%H:%M}"


def overdue_workdays(due_at: datetime, now: datetime, is_workday: Callable[[date], bool]) -> int:
    """Working days a deadline is overdue at `now`: those after its due day up to and including today, at least 1
    once the deadline has passed (its first overdue day may be a rest day); 0 while it has not."""
    if now < due_at:
        return 0
    day, today = due_day(due_at), now.astimezone(SHANGHAI).date()
    n = 0
    while day < today:
        day += timedelta(days=1)
        if is_workday(day):
            n += 1
    return max(n, 1)


def cn_due_text(value: date | datetime | str | None, *, with_time: bool = False) -> str:
    """2026年12月14日 (or 2026年12月14日 24:00): the Chinese text of documents and exports; empty for no deadline."""
    parts = due_day_and_time(value)
    if parts is None:
        return ""
    day, clock = parts
    text = f"{day.year}年{day.month}月{day.day}日"
    return f"{text} {clock}" if with_time else text
