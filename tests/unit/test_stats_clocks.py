"""及时受理率, 按期办结率 and the redo on a small fixed data set, without a database: acceptance is measured against
the acceptance limit counted from dispatch (an unsigned case owes it all the same), handling against the handling
limit with its approved extension, and a redo (退回重办) runs on its own clock: it neither replaces the case's
handling limit nor turns a late case into an on-time one."""
from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace

from engine.clock import SHANGHAI
from services.stats import compute
from services.stats_facts import build_facts
from services.stats_settings import KpiSettings, parse_period

SETTINGS = KpiSettings.load()
NOW = datetime(2026, 7, 1, 9, tzinfo=SHANGHAI)


def bj(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def case(i):
    return SimpleNamespace(id=i, case_no=f"XF{i}", created_at=bj("2026-03-02T09:00:00"), status="waiting",
                           summary_json=json.dumps({"title": f"事项{i}", "channel": "来信"}))


def ev(case_id, seq, at, type_, element_id=None, **data):
    return SimpleNamespace(case_id=case_id, seq=seq, at=bj(at), type=type_, element_id=element_id,
                           data=json.dumps(data))


def item(i, case_id, element_id, created, due, done=None, state="completed"):
    return SimpleNamespace(id=i, case_id=case_id, element_id=element_id, unit="county_a_hrss", state=state,
                           created_at=bj(created), due_at=bj(due) if due else None,
                           completed_at=bj(done) if done else None)


def dispatched(case_id, seq=2):
    return [ev(case_id, 1, "2026-03-02T09:00:00", "case.started", data={"channel": "来信", "location": "county_a"}),
            ev(case_id, seq, "2026-03-02T09:00:00", "service.called", "Task_dispatch", handler="dispatch_case",
               result={"unit": "county_a_hrss", "dispatch_type": "交办"})]


def data_set():
    cases = [case(1), case(2), case(3)]
    events = dispatched(1) + dispatched(2) + dispatched(3) + [
        # case 1: extended by 30 days, signed off inside the extended limit
        ev(1, 3, "2026-06-01T10:00:00", "task.completed", "Task_serve_reply"),
        ev(1, 4, "2026-06-01T11:00:00", "task.completed", "Task_signoff"),
        # case 2: sent back on 04-25; the redo (due 05-10) is answered late, signed off 05-13
        ev(2, 3, "2026-04-24T10:00:00", "task.completed", "Task_serve_reply"),
        ev(2, 4, "2026-04-25T10:00:00", "task.completed", "Task_signoff"),
        ev(2, 5, "2026-04-25T10:00:00", "task.completed", "Script_redo"),
        ev(2, 6, "2026-05-12T10:00:00", "task.completed", "Task_serve_reply"),
        ev(2, 7, "2026-05-13T10:00:00", "task.completed", "Task_signoff"),
    ]
    items = [
        # acceptance: 15 days from dispatch (03-02) = 03-17, stored as 03-18 00:00
        item(1, 1, "Task_accept", "2026-03-03T09:00:00", "2026-03-18T00:00:00", "2026-03-10T09:00:00"),
        item(2, 2, "Task_accept", "2026-03-03T09:00:00", "2026-03-18T00:00:00", "2026-03-17T23:59:00"),
        # handling of case 1: 60 days from acceptance (03-10) = 05-09; the extension moves it to 06-08
        item(3, 1, "Task_handle", "2026-03-10T09:00:00", "2026-05-10T00:00:00", "2026-04-20T09:00:00"),
        item(4, 1, "Task_handle", "2026-04-20T09:00:00", "2026-06-09T00:00:00", "2026-06-01T10:00:00"),
        # handling of case 2: due 04-30, replied 04-24; the redo of 04-25 has its own limit 05-10
        item(5, 2, "Task_handle", "2026-03-17T23:59:00", "2026-05-01T00:00:00", "2026-04-24T10:00:00"),
        item(6, 2, "Task_handle", "2026-04-25T10:00:00", "2026-05-11T00:00:00", "2026-05-12T10:00:00"),
    ]
    # case 3 was dispatched and never signed: it owes the acceptance decision 15 days from dispatch
    return build_facts(cases, items, events, SETTINGS,
                       acceptance_due=lambda at: bj("2026-03-18T00:00:00") if at == bj("2026-03-02T09:00:00") else None)


def kpis(period):
    return {k.key: k for k in compute(data_set(), parse_period(period, SETTINGS), NOW, SETTINGS)}


def fraction(k):
    return k.numerator, k.denominator


def test_timely_acceptance_counts_the_limit_from_dispatch_and_the_unsigned_case():
    march = kpis("2026-03")
    assert fraction(march["timely_acceptance"]) == (2, 3)  # 03-17 23:59 is still on time
    assert march["timely_acceptance"].case_ids == [1, 2] and march["timely_acceptance"].denominator_case_ids == [1, 2, 3]


def test_handling_is_measured_against_the_extended_limit_not_the_redo_clock():
    facts = {f.id: f for f in data_set()}
    assert facts[1].handling_due == bj("2026-06-09T00:00:00")  # 60 days + 30 approved
    assert facts[2].handling_due == bj("2026-05-01T00:00:00")  # the redo's 05-10 does not replace it
    assert facts[2].closed_at == bj("2026-05-13T10:00:00")  # the sent-back sign-off is no closure
    june, april, may = kpis("2026-06"), kpis("2026-04"), kpis("2026-05")
    assert fraction(june["on_time_completion_rate"]) == (1, 1) and june["on_time_completion"].numerator == 1
    assert fraction(april["on_time_completion_rate"]) == (0, 1)  # case 2: due 04-30, closed 05-13
    assert april["on_time_completion_rate"].denominator_case_ids == [2]
    assert fraction(may["on_time_completion_rate"]) == (0, 1)  # closed in May, still late


def test_a_redo_is_counted_on_its_own_clock():
    april, may = kpis("2026-04"), kpis("2026-05")
    assert april["returned_for_redo"].numerator == 1 and april["returned_for_redo"].case_ids == [2]
    assert may["returned_for_redo"].numerator == 0
    assert fraction(may["redo_on_time"]) == (0, 1)  # the redo was due 05-10 and answered 05-12
    assert fraction(april["redo_on_time"]) == (0, 0)


def test_a_case_closed_after_its_handling_limit_is_overdue_though_its_redo_was_on_time():
    facts = {f.id: f for f in data_set()}
    assert all(d.element_id != "Task_handle" or d.created_at < bj("2026-04-25T10:00:00")
               for d in facts[2].statutory)  # the redo's own clock is no statutory limit
    may = kpis("2026-05")
    assert 2 in may["overdue"].case_ids  # handling due 04-30, still not closed in May
    assert 1 not in kpis("2026-06")["overdue"].case_ids  # closed inside its extended limit
