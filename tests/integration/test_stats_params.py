"""Query parameters of the statistics and four-lists API: a value the code does not know is a 422 that lists the
allowed values, never a 500 (`/api/stats/rankings?sort=x` was a KeyError) nor silently ignored. Both databases."""
from __future__ import annotations

import pytest

from services.stats_report import RANKED
from tests.support.web import api_sign_in, office_app


@pytest.fixture
def bureau(container):
    client, _ = api_sign_in(office_app(container), "bureau")
    return client


def refused(r, parameter: str, *allowed: str):
    assert r.status_code == 422, (r.status_code, r.data[:300])
    error = r.get_json()["error"]
    assert error["code"] == "invalid" and error["details"]["parameter"] == parameter
    assert set(allowed) <= set(error["details"]["allowed"])
    for value in allowed:
        assert value in error["message"]
    assert "请改正后重试" in error["message"]


def test_an_unknown_ranking_sort_is_a_422_listing_the_kpis(bureau):
    refused(bureau.get("/api/stats/rankings?sort=x"), "sort", *RANKED)
    refused(bureau.get("/api/stats/rankings?period=2026-03&sort=-1"), "sort", "overdue")
    for key in RANKED:
        assert bureau.get(f"/api/stats/rankings?period=2026-03&sort={key}").status_code == 200


def test_the_dashboard_refuses_an_unknown_sort_as_a_page(bureau):
    r = bureau.get("/stats?sort=x")
    assert r.status_code == 422 and "on_time_completion_rate" in r.get_data(as_text=True)


def test_live_and_which_take_only_their_values(bureau):
    refused(bureau.get("/api/stats?period=2026-03&live=yes"), "live", "0", "1")
    refused(bureau.get("/api/stats/rankings?live=2"), "live", "0", "1")
    refused(bureau.get("/api/stats/cases?period=2026-03&kpi=overdue&which=both"), "which", "numerator", "denominator")
    assert bureau.get("/api/stats?period=2026-03&live=1").status_code == 200
    assert bureau.get("/api/stats/cases?period=2026-03&kpi=overdue&which=denominator").status_code == 200


@pytest.mark.parametrize("query", ["from=2026-02-30&to=2026-03-31", "from=2026-03-01", "from=x&to=y",
                                   "from=2026-03-31&to=2026-03-01", "from=0001-01-01&to=0001-01-02",
                                   "period=2026-13", "period=x", "unit=nowhere", "level=province"])
def test_dates_periods_units_and_levels_are_checked(bureau, query):
    for path in ("/api/stats", "/api/stats/rankings"):
        r = bureau.get(f"{path}?{query}")
        if "level" in query and path == "/api/stats":
            continue  # level belongs to the rankings only
        assert r.status_code == 422, (path, query, r.data[:300])
        assert r.get_json()["error"]["message"]


def test_register_filters_are_checked(bureau):
    refused(bureau.get("/api/registers/resolution?status=x"), "status", "open", "closed")
    r = bureau.get("/api/registers/resolution?unit=nowhere")
    assert r.status_code == 422 and r.get_json()["error"]["details"]["parameter"] == "unit"
    assert bureau.get("/api/registers/resolution?status=open&unit=county_a").status_code == 200
