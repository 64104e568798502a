"""一次性化解率, 重复信访率 (every recognised repeat), 集体访批次/人次 and the suggestions (人民建议征集), each on a
small fixed set of cases built the way the store gives them (case rows, journal events, work items, repeat links),
with the cases that must count and those that must not."""
from __future__ import annotations

import json
from types import SimpleNamespace

from services.orgchart import default_chart
from services.stats import compute
from services.stats_facts import build_facts
from services.stats_report import annual, cases_behind
from services.stats_settings import KpiSettings, parse_period
from tests.unit.test_stats import bj

SETTINGS = KpiSettings.load()
MARCH = parse_period("2026-03", SETTINGS)
NOW = bj("2026-04-10T09:00:00")


def _case(i, received, process_key="petition_case"):
    return SimpleNamespace(id=i, case_no=f"XF{i}", created_at=bj(received), status="waiting",
                           summary_json=json.dumps({"title": f"事项{i}", "channel": "来信"}), process_key=process_key)


def _ev(case_id, seq, at, type_, element_id=None, **data):
    return SimpleNamespace(case_id=case_id, seq=seq, at=bj(at), type=type_, element_id=element_id,
                           data=json.dumps(data, ensure_ascii=False))


def _item(i, case_id, element_id, created, due, done, unit="county_a_hrss"):
    return SimpleNamespace(id=i, case_id=case_id, element_id=element_id, unit=unit, state="completed",
                           created_at=bj(created), due_at=bj(due), completed_at=bj(done))


def _started(case_id, at, **data):
    return _ev(case_id, 1, at, "case.started", data={"channel": "来访", "location": "county_a", **data})


def _triage(case_id, at, route):
    return _ev(case_id, 2, at, "task.completed", "Task_triage", changes={"route": [None, route]})


def _signoff(case_id, seq, at):
    return _ev(case_id, seq, at, "task.completed", "Task_signoff")


def _link(repeat, original, at):
    return SimpleNamespace(repeat_case_id=repeat, original_case_id=original, linked_at=bj(at))


def _conclusion(case_id, at, adopted, rewarded=False):
    return _ev(case_id, 3, at, "service.called", "Task_conclude", handler="conclude_suggestion",
               result={"adopted": adopted, "rewarded": rewarded})


def facts():
    """1 closed at once; 2 redone; 3 reviewed; 4 petitioned again (5 is its repeat, recognised at registration: a
    link, no triage route of its own in the journal); 6 a repeat refused at triage, its original (closed, outside
    this system) unknown; 7 settled on the spot; 8 closed in February; 9 escalated; 10-12 visits (two group
    visits); 21-24 suggestions."""
    cases = [_case(i, "2026-02-02T09:00:00" if i in (8,) else "2026-03-02T09:00:00") for i in range(1, 13)]
    cases += [_case(i, "2026-03-03T09:00:00", "suggestion") for i in (21, 22, 23, 24)]
    events = []
    for i in (1, 2, 3, 4, 9):
        events += [_started(i, "2026-03-02T09:00:00"), _triage(i, "2026-03-02T10:00:00", "交办转送"),
                   _signoff(i, 5, "2026-03-20T09:00:00")]
    events += [_ev(2, 3, "2026-03-10T09:00:00", "task.completed", "Task_signoff"),
               _ev(2, 4, "2026-03-10T09:00:00", "task.completed", "Script_redo")]
    events += [_started(5, "2026-03-25T09:00:00"), _triage(5, "2026-03-25T09:00:00", "交办转送")]
    events += [_started(6, "2026-03-26T09:00:00"), _triage(6, "2026-03-26T10:00:00", "重复信访")]
    events += [_started(7, "2026-03-05T09:00:00"), _triage(7, "2026-03-05T10:00:00", "当场化解")]
    events += [_started(8, "2026-02-02T09:00:00"), _triage(8, "2026-02-02T10:00:00", "交办转送"),
               _signoff(8, 5, "2026-02-20T09:00:00")]
    events += [_started(10, "2026-03-06T09:00:00", group_visit=True, visitors_count=12),
               _started(11, "2026-03-07T09:00:00", group_visit=True,
                        petitioners=[{"name": "甲"}, {"name": "乙"}, {"name": "丙"}, {"name": "丁"}, {"name": "戊"}]),
               _started(12, "2026-03-08T09:00:00", group_visit=False, visitors_count=8)]
    events += [_started(21, "2026-03-03T09:00:00"), _conclusion(21, "2026-03-12T09:00:00", True, True),
               _started(22, "2026-03-03T09:00:00"), _conclusion(22, "2026-03-13T09:00:00", False, True),
               _started(23, "2026-03-03T09:00:00"), _conclusion(23, "2026-03-14T09:00:00", True),
               _started(24, "2026-03-03T09:00:00")]
    items = [_item(1, 3, "Task_review", "2026-03-25T09:00:00", "2026-04-24T00:00:00", "2026-03-30T09:00:00"),
             _item(2, 9, "Task_e2", "2026-03-12T09:00:00", "2026-03-17T00:00:00", "2026-03-13T09:00:00",
                   unit="county_a_office")]
    links = [_link(5, 4, "2026-03-25T09:00:00"), _link(6, None, "2026-03-26T10:00:00")]
    return build_facts(cases, items, sorted(events, key=lambda e: (e.case_id, e.seq)), SETTINGS,
                       repeat_links=links)


