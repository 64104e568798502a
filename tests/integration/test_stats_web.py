"""The statistics over HTTP: /api/stats and its drill-down, rankings, annual data, visibility by unit, frozen
snapshots (read back identically after the cases change), the dashboard and the Excel exports."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from .test_stats_kpis import build_scenario, ids


class Client:
    def __init__(self, app, username):
        self.http = app.test_client()
        r = self.http.post("/api/session", json={"username": username, "password": "demo"})
        assert r.status_code == 201, r.get_json()
        self.token = r.get_json()["csrf_token"]

    def get(self, path):
        return self.http.get(path)

    def post(self, path, json):
        return self.http.post(path, json=json, headers={"X-CSRF-Token": self.token})


@pytest.fixture
def office(container):
    from web.app import create_app

    frozen = {}

    def freeze(b):  # on 2026-03-16, before D's and E's acceptance decisions (due 03-17)
        bureau = Client(app, "bureau")
        r = bureau.post("/api/stats/snapshots", {"period": "2026-03"})
        assert r.status_code == 201, r.get_json()
        frozen["answer"] = r.get_json()
        frozen["live_then"] = bureau.get("/api/stats?period=2026-03&live=1").get_json()

    app = create_app(container)
    b = build_scenario(container, freeze=freeze)
    return app, b, frozen


def kpi(answer, key):
    return next(k for k in answer["kpis"] if k["key"] == key)


def test_api_stats_gives_numerators_and_denominators(office):
    app, b, _ = office
    r = Client(app, "bureau").get("/api/stats?from=2026-03-01&to=2026-03-31")
    assert r.status_code == 200
    answer = r.get_json()
    assert answer["period"] == {"label": "2026-03-01~2026-03-31", "from": "2026-03-01", "to": "2026-03-31"}
    k = kpi(answer, "timely_acceptance")
    assert (k["numerator"], k["denominator"], k["value"]) == (3, 4, 75.0)
    assert k["case_ids"] == ids(b, "D", "H", "I") and k["definition"]
    assert kpi(answer, "received.短信")["numerator"] == 2


def test_a_kept_report_is_encoded_once_and_answered_with_the_time_of_asking(office, container):
    """/api/stats from a kept report answers its encoding again (web/stats/pages.py `_encoded_report`): the same
    figures and case ids as a report computed afresh, with `computed_at` the instant of each request."""
    from datetime import timedelta

    from services.stats_requests import compute_report

    app, _b, _ = office
    bureau = Client(app, "bureau")
    first = bureau.get("/api/stats?period=2026-03&live=1").get_json()
    encoded = dict(container.extras["stats_encoded"])
    fresh = compute_report(container, period="2026-03", unit="city", live=True)
    assert {k: v for k, v in first.items() if k != "computed_at"} == \
        {k: v for k, v in fresh.items() if k != "computed_at"}
    assert first["computed_at"] == container.clock.now().isoformat()
    container.clock.advance(timedelta(seconds=5))  # no figure changes within seconds: the kept report answers
    again = bureau.get("/api/stats?period=2026-03&live=1").get_json()
    assert container.extras["stats_encoded"] == encoded  # nothing encoded anew
    assert again["computed_at"] == container.clock.now().isoformat() != first["computed_at"]
    assert {k: v for k, v in again.items() if k != "computed_at"} == \
        {k: v for k, v in first.items() if k != "computed_at"}


def test_drill_down_lists_the_cases_behind_a_number(office):
    app, b, _ = office
    bureau = Client(app, "bureau")
    r = bureau.get("/api/stats/cases?period=2026-03&kpi=on_time_completion_rate&which=denominator&live=1")
    assert r.status_code == 200
    cases = r.get_json()["cases"]
    assert [c["id"] for c in cases] == ids(b, "A", "B", "C", "J")
    assert {c["case_no"] for c in cases} == {b.case_nos[n] for n in "ABCJ"}
    page = bureau.get("/stats/cases?period=2026-03&kpi=overdue&live=1")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in "BCE":
        assert f'href="/cases/{b.ids[name]}"' in html
    assert f'href="/cases/{b.ids["A"]}"' not in html
    assert bureau.get("/api/stats/cases?period=2026-03&kpi=nonsense").status_code == 404


def test_units_see_only_their_own_figures(office):
    app, b, _ = office
    county = Client(app, "county")  # 东城县信访局: county_a and its subunits
    mine = county.get("/api/stats?period=2026-03&live=1").get_json()
    assert kpi(mine, "received")["case_ids"] == ids(b, "D", "F", "G", "H", "I")
    refused = county.get("/api/stats?period=2026-03&unit=county_b")
    assert refused.status_code == 403 and refused.get_json()["error"]["message"]
    assert Client(app, "handler").get("/api/stats?period=2026-03").status_code == 403
    assert Client(app, "auditor").get("/api/stats?period=2026-03&unit=county_b").status_code == 200
    bad = Client(app, "bureau").get("/api/stats?period=2026-13")
    assert bad.status_code == 422 and "2026-03" in bad.get_json()["error"]["message"]


def test_rankings_order_units_by_on_time_completion(office):
    app, b, _ = office
    answer = Client(app, "bureau").get("/api/stats/rankings?period=2026-03&level=county&live=1").get_json()
    rows = {r["unit"]: r for r in answer["rankings"]}
    # county_b: J on time of J → 100%; county_a: A on time of A, B, C → 33.33%
    assert rows["county_b"]["on_time_completion_rate"] == {"value": 100.0, "numerator": 1, "denominator": 1}
    assert rows["county_a"]["on_time_completion_rate"]["value"] == 33.33
    assert [r["unit"] for r in answer["rankings"]] == ["county_b", "county_a"]
    assert [r["rank"] for r in answer["rankings"]] == [1, 2]


def test_frozen_snapshot_reads_back_identically_after_cases_change(office):
    app, b, frozen = office
    bureau = Client(app, "bureau")
    snapshot = frozen["answer"]
    # the bureau serves the city and everything under it: its figures are frozen as the city's
    assert snapshot["period"] == "2026-03" and snapshot["scope"] == "city" and snapshot["frozen_by"] == "bureau"
    # on 03-16 only H's and I's acceptance decisions were settled (2 of 2); later D's (on time) and E's (late)
    frozen_rate = kpi(snapshot["result"], "timely_acceptance")
    assert (frozen_rate["numerator"], frozen_rate["denominator"]) == (2, 2)
    live = bureau.get("/api/stats?period=2026-03&live=1").get_json()
    live_rate = kpi(live, "timely_acceptance")
    assert (live_rate["numerator"], live_rate["denominator"]) == (3, 4)
    published = bureau.get("/api/stats?period=2026-03").get_json()
    assert published["frozen"]["frozen_by"] == "bureau"
    assert published["kpis"] == snapshot["result"]["kpis"] == frozen["live_then"]["kpis"]
    ranking = bureau.get("/api/stats/rankings?period=2026-03").get_json()["rankings"]
    assert ranking == snapshot["result"]["rankings"]
    east = next(r for r in ranking if r["unit"] == "county_a")
    assert east["timely_acceptance"] == {"value": 100.0, "numerator": 2, "denominator": 2}  # as on 03-16
    live_ranking = bureau.get("/api/stats/rankings?period=2026-03&live=1").get_json()["rankings"]
    assert next(r for r in live_ranking if r["unit"] == "county_a")["timely_acceptance"]["denominator"] == 3
    again = bureau.post("/api/stats/snapshots", {"period": "2026-03"})
    assert again.status_code == 409
    assert Client(app, "leader").post("/api/stats/snapshots", {"period": "2026-04"}).status_code == 403
    listed = bureau.get("/api/stats/snapshots").get_json()["snapshots"]
    assert [(s["period"], s["scope"]) for s in listed] == [("2026-03", "city")]
    # an administrator sees the same frozen figures when asking for the city
    admin = Client(app, "admin").get("/api/stats?period=2026-03&unit=city").get_json()
    assert admin["frozen"]["frozen_by"] == "bureau" and admin["kpis"] == snapshot["result"]["kpis"]


def test_annual_report_data(office):
    app, b, _ = office
    answer = Client(app, "bureau").get("/api/stats/annual?year=2026").get_json()
    assert answer["total"] == 10
    assert answer["by_category"] == [{"category": "劳动社保", "count": 10, "case_ids": sorted(b.ids.values())}]
    top = answer["most_complained_units"][0]
    assert (top["unit"], top["count"]) == ("county_a_hrss", 6)  # A, B, C, D, H, I
    assert answer["transfers"] + answer["assignments"] == 8  # every dispatched case: A B C J D E H I
    assert answer["suggestions"] == {"received": 1, "adopted": 1, "case_ids": ids(b, "J"), "rewarded": 0,
                                     "adopted_case_ids": ids(b, "J"), "rewarded_case_ids": []}  # J's reply: 支持
    figures = {f["key"]: f for f in answer["figures"]}
    assert set(figures) == {"group_visits", "group_visitors", "first_time_resolution", "repeats", "repeat_rate",
                            "routed_out", "skip_level", "urgent_matters", "urgent_first_on_time"}
    assert set(figures["first_time_resolution"]["case_ids"]) <= set(figures["first_time_resolution"]
                                                                     ["denominator_case_ids"])
    by_kind = answer["supervisions"]["by_kind"]
    assert answer["supervisions"]["total"] == sum(by_kind.values()) and set(by_kind) <= {"催办", "督办", "挂牌督办"}


def test_dashboard_and_exports(office):
    app, b, _ = office
    bureau = Client(app, "bureau")
    page = bureau.get("/stats?period=2026-03")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "按期办结率" in html and 'id="chart-channels"' in html and "年度报告数据" in html
    assert "已冻结" in html
    assert 'id="snapshots"' in html and "?period=2026-03" in html  # the frozen months are listed
    r = bureau.get("/stats/export.xlsx?period=2026-03")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames[:2] == ["统计指标", "单位排名"]
    rows = {row[0]: row for row in wb["统计指标"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert rows["及时受理率"][1:4] == (2, 2, 100)  # March is frozen: the published figures
    live = load_workbook(io.BytesIO(bureau.get("/stats/export.xlsx?period=2026-03&live=1").data))
    rows = {row[0]: row for row in live["统计指标"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert rows["及时受理率"][1:4] == (3, 4, 75)
    ranked = [row[1] for row in live["单位排名"].iter_rows(min_row=2, values_only=True)]
    assert ranked == ["西山县", "东城县"]
    lists = bureau.get("/lists/export.xlsx?register=leader_case")
    sheet = load_workbook(io.BytesIO(lists.data)).active
    assert sheet.title == "领导包案责任清单"
    assert {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)} == {b.case_nos["H"], b.case_nos["I"]}
    assert Client(app, "handler").get("/stats").status_code == 403


def test_openapi_describes_the_statistics(office):
    app, _b, _ = office
    paths = Client(app, "bureau").get("/api/openapi.json").get_json()["paths"]
    for path in ("/api/stats", "/api/stats/cases", "/api/stats/rankings", "/api/stats/annual", "/api/stats/snapshots"):
        assert path in paths
    assert {p["name"] for p in paths["/api/stats"]["get"]["parameters"]} == {"period", "from", "to", "unit", "live"}


def test_pages_in_english(office):
    app, _b, _ = office
    bureau = Client(app, "bureau")
    html = bureau.get("/stats?period=2026-03&live=1&lang=en").get_data(as_text=True)
    for text in ("Key figures", "On-time completion rate", "SMS petitions received", "13710 T2 on time",
                 "Annual report data"):
        assert text in html
    lists = bureau.get("/lists?register=stabilisation&lang=en").get_data(as_text=True)
    assert "Stabilisation list (responsibilities)" in lists and "Responsible leader" in lists


def test_the_demo_office_has_figures(container):
    """`lianxin init --demo` leaves its petition cases on 2026-03-02 (the test clock): the dashboard counts them,
    each by its channel, and as registered only those triaged 交办转送."""
    from services.demo_cases import DEMO_PETITIONS
    from web.app import create_app
    from web.setup import initialise

    initialise(container, demo=True)
    bureau = Client(create_app(container), "bureau")
    answer = bureau.get("/api/stats").get_json()  # the current statistical month: 2026-03
    assert answer["period"]["label"] == "2026-03"
    figures = {k["key"]: k for k in answer["kpis"]}
    assert figures["received"]["numerator"] == len(DEMO_PETITIONS)
    for channel in {d.channel for d in DEMO_PETITIONS}:
        assert figures[f"received.{channel}"]["numerator"] == sum(d.channel == channel for d in DEMO_PETITIONS)
    dispatched = [d for d in DEMO_PETITIONS
                  if any(name == "分流研判" and form.get("route") == "交办转送" for _, name, form in d.steps)]
    assert 0 < figures["registered"]["numerator"] == len(dispatched) < len(DEMO_PETITIONS)
    assert bureau.get("/stats").status_code == 200
    assert bureau.get("/lists?register=resolution").status_code == 200
