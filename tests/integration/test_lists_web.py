"""The four lists as pages: one tab per list, filters by unit (with subunits), leader and status, visibility by
unit, and a stabilisation list that holds responsibilities, never the petitioner."""
from __future__ import annotations

import re

import pytest

from .test_stats_kpis import PETITIONER, build_scenario
from .test_stats_web import Client


@pytest.fixture
def office(container):
    from web.app import create_app

    app = create_app(container)
    return app, build_scenario(container)


def linked_cases(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'href="/cases/(\d+)"', html)}


def test_each_list_with_its_filters(office):
    app, b = office
    bureau = Client(app, "bureau")
    page = bureau.get("/lists?register=leader_case&unit=county_a&leader=赵副县长")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert linked_cases(html) == {b.ids["H"], b.ids["I"]} and "领导包案责任清单" in html
    closed = bureau.get("/lists?register=leader_case&status=closed").get_data(as_text=True)
    assert linked_cases(closed) == {b.ids["H"]}  # H was resolved under 13710 (销号)
    assert linked_cases(bureau.get("/lists?register=leader_case&leader=别人").get_data(as_text=True)) == set()
    resolution = bureau.get("/lists?register=resolution&unit=county_b").get_data(as_text=True)
    assert linked_cases(resolution) == {b.ids["E"], b.ids["J"]}
    assert bureau.get("/lists?register=whereabouts").status_code == 422


def test_stabilisation_list_records_responsibilities_only(office):
    app, b = office
    html = Client(app, "bureau").get("/lists?register=stabilisation").get_data(as_text=True)
    assert linked_cases(html) == {b.ids["H"], b.ids["I"]}
    assert "赵副县长" in html
    for personal in (PETITIONER["name"], PETITIONER["phone"], PETITIONER["phone"][-4:]):
        assert personal not in html


def test_a_county_sees_only_its_own_rows(office):
    app, b = office
    east = Client(app, "county").get("/lists?register=resolution").get_data(as_text=True)  # 东城县 and below
    assert linked_cases(east) == {b.ids[n] for n in "ABCDHI"}
    assert Client(app, "handler").get("/lists").status_code == 403
