"""The boundaries of how a due date reads (engine/calendar/display.py, the one function every list, form, page,
export and API label goes through): due exactly at midnight, one second before, a due day on a rest day, and
overdue work counted in working days across a weekend and a holiday, in Chinese and English."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from flask import Flask

from engine.calendar.display import cn_due_text, due_day, due_day_and_time, overdue_workdays
from engine.clock import SHANGHAI
from web.i18n import due_date, due_datetime, due_left, init_i18n

# 2026: National Day holiday 1–7 October (a Thursday to a Wednesday); 10 October (Saturday) a make-up working day.
HOLIDAYS = {date(2026, 10, d) for d in range(1, 8)}
MAKE_UP = {date(2026, 10, 10)}


def is_workday(d: date) -> bool:
    if d in MAKE_UP:
        return True
    return d.weekday() < 5 and d not in HOLIDAYS


def end_of(day: date) -> datetime:
    """24:00 of `day`, as the store keeps it (00:00 of the next day)."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI)


@pytest.fixture
def app():
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test"
    init_i18n(app)
    return app


def test_due_exactly_at_midnight_reads_as_its_own_day_and_24_00():
    due = end_of(date(2026, 12, 14))
    assert due_day(due) == date(2026, 12, 14)
    assert due_day_and_time(due) == (date(2026, 12, 14), "24:00")
    assert cn_due_text(due) == "2026年12月14日" and cn_due_text(due, with_time=True) == "2026年12月14日 24:00"
    assert due_day(due.isoformat()) == date(2026, 12, 14)  # the API's ISO text reads the same


def test_one_second_before_midnight_is_the_same_day_at_23_59():
    due = end_of(date(2026, 12, 14)) - timedelta(seconds=1)
    assert due_day(due) == date(2026, 12, 14)
    assert due_day_and_time(due) == (date(2026, 12, 14), "23:59")


def test_a_due_day_on_a_rest_day_is_shown_as_that_day():
    sunday = end_of(date(2026, 12, 13))  # a days(n, roll_forward=False) deadline may end on a Sunday
    assert due_day(sunday) == date(2026, 12, 13)
    holiday = end_of(date(2026, 10, 3))
    assert cn_due_text(holiday) == "2026年10月3日"


def test_overdue_by_one_and_three_working_days_across_a_weekend():
    friday = end_of(date(2026, 12, 11))
    assert overdue_workdays(friday, friday - timedelta(seconds=1), is_workday) == 0
    assert overdue_workdays(friday, datetime(2026, 12, 12, 10, tzinfo=SHANGHAI), is_workday) == 1  # Saturday
    assert overdue_workdays(friday, datetime(2026, 12, 14, 10, tzinfo=SHANGHAI), is_workday) == 1  # Monday
    assert overdue_workdays(friday, datetime(2026, 12, 16, 10, tzinfo=SHANGHAI), is_workday) == 3  # Wednesday


def test_overdue_across_a_holiday_counts_only_working_days_and_the_make_up_day():
    due = end_of(date(2026, 9, 30))  # the day before National Day
    assert overdue_workdays(due, datetime(2026, 10, 5, 10, tzinfo=SHANGHAI), is_workday) == 1  # holiday: 1, not 5
    assert overdue_workdays(due, datetime(2026, 10, 8, 10, tzinfo=SHANGHAI), is_workday) == 1  # first working day
    assert overdue_workdays(due, datetime(2026, 10, 10, 10, tzinfo=SHANGHAI), is_workday) == 3  # 8, 9, 10 (调休)


def test_the_page_filters_and_labels_in_both_languages(app):
    due = end_of(date(2026, 12, 14))
    with app.test_request_context("/"):
        assert "12月14日" in due_date(due) and "15" not in due_date(due)
        assert "24:00" in due_datetime(due)
        assert due_left(0, 3) == "已逾期 3 个工作日" and "逾期 1 个工作日" in due_left(0, 1)
        assert "剩 0" not in due_left(0, 1)
    with app.test_request_context("/?lang=en"):
        assert "14" in due_date(due) and "15" not in due_date(due)
        assert due_left(0, 1) == "1 working days overdue"
