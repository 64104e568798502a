"""Issue #18, point 5: a group visit (集体访) shows a badge with its headcount in the task list, the case search
list and the case page, and the statistics count group visits as batches (批次) and persons (人次). A small fixed
data set, March 2026, worked out by hand:

| case | registered | group visit | headcount | counts in March |
|---|---|---|---|---|
| P | 03-02 | yes, 来访人数 30 | 30 | 1 batch, 30 persons |
| Q | 03-05 | yes, 来访人数 not filled, 3 petitioners named | 3 | 1 batch, 3 persons |
| R | 03-05 | no (a single visitor) | — | neither |
| S | 02-20 | yes, 来访人数 8 | 8 | neither (February) |

So March: 2 batches, 33 persons; February: 1 batch, 8 persons. Both databases.
"""
from __future__ import annotations

import pytest

from tests.integration.test_stats_kpis import Builder, kpis_of, prepare
from tests.support.web import page_sign_in
from web.app import create_app

PEOPLE = [{"name": f"信访人{i}", "phone": f"1380000{i:04d}"} for i in range(3)]


def register(b: Builder, name: str, when: str, **extra) -> None:
    b.when(when)
    data = {"channel": "来访", "title": f"集体访测试{name}", "request": "要求依法处理", "facts": "测试",
            "category": "劳动社保", "location": "county_a", "registering_unit": "city_bureau",
            "petitioners": [dict(p) for p in PEOPLE], **extra}
    view = b.rt.start("petition_case", data, actor="registrar")
    b.ids[name], b.case_nos[name] = view.id, view.data["case_no"]


@pytest.fixture
def cases(container):
    b = prepare(container)
    register(b, "S", "2026-02-20T09:00:00", group_visit=True, visitors_count=8)
    register(b, "P", "2026-03-02T09:00:00", group_visit=True, visitors_count=30)
    register(b, "Q", "2026-03-05T09:00:00", group_visit=True)
    register(b, "R", "2026-03-05T10:00:00", group_visit=False)
    b.when("2026-03-20T09:00:00")
    return b


def test_group_visits_count_as_batches_and_persons(container, cases):
    march = kpis_of(container, "2026-03")
    assert (march["group_visits"]["numerator"], march["group_visits"]["unit"]) == (2, "批次")
    assert march["group_visits"]["case_ids"] == sorted([cases.ids["P"], cases.ids["Q"]])
    assert (march["group_visitors"]["numerator"], march["group_visitors"]["unit"]) == (33, "人次")
    assert march["received"]["numerator"] == 3  # R is received, not a group visit
    february = kpis_of(container, "2026-02")
    assert (february["group_visits"]["numerator"], february["group_visitors"]["numerator"]) == (1, 8)


def test_the_badge_shows_the_headcount_in_lists_and_on_the_case_page(container, cases):
    app = create_app(container)
    registrar = page_sign_in(app, "registrar")
    tasks = registrar.get("/tasks").get_data(as_text=True)
    assert 'data-group-visit="30"' in tasks and "集体访 30人" in tasks and 'data-group-visit="3"' in tasks
    search = registrar.get("/cases?q=集体访测试").get_data(as_text=True)
    assert 'data-group-visit="30"' in search and search.count("data-group-visit=") == 3  # P, Q, S; not R
    page = registrar.get(f"/cases/{cases.ids['P']}").get_data(as_text=True)
    assert "集体访 30人" in page
    single = registrar.get(f"/cases/{cases.ids['R']}").get_data(as_text=True)
    assert "data-group-visit" not in single
    stats = page_sign_in(app, "bureau").get("/stats?period=2026-03").get_data(as_text=True)
    assert 'data-kpi="group_visits"' in stats and 'data-kpi="group_visitors"' in stats
