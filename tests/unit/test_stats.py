"""Statistical periods and the first-result rule, without a database.

The integration tests build real cases through the runtime. The case here is reopened for handling *after* a
review decision, which the current petition_case version never does (a review ends in its own opinion), but a
later version may: its journal rows are written the way the runtime writes them (task.completed per element,
service results), so the rule "a reopened case keeps its first on-time result" is checked for that future too.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from types import SimpleNamespace

import pytest

from engine.clock import SHANGHAI
from services.stats import compute
from services.stats_facts import build_facts
from services.stats_settings import KpiSettings, SettingsError, parse_period, period_of

SETTINGS = KpiSettings.load()


def bj(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


# ---------------------------------------------------------------- periods

def test_calendar_months_and_years():
    march = parse_period("2026-03", SETTINGS)
    assert (march.first_day, march.last_day) == (date(2026, 3, 1), date(2026, 3, 31))
    assert march.contains(bj("2026-03-31T23:59:59")) and not march.contains(bj("2026-04-01T00:00:00"))
    feb = parse_period("2026-2", SETTINGS)
    assert feb.last_day == date(2026, 2, 28)
    year = parse_period("2026", SETTINGS)
    assert (year.first_day, year.last_day) == (date(2026, 1, 1), date(2026, 12, 31))


def test_assessment_months_from_the_21st_and_a_year_ending_on_20_december():
    s = SETTINGS.with_overrides(month_start_day=21, year_end="12-20")
    march = parse_period("2026-03", s)
    assert (march.first_day, march.last_day) == (date(2026, 2, 21), date(2026, 3, 20))
    january = parse_period("2026-01", s)
    assert (january.first_day, january.last_day) == (date(2025, 12, 21), date(2026, 1, 20))
    assert period_of(bj("2026-03-21T08:00:00"), s).label == "2026-04"
    assert period_of(bj("2026-12-25T08:00:00"), s).label == "2027-01"
    year = parse_period("2026", s)
    assert (year.first_day, year.last_day) == (date(2025, 12, 21), date(2026, 12, 20))


@pytest.mark.parametrize("change, words", [
    ({"month_start_day": 30}, "1–28"), ({"year_end": "13-01"}, "month must be in 1..12"),
    ({"year_end": "Dec 20"}, "月-日"), ({"rate_denominator": "closed"}, "due_or_closed")])
def test_bad_settings_are_refused_with_what_to_write(change, words):
    with pytest.raises((SettingsError, ValueError)) as err:
        SETTINGS.with_overrides(**change)
    assert words in str(err.value)


def test_bad_periods_say_how_to_write_them():
    for text in ("2026-13", "26-03", "March"):
        with pytest.raises(SettingsError) as err:
            parse_period(text, SETTINGS)
        assert "2026-03" in str(err.value)


# ---------------------------------------------------------------- the first result

def row(**kw):
    return SimpleNamespace(**kw)


def event(seq, at, type_, element_id=None, **data):
    return row(case_id=1, seq=seq, at=bj(at), type=type_, element_id=element_id, data=json.dumps(data))


def item(i, element_id, created, due, done, state="completed", unit="county_a_hrss"):
    return row(id=i, case_id=1, element_id=element_id, unit=unit, state=state, created_at=bj(created),
               due_at=bj(due) if due else None, completed_at=bj(done) if done else None)


def reopened_case():
    """Accepted 01-05 (handling due 03-06 24:00); replied and signed off 03-02; a review reopens handling in April;
    replied again 04-20 and signed off 04-21 (late against the old date, and on its own clock)."""
    case = row(id=1, case_no=None, created_at=bj("2026-01-05T09:00:00"), status="waiting",
               summary_json=json.dumps({"title": "重开的事项", "channel": "来信", "category": "劳动社保"}))
    events = [
        event(1, "2026-01-05T09:00:00", "case.started", data={"channel": "来信", "location": "county_a"}),
        event(2, "2026-01-05T09:00:00", "service.called", "Task_issue_number", handler="issue_case_number",
              result={"case_no": "XF1"}),
        event(3, "2026-01-05T09:00:00", "task.completed", "Task_triage", changes={"route": [None, "交办转送"]}),
        event(4, "2026-03-02T10:00:00", "task.completed", "Task_handle", changes={"outcome": [None, "支持"]}),
        event(5, "2026-03-02T10:00:00", "task.completed", "Task_serve_reply"),
        event(6, "2026-03-02T11:00:00", "task.completed", "Task_signoff"),
        event(7, "2026-03-02T11:00:00", "task.completed", "Task_list_closed"),
        event(8, "2026-03-05T09:00:00", "task.completed", "Task_rating", changes={"rating": [None, "不满意"]}),
        event(9, "2026-04-10T09:00:00", "task.completed", "Task_review"),
        event(10, "2026-04-20T09:00:00", "task.completed", "Task_handle"),
        event(11, "2026-04-20T09:00:00", "task.completed", "Task_serve_reply"),
        event(12, "2026-04-21T09:00:00", "task.completed", "Task_signoff"),
        event(13, "2026-04-22T09:00:00", "task.completed", "Task_rating", changes={"rating": ["不满意", "满意"]}),
    ]
    items = [
        item(1, "Task_accept", "2026-01-05T09:00:00", "2026-01-21T00:00:00", "2026-01-05T09:00:00"),
        item(2, "Task_handle", "2026-01-05T09:00:00", "2026-03-07T00:00:00", "2026-03-02T10:00:00"),
        item(3, "Task_review", "2026-03-20T09:00:00", "2026-04-21T00:00:00", "2026-04-10T09:00:00", unit="county_a"),
        item(4, "Task_handle", "2026-04-10T09:00:00", "2026-06-10T00:00:00", "2026-04-20T09:00:00"),
    ]
    return build_facts([case], items, events, SETTINGS)


def test_a_case_reopened_after_review_keeps_its_first_closure_and_reply():
    [facts] = reopened_case()
    assert facts.case_no == "XF1" and facts.route == "交办转送" and facts.unit == "county_a_hrss"
    assert facts.closed_at == bj("2026-03-02T11:00:00") and facts.reply_at == bj("2026-03-02T10:00:00")
    assert facts.handling_due == bj("2026-03-07T00:00:00")  # the deadline in force at the first closure
    assert facts.rating == "不满意"  # the first rating is the one published
    now = bj("2026-05-01T09:00:00")
    march = {k.key: k for k in compute([facts], parse_period("2026-03", SETTINGS), now, SETTINGS)}
    assert (march["on_time_completion"].numerator, march["on_time_completion_rate"].denominator) == (1, 1)
    assert (march["on_time_reply_rate"].numerator, march["on_time_reply_rate"].denominator) == (1, 1)
    april = {k.key: k for k in compute([facts], parse_period("2026-04", SETTINGS), now, SETTINGS)}
    assert april["on_time_completion"].numerator == 0 and april["on_time_completion_rate"].denominator == 0
    assert april["participation_rate"].denominator == 0 and april["satisfaction_rate"].denominator == 0
    assert (april["review_on_time"].numerator, april["review_on_time"].denominator) == (1, 1)


def test_a_sign_off_returned_for_redo_is_not_a_closure():
    case = row(id=1, case_no="XF2", created_at=bj("2026-03-02T09:00:00"), status="waiting", summary_json="{}")
    events = [event(1, "2026-03-05T09:00:00", "task.completed", "Task_signoff"),
              event(2, "2026-03-05T09:00:00", "task.completed", "Script_redo"),
              event(3, "2026-03-09T09:00:00", "task.completed", "Task_signoff"),
              event(4, "2026-03-09T09:00:00", "task.completed", "Task_list_closed")]
    [facts] = build_facts([case], [], events, SETTINGS)
    assert facts.closed_at == bj("2026-03-09T09:00:00")


def test_periods_outside_plausible_years_are_refused():
    from services.stats_settings import range_period

    for text in ("0000-01", "9999", "0001"):
        with pytest.raises(SettingsError):
            parse_period(text, SETTINGS)
    with pytest.raises(SettingsError):
        range_period("0001-01-01", "9999-12-31")


def test_an_accusation_is_counted_but_never_listed():
    from services.stats_report import cases_behind

    case = row(id=7, case_no=None, created_at=bj("2026-03-02T09:00:00"), status="completed",
               summary_json=json.dumps({"title": "举报某局长受贿", "channel": "来信", "category": "纪检监察"}))
    events = [event(1, "2026-03-02T09:00:00", "case.started", data={"channel": "来信", "location": "county_a"}),
              event(2, "2026-03-02T10:00:00", "task.completed", "Task_triage", changes={"route": [None, "检举控告"]})]
    events = [row(**dict(vars(e), case_id=7)) for e in events]
    [facts] = build_facts([case], [], events, SETTINGS)
    kpis = {k.key: k.as_dict() for k in compute([facts], parse_period("2026-03", SETTINGS),
                                                 bj("2026-03-03T09:00:00"), SETTINGS)}
    assert kpis["received"]["numerator"] == 1 and kpis["received.来信"]["numerator"] == 1
    [listed] = cases_behind([facts], kpis["received"])
    assert listed["confidential"] is True and listed["id"] is None
    assert "举报" not in json.dumps(listed, ensure_ascii=False)
