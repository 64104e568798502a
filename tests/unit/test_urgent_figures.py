"""The figures of urgent matters (重大紧急事项): how many were flagged in the period, the first reports made within
their hours limit and late, the median hours to the first report, the written follow-ups on time; read from the
register rows services/urgent.py writes, without a database."""
from __future__ import annotations

from datetime import datetime

from engine.clock import SHANGHAI
from services.stats import compute
from services.stats_facts import CaseFacts, urgent_report
from services.stats_settings import KpiSettings, parse_period

SETTINGS = KpiSettings.load()


def bj(text: str) -> str:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).isoformat()


def row(at, first_due, first_at=None, written_due=None, written_at=None, kind="群体性"):
    return {"kind": kind, "at": bj(at), "office": "county_a_office", "first_due": bj(first_due),
            "first_report_at": bj(first_at) if first_at else None,
            "written_due": bj(written_due or first_due), "written_report_at": bj(written_at) if written_at else None}


def facts(case_id, *rows):
    f = CaseFacts(case_id, f"X{case_id}", "事项", datetime.fromisoformat(bj("2026-03-01T09:00:00")))
    f.urgent = [urgent_report(r) for r in rows]
    return f


def figures(all_facts, period="2026-03", now="2026-04-01T00:00:00"):
    out = compute(all_facts, parse_period(period, SETTINGS), datetime.fromisoformat(bj(now)), SETTINGS)
    return {k.key: k for k in out if k.group == "urgent"}


def test_on_time_late_and_the_median_hours_of_the_first_reports():
    data = [
        facts(1, row("2026-03-02T10:00:00", "2026-03-02T12:00:00", "2026-03-02T11:30:00",  # 1.5 h, on time
                     "2026-03-03T10:00:00", "2026-03-02T20:00:00")),
        facts(2, row("2026-03-05T08:00:00", "2026-03-05T10:00:00", "2026-03-05T13:00:00",  # 5 h, late
                     "2026-03-06T08:00:00", "2026-03-07T08:00:00")),
        facts(3, row("2026-03-09T22:00:00", "2026-03-10T00:00:00", "2026-03-09T23:00:00",  # 1 h, on time
                     "2026-03-10T22:00:00")),  # written follow-up never made: late once due
    ]
    k = figures(data)
    assert k["urgent_matters"].numerator == 3 and k["urgent_matters"].case_ids == [1, 2, 3]
    assert (k["urgent_first_on_time"].numerator, k["urgent_first_on_time"].denominator) == (2, 3)
    assert k["urgent_first_late"].numerator == 1 and k["urgent_first_late"].case_ids == [2]
    assert k["urgent_first_median_hours"].value == 1.5 and k["urgent_first_median_hours"].as_dict()["unit"] == "小时"
    assert (k["urgent_written_on_time"].numerator, k["urgent_written_on_time"].denominator) == (1, 3)


def test_a_first_report_not_yet_due_counts_neither_way_and_no_report_has_no_median():
    data = [facts(1, row("2026-03-31T23:00:00", "2026-04-01T01:00:00"))]
    k = figures(data, now="2026-03-31T23:30:00")
    assert k["urgent_matters"].numerator == 1
    assert k["urgent_first_on_time"].denominator == 0 and k["urgent_first_on_time"].value is None
    assert k["urgent_first_late"].numerator == 0
    assert k["urgent_first_median_hours"].numerator is None and k["urgent_first_median_hours"].value is None


def test_a_missed_first_report_is_late_once_its_hours_have_passed():
    data = [facts(4, row("2026-03-02T10:00:00", "2026-03-02T12:00:00"))]
    k = figures(data, now="2026-03-02T12:30:00")
    assert k["urgent_first_late"].case_ids == [4] and k["urgent_first_on_time"].value == 0.0


def test_a_row_without_its_times_is_left_out():
    assert urgent_report({"kind": "极端"}) is None
