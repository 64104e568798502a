"""问责 without a database: who may record against whom (web/visibility.py `accountability_office`: the supervising
office, the bureau for its area; never the unit itself, never outside the area), the feedback handlers' rows (the
parent case's accountability register; a late feedback also answers the 督办 of the office above), the escalation
target, the per-kind limits and the annual per-unit report."""
from __future__ import annotations

from datetime import datetime

import pytest

from engine.clock import SHANGHAI
from engine.handlers import HandlerContext
from services import accountability
from services.deadline_settings import BY_NAME, read_limits
from services.orgchart import default_chart
from web.auth import Principal
from web.visibility import accountability_office

NOW = datetime(2026, 3, 10, 9, tzinfo=SHANGHAI)
CHART = default_chart()
SUBUNITS = {"city": [u for u in CHART.units if u.startswith(("city_", "county_")) or u in ("county_a", "county_b")],
            "county_a": [u for u in CHART.units if u.startswith("county_a")]}


def person(name: str, *roles: tuple[str, str, bool]) -> Principal:
    role_units = set()
    for role, unit, subunits in roles:
        role_units.add((role, unit))
        if subunits:
            role_units |= {(role, u) for u in SUBUNITS[unit]}
    return Principal(1, name, name, list(roles), {u for _, u in role_units}, False, role_units)


BUREAU = person("bureau", ("bureau", "city_bureau", False), ("bureau", "city", True))
COUNTY = person("county", ("county_office", "county_a_office", False), ("county_office", "county_a", True))
COUNTY_B = person("county_b", ("county_office", "county_b_office", False))
HANDLER = person("handler", ("unit_handler", "county_a_hrss", False))
LEADER = person("leader", ("leader", "county_a", True))
PROV = person("prov_bureau", ("bureau", "prov_bureau", False))
AUDITOR = person("auditor", ("auditor", "city", True))


@pytest.mark.parametrize("who, unit, assigning, office", [
    (BUREAU, "county_a_hrss", "city_bureau", "city_bureau"),   # the office that assigned the matter supervises
    (BUREAU, "city_hrss", None, "city_bureau"),                # the bureau for city units
    (BUREAU, "county_a_office", None, "city_bureau"),          # a county office: the city bureau, one level up
    (COUNTY, "county_a_hrss", "city_bureau", "county_a_office"),  # the county office for its own departments
    (PROV, "city_bureau", None, "prov_bureau"),                # the city bureau is held to account one level up
    (BUREAU, "city_bureau", None, None),                       # never the unit itself
    (COUNTY, "county_a_office", None, None),                   # never the unit itself
    (HANDLER, "county_a_hrss", None, None),                    # the unit's own people: no
    (LEADER, "county_a_hrss", None, None),                     # the county leader is no supervising office
    (COUNTY_B, "county_a_hrss", None, None),                   # another county's office: outside its area
    (COUNTY, "county_b_hrss", None, None),
    (COUNTY, "city_hrss", None, None),                         # a county office does not hold city units to account
    (PROV, "county_a_hrss", None, None),                       # the province only holds its own level's units
    (AUDITOR, "county_a_hrss", None, None),                    # reads only
    (BUREAU, "no_such_unit", None, None),
])
def test_who_records_against_whom(who, unit, assigning, office):
    assert accountability_office(who, CHART, unit, assigning) == office


def test_every_kind_has_a_bounded_calendar_day_setting_in_the_table():
    limits = read_limits("processes/settings.dmn")
    for kind, name in accountability.KINDS.items():
        setting = BY_NAME[name]
        assert setting.day_type == "days" and not setting.statutory, kind
        assert setting.minimum <= limits[name] <= setting.maximum, kind
    assert accountability.limit_bounds("限期整改") == (1, 90)


ACC = {"key": "问责-X1-1", "case_id": 7, "case_no": "X1", "case_title": "拖欠工资", "unit": "county_a_hrss",
       "unit_name": "东城县人力资源和社会保障局", "kind": "约谈", "reason": "签收不及时", "by": "county_a_office",
       "by_name": "东城县信访局", "person": "handler", "status": "待反馈", "recorded_at": "2026-03-02T09:00:00+08:00"}


