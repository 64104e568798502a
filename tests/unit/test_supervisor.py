"""Who supervises whom (services.supervision.supervisor_of) and the feedback case's handlers, without a database:
the petition office of the next level up, never an office of a lower level; the rows the feedback case writes
are the petition case's (register effects `of_parent`)."""
from __future__ import annotations

from datetime import datetime

import pytest

from engine.clock import SHANGHAI
from engine.handlers import HandlerContext
from services.orgchart import OrgChart, OrgUnit, Tier, default_chart
from services.supervision import (
    DelistInput,
    FeedbackInput,
    ListInput,
    SuperviseInput,
    delist_supervision,
    file_feedback,
    list_supervision,
    supervise,
    supervising_role,
    supervisor_of,
)

NOW = datetime(2026, 3, 10, 9, tzinfo=SHANGHAI)


def ctx(data=None, actor="timer", now=NOW) -> HandlerContext:
    return HandlerContext(case_id=7, element_id="Task_x", now=now, actor=actor, data=data or {})


@pytest.mark.parametrize("unit, assigning, supervisor", [
    ("county_a_hrss", "city_bureau", "city_bureau"),      # the bureau that assigned the matter
    ("county_a_hrss", None, "county_a_office"),           # else the department's own county petition office
    ("county_a_hrss", "county_b_office", "county_a_office"),  # another county's office supervises nobody here
    ("county_a_office", "city_bureau", "city_bureau"),    # a county petition office: the city bureau
    ("county_a_jm", None, "city_bureau"),                 # a county joint-meeting office: the city bureau
    ("city_jm", None, "prov_bureau"),                     # the city's offices: the provincial bureau
    ("city_bureau", None, "prov_bureau"),
    ("prov_jm", "city_bureau", "prov_bureau"),            # the top: never the city bureau
])
def test_the_supervisor_is_the_petition_office_of_the_next_level_up(unit, assigning, supervisor):
    found = supervisor_of(default_chart(), unit, assigning)
    assert found is not None and found.code == supervisor


def test_at_the_top_of_a_chart_without_a_bureau_there_is_no_supervisor_rather_than_a_lower_one():
    chart = OrgChart(tiers=(Tier("city", "市级", "市级联席会议"), Tier("province", "省级", "省级联席会议")))
    for u in (OrgUnit("prov", "省", "province"), OrgUnit("prov_jm", "省联席办", "joint_meeting_office", "prov"),
              OrgUnit("city", "市", "city", "prov"), OrgUnit("city_bureau", "市信访局", "petition_office", "city")):
        chart.units[u.code] = u
    assert supervisor_of(chart, "prov_jm") is None
    assert supervisor_of(chart, "city_bureau") is None  # no bureau at the province: none, not itself


def test_the_supervising_office_acts_in_its_own_role():
    chart = default_chart()
    assert [supervising_role(chart, u) for u in ("county_a_office", "city_bureau", "prov_bureau", "city_jm")] == [
        "county_office", "bureau", "bureau", "jointmeeting"]


def test_a_province_joint_meeting_office_supervised_is_supervised_by_the_provincial_bureau():
    c = ctx({"case_no": "XF9", "assignment": {"assigning_unit": "city_bureau"},
             "limits": {"supervision_report_workdays": 3}})
    lists = supervise(SuperviseInput("督办", "prov_jm", "阶段性成效", role="jointmeeting"), c)
    [row] = lists["督办"].values()
    assert (row["by"], row["by_name"]) == ("prov_bureau", "省信访局")
    [start] = [p for k, p in c.effects if k == "start_case"]
    sup = start["data"]["supervision"]
    assert (sup["unit"], sup["role"], sup["by"], sup["by_role"]) == ("prov_jm", "jointmeeting", "prov_bureau", "bureau")
    assert start["data"]["limits"] == {"supervision_report_workdays": 3}


def _supervision():
    c = ctx({"case_no": "XF9", "title": "欠薪", "assignment": {"assigning_unit": "city_bureau"}})
    supervise(SuperviseInput("督办", "county_a_hrss", "签收或提出异议",
                             report_by="2026-03-14T00:00:00+08:00"), c)
    return next(p for k, p in c.effects if k == "start_case")["data"]["supervision"]


def test_feedback_closes_the_parent_row_with_its_text_date_and_author():
    sup = _supervision()
    c = ctx(actor="handler")
    row = file_feedback(FeedbackInput(sup, "  已签收  "), c)
    assert (row["status"], row["feedback"], row["feedback_by"], row["feedback_late"]) == ("已反馈", "已签收", "handler", False)
    assert [(p["action"], p["of_parent"], p["key"]) for _, p in c.effects] == [
        ("open", True, sup["key"]), ("close", True, sup["key"])]
    late = file_feedback(FeedbackInput(sup, "迟报"), ctx(now=datetime(2026, 3, 16, 9, tzinfo=SHANGHAI)))
    assert late["feedback_late"] is True
    with pytest.raises(ValueError, match="书面反馈"):
        file_feedback(FeedbackInput(sup, "  "), ctx())


def test_a_missed_feedback_lists_the_matter_and_delisting_needs_a_reason():
    sup = _supervision()
    c = ctx()
    listed = list_supervision(ListInput(sup, report_by="2026-03-19T00:00:00+08:00"), c)
    assert listed["row"]["kind"] == "挂牌督办" and listed["row"]["status"] == "挂牌督办"
    assert {"unit": "county_a_hrss", "role": "leader"} in listed["row"]["notified"]
    registers = [(p["key"], p["data"]["status"], p["action"]) for k, p in c.effects if k == "register"]
    assert registers == [(sup["key"], "逾期未反馈，已挂牌督办", "open"), (listed["key"], "挂牌督办", "open")]
    with pytest.raises(ValueError, match="理由"):
        delist_supervision(DelistInput(listed, " "), ctx(actor="bureau"))
    d = ctx(actor="bureau")
    row = delist_supervision(DelistInput(listed, "整改到位"), d)
    assert (row["status"], row["delist_reason"], row["delisted_by"]) == ("已摘牌", "整改到位", "bureau")
    assert [p["action"] for _, p in d.effects] == ["open", "close"]


def test_a_joint_meetings_listed_supervision_waits_for_its_removal_by_that_office():
    c = ctx({"case_no": "XF9", "assignment": {"assigning_unit": "city_bureau"}})
    lists = supervise(SuperviseInput("挂牌督办", "county_a_hrss", "化解信访事项", by="city_jm"), c)
    [row] = lists["督办"].values()
    assert (row["status"], row["by"]) == ("挂牌督办", "city_jm")
    [start] = [p for k, p in c.effects if k == "start_case"]
    assert start["data"]["listed"]["row"]["status"] == "挂牌督办"
    assert start["data"]["supervision"]["by_role"] == "jointmeeting"
    reminder = ctx({"case_no": "XF9"})
    supervise(SuperviseInput("催办", "county_a_hrss", "签收", lead=3), reminder)
    assert not [k for k, _ in reminder.effects if k == "start_case"]  # a reminder is no task
