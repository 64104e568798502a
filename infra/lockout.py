"""Lockout after repeated failed sign-ins, counted per account in the database (so every web process counts
together), beside the rate limits of web/limits.py (which count per account name and per client address).

A failure is a wrong password or a wrong second-factor code for an existing account. `failures` consecutive
failures, each less than `minutes` after the one before, lock the account for `minutes`; a success clears the
count. While locked every sign-in is refused without looking at the password, the right one too.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.db import Base
from engine.store import UTC_DT


class AccountLockout(Base):
    __tablename__ = "account_lockout"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)


@dataclass(frozen=True)
class LockoutRule:
    failures: int = 5
    minutes: int = 15


def locked_until(s: Session, user_id: int, now: datetime) -> datetime | None:
    row = s.get(AccountLockout, user_id)
    if row is None or row.locked_until is None or row.locked_until <= now:
        return None
    return row.locked_until


def _row_for_update(s: Session, user_id: int) -> AccountLockout:
    row = s.get(AccountLockout, user_id, with_for_update=True)
    if row is not None:
        return row
    try:
        with s.begin_nested():  # another process may add the row at the same moment: then take theirs
            s.add(AccountLockout(user_id=user_id, failures=0))
    except IntegrityError:
        pass
    return s.get(AccountLockout, user_id, with_for_update=True, populate_existing=True)


def record_failure(s: Session, user_id: int, now: datetime, rule: LockoutRule) -> datetime | None:
    """Counts a failure; returns the end of the lock when this failure locks the account."""
    row = _row_for_update(s, user_id)
    window = timedelta(minutes=rule.minutes)
    if row.last_failure_at is None or now - row.last_failure_at >= window:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= rule.failures:
        row.failures = 0
        row.locked_until = now + window
        return row.locked_until
    return None


def record_success(s: Session, user_id: int) -> None:
    row = s.get(AccountLockout, user_id)
    if row is not None:
        row.failures, row.last_failure_at = 0, None


def unlock(s: Session, user_id: int) -> bool:
    row = s.get(AccountLockout, user_id)
    if row is None or row.locked_until is None:
        return False
    row.failures, row.locked_until, row.last_failure_at = 0, None, None
    return True