def kpis(period=MARCH):
    return {k.key: k for k in compute(facts(), period, NOW, SETTINGS)}


def test_first_time_resolution_counts_only_what_was_settled_at_its_first_handling():
    k = kpis()["first_time_resolution"]
    # concluded in March: signed off (1, 2, 3, 4, 9) or settled on the spot (7); 8 closed in February
    assert k.denominator_case_ids == [1, 2, 3, 4, 7, 9]
    # 2 was sent back for redo, 3 went to review, 4 was petitioned again (5), 9 went to the joint meeting
    assert k.case_ids == [1, 7] and (k.numerator, k.denominator) == (2, 6) and k.value == 33.33
    assert kpis(parse_period("2026-02", SETTINGS))["first_time_resolution"].case_ids == [8]


def test_every_recognised_repeat_counts_however_it_was_recognised():
    k = kpis()
    # 5: linked at registration (its own triage says 交办转送); 6: triage route 重复信访 (original unknown)
    assert k["repeats"].case_ids == [5, 6]
    assert k["repeat_rate"].case_ids == [5, 6]
    received = list(range(1, 13))
    received.remove(8)
    assert k["repeat_rate"].denominator_case_ids == received  # suggestions (21-24) are no petitions
    assert (k["repeat_rate"].numerator, k["repeat_rate"].denominator) == (2, 11)


def test_group_visits_in_batches_and_headcount():
    k = kpis()
    assert k["group_visits"].case_ids == [10, 11] and k["group_visits"].numerator == 2  # 12 is no group visit
    assert k["group_visitors"].numerator == 12 + 5 and k["group_visitors"].case_ids == [10, 11]
    assert k["group_visits"].as_dict()["unit"] == "批次" and k["group_visitors"].as_dict()["unit"] == "人次"


def test_suggestions_are_counted_apart_and_never_in_the_petition_figures():
    k = kpis()
    assert k["suggestions.received"].case_ids == [21, 22, 23, 24]
    assert k["suggestions.concluded"].case_ids == [21, 22, 23]
    adopted = k["suggestions.adopted"]
    assert (adopted.case_ids, adopted.denominator_case_ids) == ([21, 23], [21, 22, 23])
    assert k["suggestions.rewarded"].case_ids == [21]  # 22 was not adopted: no reward counts
    for key in ("received", "registered", "first_time_resolution", "repeat_rate", "participation_rate"):
        assert not {21, 22, 23, 24} & set(k[key].case_ids + k[key].denominator_case_ids), key
    assert k["received.来访"].numerator == 11


def test_drill_down_lists_the_cases_behind_each_new_number():
    all_facts = facts()
    k = {x.key: x.as_dict() for x in compute(all_facts, MARCH, NOW, SETTINGS)}
    assert [c["id"] for c in cases_behind(all_facts, k["first_time_resolution"])] == [1, 7]
    assert [c["id"] for c in cases_behind(all_facts, k["first_time_resolution"], "denominator")] == [1, 2, 3, 4, 7, 9]
    assert [c["case_no"] for c in cases_behind(all_facts, k["repeats"])] == ["XF5", "XF6"]
    assert [c["id"] for c in cases_behind(all_facts, k["suggestions.rewarded"])] == [21]


def test_the_annual_report_has_the_figures_and_the_suggestions():
    year = parse_period("2026", SETTINGS)
    data = annual(facts(), [], year, default_chart(), None, SETTINGS, NOW)
    figures = {f["key"]: f for f in data["figures"]}
    assert figures["first_time_resolution"]["case_ids"] == [1, 7, 8]
    assert (figures["group_visits"]["numerator"], figures["group_visitors"]["numerator"]) == (2, 17)
    assert figures["repeat_rate"]["case_ids"] == [5, 6]
    # the figures of the rest of the regulation are in the annual report too (each defined in services/stats.py)
    assert {"routed_out", "skip_level", "urgent_matters", "urgent_first_on_time"} <= set(figures)
    assert data["total"] == 12  # petitions only
    s = data["suggestions"]
    assert (s["received"], s["adopted"], s["rewarded"]) == (4, 2, 1)
    assert s["adopted_case_ids"] == [21, 23] and s["rewarded_case_ids"] == [21]
