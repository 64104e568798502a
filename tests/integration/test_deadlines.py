"""Deadlines as the office counts them: attributed to their timers, explained, green/yellow/red, paused and
resumed, extended at most 30 days, and recomputed when a year's official arrangement is imported."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine.clock import SHANGHAI
from engine.definitions import collect_files
from engine.runtime import Conflict, Invalid
from engine.worker import Worker

ROOT = Path(__file__).resolve().parents[2]
DATA = {"category": "劳动社保", "location": "county_a"}


def bj(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def due_date(d: dict) -> str:
    return (d["due_at"] - timedelta(microseconds=1)).astimezone(SHANGHAI).date().isoformat()


@pytest.fixture
def rt(container):
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    return container.runtime


def test_deadline_is_explained_and_turns_yellow_then_red(rt, clock):
    case = rt.start("simple_case", DATA, "registrar")  # Mon 2026-03-02 09:00
    [d] = case.deadlines
    assert (d["key"], d["day_type"], d["days"], due_date(d)) == ("Timer_sign_limit", "workdays", 5, "2026-03-09")
    assert d["state"] == "green" and d["workdays_left"] == 5 and not d["provisional"]
    assert "5个工作日" in d["explanation"]
    clock.set(bj("2026-03-05T10:00:00"))  # Thu: Fri 6 and Mon 9 left
    [d] = rt.get_case(case.id).deadlines
    assert (d["state"], d["workdays_left"]) == ("yellow", 2)
    clock.set(bj("2026-03-10T00:00:01"))
    [d] = rt.get_case(case.id).deadlines
    assert d["state"] == "red"


def test_stop_the_clock_and_resume_with_the_days_left(rt, clock, container):
    case = rt.start("simple_case", DATA, "registrar")
    clock.set(bj("2026-03-04T10:00:00"))  # Wed: Thu 5, Fri 6, Mon 9 left
    with pytest.raises(Invalid):
        rt.pause_deadlines(case.id, "county", "")
    paused = rt.pause_deadlines(case.id, "county", "等待信访人补充材料")
    assert paused.paused and paused.deadlines[0]["state"] == "paused"
    assert paused.deadlines[0]["workdays_left"] == 3
    with pytest.raises(Conflict):
        rt.pause_deadlines(case.id, "county", "again")
    clock.set(bj("2026-03-16T09:00:00"))  # long past the old due date: nothing may fire while paused
    assert Worker(rt, container.session_factory, clock).run_once()["cases_fired"] == 0
    resumed = rt.resume_deadlines(case.id, "county", "材料已补齐")
    [d] = resumed.deadlines
    assert due_date(d) == "2026-03-19" and (d["state"], d["workdays_left"]) == ("yellow", 3)  # WD3 from 03-16
    assert resumed.tasks[0].due_at == d["due_at"]  # the work item follows its deadline
    types = [e["type"] for e in rt.history(case.id)]
    assert "deadlines.paused" in types and "deadlines.resumed" in types
    paused_event = [e for e in rt.history(case.id) if e["type"] == "deadlines.paused"][0]
    assert paused_event["actor"] == "county" and paused_event["data"]["reason"] == "等待信访人补充材料"
    clock.set(bj("2026-03-20T08:00:00"))
    assert Worker(rt, container.session_factory, clock).run_once()["cases_fired"] == 1


def test_extension_moves_the_handling_deadline_at_most_30_days(rt, clock):
    case = rt.start("simple_case", DATA, "registrar")
    case = rt.complete(case.tasks[0].id, {"signed": True}, "handler")
    [d] = case.deadlines
    # CAL(60) from Mon 03-02: nominally Fri 05-01, Labour Day; the break runs to 05-05, so Wed 05-06
    assert (d["key"], due_date(d)) == ("Timer_reply_limit", "2026-05-06")
    extended = rt.extend_deadline(case.id, "Timer_reply_limit", 30, "leader", "案情复杂，经负责人批准")
    [d] = extended.deadlines
    assert due_date(d) == "2026-06-05" and d["extension_days"] == 30
    with pytest.raises(Invalid) as err:
        rt.extend_deadline(case.id, "Timer_reply_limit", 1, "leader", "再延一天")
    assert "30" in err.value.message
    [event] = [e for e in rt.history(case.id) if e["type"] == "deadline.extended"]
    assert event["data"]["old_due_at"].startswith("2026-05-06") and event["actor"] == "leader"


def test_importing_a_year_recomputes_provisional_deadlines(rt, clock):
    clock.set(bj("2027-01-25T09:00:00"))  # 2027 is not published: counted provisionally
    case = rt.start("simple_case", DATA, "registrar")
    [d] = case.deadlines
    assert d["provisional"] and due_date(d) == "2027-02-01"
    outcome = rt.import_calendar(ROOT / "tests" / "fixtures" / "calendar" / "2027.yaml", "calendar-admin")
    assert outcome["recomputed"] == {"cases": 1, "moved": 1, "unchanged": 0}
    [d] = rt.get_case(case.id).deadlines
    # the (sample) notice makes Sun 01-31 a working day, so WD5 ends a day earlier
    assert not d["provisional"] and due_date(d) == "2027-01-31"
    [event] = [e for e in rt.history(case.id) if e["type"] == "deadlines.recomputed"]
    change = event["data"]["deadlines"][0]
    assert change["old_due_at"].startswith("2027-02-01") and change["was_provisional"] is True
    assert change["provisional"] is False


def test_yellow_at_agrees_with_the_alert_rule(rt, clock):
    """Reminder timers written as yellow_at(due, 3) fire exactly when the task list turns the deadline yellow."""
    due = bj("2026-03-10T00:00:00")  # due Mon 03-09 at 24:00
    when = rt.yellow_instant(due.astimezone(SHANGHAI), 3)
    assert when == bj("2026-03-04T00:00:00")  # from Wed: Thu, Fri, Mon left
    assert rt.alert(due, when - timedelta(seconds=1)) == ("green", 4)
    assert rt.alert(due, when) == ("yellow", 3)
    # across the National Day break: due Thu 10-08 24:00; 10-01..10-07 are holidays, Sun 09-27 is not a make-up day
    due = bj("2026-10-09T00:00:00")
    when = rt.yellow_instant(due.astimezone(SHANGHAI), 3)
    assert rt.alert(due, when)[0] == "yellow" and rt.alert(due, when - timedelta(seconds=1))[0] == "green"
