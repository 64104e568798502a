"""The one place that reads real time.

Every other module asks a Clock. Tests and demos use `SettableClock` and move time instead of sleeping.
"""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime in UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SettableClock:
    """A clock that stands still until moved. Thread-safe, so a test can move it under a running server."""

    def __init__(self, start: datetime | None = None):
        self._lock = threading.Lock()
        self._now = to_utc(start) if start else SystemClock().now()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = to_utc(when)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now = self._now + delta
            return self._now


class OffsetClock:
    """Real time shifted by an offset that can be moved: what `POST /api/clock` uses in demos,
    so that several processes agree (the offset lives in the database, see engine.store)."""

    def __init__(self, read_offset):
        self._read_offset = read_offset

    def now(self) -> datetime:
        return SystemClock().now() + self._read_offset()


def to_utc(value: datetime) -> datetime:
    """Naive datetimes are read as Asia/Shanghai wall time, the office's own."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return value.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """ISO-8601 date or datetime; a bare date means 00:00 Asia/Shanghai of that day."""
    text = text.strip()
    if len(text) == 10:
        return to_utc(datetime.fromisoformat(text + "T00:00:00"))
    return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


MAX_HOURS = 24 * 366  # an hours limit longer than a year is a typo, not a rule


def add_hours(start: datetime, hours: int) -> datetime:
    """`start` plus `hours` calendar hours, in UTC: the clock of urgent matters (重大紧急事项), which runs through
    nights, weekends and holidays alike. `hours` is a whole number from 0 to MAX_HOURS."""
    if isinstance(hours, bool) or not isinstance(hours, int) or not 0 <= hours <= MAX_HOURS:
        raise ValueError(f"小时数必须是 0 到 {MAX_HOURS} 之间的整数，收到 {hours!r}"
                         f"（hours must be a whole number from 0 to {MAX_HOURS}）")
    return to_utc(start) + timedelta(hours=hours)


def hours_left(due_at: datetime, now: datetime) -> float:
    """Hours from `now` to `due_at` (negative once it has passed), to one decimal."""
    return round((to_utc(due_at) - to_utc(now)).total_seconds() / 3600, 1)
