"""The hours clock of urgent matters (重大紧急事项): `hours(n, start)` counts calendar hours through nights,
weekends and holidays; `hours_before(due, lead)` is a reminder `lead` hours before such a limit; a stopped hours
limit keeps its whole hours left; the case page's view of an hours limit is red once missed."""
from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from engine.clock import SHANGHAI, add_hours, hours_left, parse_instant
from engine.context import CommandContext, command_scope, evaluating
from engine.deadlines import HOURS, Deadlines, HoursDeadline, reminder_of
from services.deadline_settings import BY_NAME, cell_issue, value_issue


def _ctx(now: str) -> CommandContext:
    return CommandContext(case_id=1, actor="t", now=parse_instant(now))


def test_add_hours_runs_through_the_night_and_the_weekend():
    friday_evening = parse_instant("2026-03-06T22:30:00+08:00")  # a Friday
    due = add_hours(friday_evening, 2)
    assert due.astimezone(SHANGHAI) == datetime(2026, 3, 7, 0, 30, tzinfo=SHANGHAI)  # Saturday, not Monday
    assert add_hours(friday_evening, 24).astimezone(SHANGHAI).date().isoformat() == "2026-03-07"


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2", 24 * 366 + 1])
def test_add_hours_refuses_what_is_not_a_whole_number_of_hours(bad):
    with pytest.raises(ValueError, match="小时数"):
        add_hours(parse_instant("2026-03-02T09:00:00+08:00"), bad)


def test_hours_left_is_negative_once_missed():
    due = parse_instant("2026-03-02T11:00:00+08:00")
    assert hours_left(due, parse_instant("2026-03-02T09:30:00+08:00")) == 1.5
    assert hours_left(due, parse_instant("2026-03-02T12:00:00+08:00")) == -1.0


def test_hours_helper_needs_no_working_day_calendar_and_records_the_rule():
    deadlines = Deadlines(calendar=None)
    h = deadlines.helpers()
    ctx = _ctx("2026-10-01T08:00:00+08:00")  # National Day: an urgent matter does not wait for it
    with command_scope(ctx):
        due = h["hours"](2)
        later = h["hours"](24, "2026-10-01T08:00:00+08:00")
    assert datetime.fromisoformat(due).astimezone(SHANGHAI) == datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI)
    assert datetime.fromisoformat(later).astimezone(SHANGHAI) == datetime(2026, 10, 2, 8, 0, tzinfo=SHANGHAI)
    assert [d["rule"] for d in ctx.deadlines] == [HOURS, HOURS] and ctx.deadlines[0]["n"] == 2
    assert "2小时" in ctx.deadlines[0]["explanation"] and "节假日照计" in ctx.deadlines[0]["explanation"]


def test_hours_before_marks_the_reminder_of_the_limit_it_reminds_of():
    deadlines = Deadlines(calendar=None)
    h = deadlines.helpers()
    ctx = _ctx("2026-03-02T09:00:00+08:00")
    task = SimpleNamespace(id="t-1", task_spec=SimpleNamespace(bpmn_id="Timer_remind"))
    token = evaluating.set(task)
    try:
        with command_scope(ctx):
            at = h["hours_before"](h["hours"](2), 1)
    finally:
        evaluating.reset(token)
    assert datetime.fromisoformat(at).astimezone(SHANGHAI) == datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    assert ctx.deadlines[0]["reminder"]["hours"] is True and ctx.deadlines[0]["reminder"]["lead"] == 1
    row = SimpleNamespace(explanation='{"reminder": {"lead": 1, "hours": true, "deadline_due_at": "x"}}')
    assert reminder_of(row)["hours"] is True
    due = parse_instant("2026-03-02T11:00:00+08:00")
    assert deadlines.reminder_instant(due, {"lead": 1, "hours": True}) == due - timedelta(hours=1)


def test_hours_before_refuses_a_negative_lead():
    h = Deadlines(calendar=None).helpers()
    with command_scope(_ctx("2026-03-02T09:00:00+08:00")), pytest.raises(ValueError, match="提前小时数"):
        h["hours_before"](h["hours"](2), -1)


def test_a_stopped_hours_limit_keeps_its_whole_hours_and_resumes_from_them():
    deadlines = Deadlines(calendar=None)
    start = parse_instant("2026-03-02T09:00:00+08:00")
    row = SimpleNamespace(rule=HOURS, due_at=add_hours(start, 24), explanation=None)
    assert deadlines.days_left(row, start + timedelta(hours=20, minutes=30)) == 4  # 3.5 hours: 4 whole hours
    resumed = deadlines.compute_deadline(HOURS, 4, start + timedelta(days=3))
    assert isinstance(resumed, HoursDeadline) and resumed.due_at == start + timedelta(days=3, hours=4)


@pytest.mark.parametrize("now, state", [("2026-03-02T09:30:00+08:00", "green"),
                                        ("2026-03-02T10:30:00+08:00", "yellow"),
                                        ("2026-03-02T11:00:00+08:00", "red")])
def test_the_view_of_an_hours_limit(now, state):
    start = parse_instant("2026-03-02T09:00:00+08:00")
    row = SimpleNamespace(rule=HOURS, days=2, status="pending", due_at=add_hours(start, 2), start_at=start,
                          element_id="Timer_first_report", label="首报时限", extension_days=0, explanation=None)
    [view] = Deadlines(calendar=None).views([row], parse_instant(now))
    assert view["state"] == state and view["day_type"] == "hours"
    assert view["hours_left"] == hours_left(row.due_at, parse_instant(now))


def test_the_hours_settings_are_typed_and_bounded():
    first = BY_NAME["limits.urgent_first_report_hours"]
    assert first.day_type == "hours" and not first.statutory  # art. 25 says only "in time": a local rule
    assert value_issue(first, 2) is None
    zh, _en = value_issue(first, 30)
    assert "1 到 24" in zh and "本地规定" in zh
    zh, _en = cell_issue(first, "2天")  # a day count in an hours column
    assert "小时" in zh
    assert "小时数" in cell_issue(first, "")[0]
