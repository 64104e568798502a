"""How a due date reads (engine/calendar/display.py and the page filters over it): a deadline ending at 24:00 of a
day is stored as 00:00 of the next day and must read as the day itself, in either language, while an event at
00:00 (a start) stays on its own day; overdue work counts working days, not calendar days."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from flask import Flask

from engine.calendar.display import cn_due_text, due_day, due_day_and_time, overdue_workdays
from engine.clock import SHANGHAI
from web.i18n import cn_date, due_date, due_datetime, due_left, init_i18n

END_OF_14TH = datetime(2026, 12, 15, 0, 0, tzinfo=SHANGHAI)  # 2026-12-14 24:00, as the store keeps it


@pytest.fixture
def app():
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test"
    init_i18n(app)
    return app


def test_a_deadline_at_24_00_is_its_own_day_not_the_next():
    assert due_day(END_OF_14TH) == date(2026, 12, 14)
    assert due_day_and_time(END_OF_14TH) == (date(2026, 12, 14), "24:00")
    assert cn_due_text(END_OF_14TH) == "2026年12月14日"
    assert cn_due_text(END_OF_14TH, with_time=True) == "2026年12月14日 24:00"


def test_one_minute_earlier_is_23_59_of_the_same_day():
    at = END_OF_14TH - timedelta(minutes=1)
    assert due_day(at) == date(2026, 12, 14)
    assert due_day_and_time(at) == (date(2026, 12, 14), "23:59")
    assert cn_due_text(at, with_time=True) == "2026年12月14日 23:59"


def test_one_microsecond_after_midnight_is_the_next_day():
    at = END_OF_14TH + timedelta(microseconds=1)
    assert due_day(at) == date(2026, 12, 15)
    assert due_day_and_time(at) == (date(2026, 12, 15), "00:00")


def test_the_same_instant_in_other_zones_and_as_iso_text():
    utc = END_OF_14TH.astimezone(UTC)  # 2026-12-14T16:00Z
    assert due_day(utc) == date(2026, 12, 14)
    assert due_day("2026-12-14T16:00:00+00:00") == date(2026, 12, 14)
    assert due_day("2026-12-14T16:00:00Z") == date(2026, 12, 14)
    assert due_day(utc.astimezone(timezone(timedelta(hours=-5)))) == date(2026, 12, 14)
    assert due_day_and_time("2026-12-14T16:00:00+00:00") == (date(2026, 12, 14), "24:00")
    # a naive instant is Beijing wall time, as the pages show it
    assert due_day(datetime(2026, 12, 15, 0, 0)) == date(2026, 12, 14)
    # a bare date is already a due day; no deadline gives nothing
    assert due_day("2026-12-14") == date(2026, 12, 14) and due_day(date(2026, 12, 14)) == date(2026, 12, 14)
    assert due_day_and_time(date(2026, 12, 14)) == (date(2026, 12, 14), "24:00")
    assert due_day(None) is None and due_day_and_time("") is None and cn_due_text(None) == ""


def test_pages_print_the_due_day_in_chinese_and_english_while_starts_at_midnight_keep_their_day(app):
    with app.test_request_context("/"):
        assert due_date(END_OF_14TH) == "2026年12月14日"
        assert due_datetime(END_OF_14TH) == "2026年12月14日 24:00"
        assert due_date(END_OF_14TH.astimezone(UTC).isoformat()) == "2026年12月14日"
        assert cn_date(END_OF_14TH) == "2026年12月15日"  # a start or an event at 00:00 is on its own day
        assert due_date(None) == "" and due_datetime(None) == ""
    with app.test_request_context("/?lang=en"):
        assert due_date(END_OF_14TH) == "December 14, 2026"
        assert due_datetime(END_OF_14TH) == "December 14, 2026 24:00"
        assert cn_date(END_OF_14TH) == "December 15, 2026"


def test_overdue_counts_working_days_after_the_due_day():
    def weekdays(d: date) -> bool:  # a calendar without holidays is enough here
        return d.weekday() < 5

    # not yet due: a second before 24:00
    assert overdue_workdays(END_OF_14TH, END_OF_14TH - timedelta(seconds=1), weekdays) == 0
    # at 24:00 itself it has passed: one day, never "0"
    assert overdue_workdays(END_OF_14TH, END_OF_14TH, weekdays) == 1
    # Thursday 17 Dec: 15, 16, 17
    assert overdue_workdays(END_OF_14TH, datetime(2026, 12, 17, 10, tzinfo=SHANGHAI), weekdays) == 3
    # Monday 21 Dec: 15-18 and 21, five working days (seven calendar days)
    assert overdue_workdays(END_OF_14TH, datetime(2026, 12, 21, 10, tzinfo=SHANGHAI), weekdays) == 5
    # a deadline on Friday 18 Dec, looked at on Saturday: its first overdue day is a rest day, still overdue
    friday = datetime(2026, 12, 19, 0, 0, tzinfo=SHANGHAI)
    assert overdue_workdays(friday, datetime(2026, 12, 19, 10, tzinfo=SHANGHAI), weekdays) == 1


def test_days_left_or_days_overdue_in_both_languages(app):
    with app.test_request_context("/"):
        assert due_left(3) == "剩 3 个工作日"
        assert due_left(0, 5) == "已逾期 5 个工作日"
        assert due_left(None) == ""
    with app.test_request_context("/?lang=en"):
        assert due_left(3) == "3 working days left"
        assert due_left(0, 5) == "5 working days overdue"
