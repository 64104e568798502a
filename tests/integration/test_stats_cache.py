"""The statistics kept between requests (services/stats_cache.py, issue #21) answer exactly what a computation from
scratch answers: every case's facts rebuilt from all rows with the calendar read per case, as before the cache,
at several moments while the cases change, for every scope, and as the clock passes due dates."""
from __future__ import annotations

from datetime import timedelta

from services.orgchart import default_chart
from services.stats_facts import build_facts
from services.stats_report import level_of, report
from services.stats_requests import compute_report, kpi_settings, scope_units
from services.stats_settings import parse_period
from services.store import stats as stats_store

from .test_stats_kpis import build_scenario

SCOPES = (None, "county_a", "county_b", "city")


def from_scratch(c, period: str, unit: str | None) -> dict:
    settings = kpi_settings(c)

    def acceptance_due(start):  # as before the cache: through the runtime, one calendar read per case
        rule, days = settings.unsigned_acceptance
        return c.runtime.compute_deadline(rule, days, start).due_at
    with c.session_factory() as s:
        rows = stats_store.load_rows(s, settings.process_keys, settings.watched_elements())
    facts = build_facts(*rows, settings, level_of(default_chart()), acceptance_due)
    units, scope = scope_units(unit, None)
    result = report(facts, parse_period(period, settings), c.clock.now(), settings, units, scope)
    result["frozen"] = None
    return result


def assert_same(c, period: str = "2026-03") -> int:
    compared = 0
    for unit in SCOPES:
        kept = compute_report(c, period=period, unit=unit)
        assert kept == from_scratch(c, period, unit), (period, unit)
        compared += len(kept["kpis"])
    return compared


def test_kept_facts_and_reports_answer_as_a_computation_from_scratch(container):
    c = container
    seen = {}

    def midway(b):  # the facts are kept from here on and brought up to date as the cases change
        seen["midway"] = assert_same(c)
        seen["midway_again"] = assert_same(c)  # answered from the kept report: the same again

    b = build_scenario(c, freeze=midway)
    assert seen["midway"] > 0 and seen["midway"] == seen["midway_again"]
    assert assert_same(c) > 0  # after D's and E's acceptance, B's and A's reviews: rebuilt from the journal
    assert assert_same(c, "2026-04") > 0
    start = c.clock.now()
    for days in (1, 3, 10, 30):  # due dates pass: a kept report is not answered past its horizon
        c.clock.set(start + timedelta(days=days))
        assert_same(c)
        assert_same(c, "2026-04")
    c.clock.set(start - timedelta(days=40))  # a clock set back (tests, a corrected clock): computed again
    assert_same(c)
    assert b.ids


def test_a_kept_report_changes_when_a_case_changes(container):
    """Registering one more case after the figures were kept counts it at once."""
    c = container
    b = build_scenario(c)
    before = compute_report(c, period="2026-04")
    c.clock.set(c.clock.now() + timedelta(hours=1))
    b.register("K", "来信")
    after = compute_report(c, period="2026-04")
    received = {k["key"]: k for k in after["kpis"]}["received.来信"]
    assert b.ids["K"] in received["case_ids"]
    assert b.ids["K"] not in {k["key"]: k for k in before["kpis"]}["received.来信"]["case_ids"]
    assert after == from_scratch(c, "2026-04", None)