def ctx(now=NOW) -> HandlerContext:
    return HandlerContext(case_id=9, element_id="Task_acc_filed", now=now, actor="handler",
                          data={"accountability": ACC})


def registers(c: HandlerContext) -> list[tuple[str, str, str, dict]]:
    return [(p["register"], p["action"], p["key"], p["data"]) for kind, p in c.effects if kind == "register"]


def test_feedback_in_time_closes_the_parent_row_only():
    c = ctx()
    row = accountability.file_feedback(accountability.FeedbackInput(ACC, "已整改", "2026-03-17T16:00:00+00:00"), c)
    assert row["status"] == "已反馈" and row["feedback_late"] is False and row["feedback_by"] == "handler"
    regs = registers(c)
    assert [(r, a, k) for r, a, k, _ in regs] == [("accountability", "open", "问责-X1-1"),
                                                  ("accountability", "close", "问责-X1-1")]
    assert all(p["of_parent"] and p["person"] == "handler" for kind, p in c.effects)


def test_late_feedback_also_answers_the_supervision_of_the_office_above():
    c = ctx(datetime(2026, 3, 20, 9, tzinfo=SHANGHAI))
    row = accountability.file_feedback(accountability.FeedbackInput(ACC, "已整改", "2026-03-17T16:00:00+00:00"), c)
    assert row["feedback_late"] is True
    closed = {(r, k): d for r, a, k, d in registers(c) if a == "close"}
    sup = closed[("supervision", "督办-问责-X1-1")]
    assert sup["by"] == "city_bureau" and sup["status"] == "已反馈" and sup["kind"] == "督办"


def test_empty_feedback_is_refused():
    with pytest.raises(ValueError):
        accountability.file_feedback(accountability.FeedbackInput(ACC, "  "), ctx())


def test_a_missed_feedback_goes_to_the_office_above_the_recording_office():
    c = ctx()
    out = accountability.escalate(accountability.EscalateInput(ACC, "2026-03-09T16:00:00+00:00"), c)
    assert out["row"]["by"] == "city_bureau" and out["row"]["status"] == "待反馈"
    acc_rows = [d for r, a, k, d in registers(c) if r == "accountability"]
    assert acc_rows[-1]["status"] == accountability.OVERDUE and acc_rows[-1]["escalated_to"] == "city_bureau"
    [notice] = [p for kind, p in c.effects if kind == "notify"] or [None]  # no directory port: journal only
    assert notice is None
    # at the top of the chart: the leaders of the recording office's level
    top = dict(ACC, by="prov_bureau", by_name="省信访局")
    out = accountability.escalate(accountability.EscalateInput(top, "2026-03-09T16:00:00+00:00"), ctx())
    assert out["row"]["by"] == "prov"


def test_annual_report_counts_kinds_and_feedback_per_unit():
    base = {"unit": "county_a_hrss", "case_id": 1, "case_no": "X1", "recorded_at": "2026-03-02T09:00:00+08:00"}
    rows = [dict(base, kind="约谈", status="已反馈", feedback_late=False),
            dict(base, kind="通报", status="已反馈", feedback_late=True, case_no="X2"),
            dict(base, kind="限期整改", status="待反馈", due="2026-03-05T16:00:00+00:00", person="handler"),
            dict(base, kind="追责建议", status="待反馈", due="2026-04-30T16:00:00+00:00"),
            dict(base, kind="约谈", status=accountability.OVERDUE, unit="city_hrss")]
    report = accountability.annual_report(rows, 2026, NOW, {"county_a_hrss": "东城县人社局"})
    [a, b] = report["units"]
    assert a["unit"] == "county_a_hrss" and a["total"] == 4 and report["total"] == 5
    assert (a["约谈"], a["通报"], a["限期整改"], a["追责建议"]) == (1, 1, 1, 1)
    assert (a["on_time"], a["late"], a["missing"], a["pending"]) == (1, 1, 1, 1)
    assert a["cases"] == ["X1", "X2"] and a["people"] == ["handler"] and a["unit_name"] == "东城县人社局"
    assert b["unit"] == "city_hrss" and b["missing"] == 1
