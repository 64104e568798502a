"""Handlers added for hearings, co-units and office inboxes, on their own (no database, no engine)."""
from __future__ import annotations

from datetime import datetime

import pytest

from engine.clock import SHANGHAI
from engine.handlers import HandlerContext
from services.casework import DispatchInput, ResolveUnitInput, dispatch_case, resolve_responsible_unit
from services.hearing import HearingInput, hearing_days
from services.notify import due_date_text, to_offices
from services.supervision import SuperviseInput, supervise

NOW = datetime(2026, 4, 24, 16, 0, tzinfo=SHANGHAI)


class Directory:
    """Who holds which role where, as the runtime's membership directory answers."""

    def __init__(self, table):
        self.table = table

    def users(self, unit, role):
        return self.table.get((unit, role), [])


def ctx(data=None, directory=None) -> HandlerContext:
    ports = {"directory": directory} if directory is not None else {}
    return HandlerContext(case_id=5, element_id="Task_x", now=NOW, actor="t", data=data or {}, ports=ports)


def test_hearing_days_count_both_the_first_and_the_last_day_and_add_up():
    assert hearing_days(HearingInput("2026-04-20T09:00:00+08:00", 0), ctx()) == 5
    assert hearing_days(HearingInput("2026-04-24T09:00:00+08:00", 5), ctx()) == 6  # a second, one-day hearing
    with pytest.raises(ValueError, match="晚于"):
        hearing_days(HearingInput("2026-04-25T09:00:00+08:00", 0), ctx())
    with pytest.raises(ValueError, match="非负整数"):
        hearing_days(HearingInput("2026-04-20T09:00:00+08:00", -1), ctx())


def test_co_units_are_checked_and_the_lead_unit_is_never_its_own_co_unit():
    a = resolve_responsible_unit(ResolveUnitInput("county_a_hrss", "county_a"),
                                 ctx({"co_units": ["county_a_housing", "county_a_hrss", "county_a_housing"]}))
    assert a["lead_unit"] == a["unit"] == "county_a_hrss"
    assert a["co_units"] == [{"unit": "county_a_housing", "unit_name": "东城县住房和城乡建设局"}]
    assert resolve_responsible_unit(ResolveUnitInput("county_a_hrss", "county_a"), ctx())["co_units"] == []
    with pytest.raises(ValueError, match="county_z"):
        resolve_responsible_unit(ResolveUnitInput("county_a_hrss", "county_a"), ctx({"co_units": ["county_z"]}))


def test_dispatch_tells_each_co_unit_who_leads_through_the_outbox():
    directory = Directory({("county_a_housing", "unit_handler"): ["handler_housing"]})
    a = resolve_responsible_unit(ResolveUnitInput("county_a_hrss", "county_a"), ctx({"co_units": ["county_a_housing"]}))
    c = ctx({"title": "欠薪"}, directory)
    out = dispatch_case(DispatchInput(a, "XF1"), c)
    assert out["co_units"] == ["county_a_housing"]
    assert [n["template"] for n in out["notices"]] == ["交办通知", "去向告知", "协办通知"]
    [(kind, payload)] = c.effects
    assert (kind, payload["recipient"], payload["template"]) == ("notify", "handler_housing", "co_handling_notice")
    assert payload["data"]["lead_unit"] == "东城县人力资源和社会保障局"


def test_office_inbox_needs_a_directory_and_addresses_each_user_once():
    c = ctx()
    assert to_offices(c, [{"unit": "u", "role": "r"}], "reminder", {}) == [] and c.effects == []
    d = Directory({("u", "r"): ["a", "b"], ("u", "leader"): ["b", "boss"]})
    c = ctx(directory=d)
    users = to_offices(c, [{"unit": "u", "role": "r"}, {"unit": "u", "role": "leader"}, {"party": "petitioner"}],
                       "reminder", {"x": 1})
    assert users == ["a", "b", "boss"] and [p["recipient"] for _, p in c.effects] == users


def test_a_deadline_ending_at_midnight_is_due_the_day_before():
    assert due_date_text("2026-05-07T00:00:00+08:00", ctx()) == "2026-05-06"
    assert due_date_text("", ctx()) == "2026-04-24"


def test_supervision_notice_carries_every_field_its_template_needs():
    d = Directory({("county_a_hrss", "unit_handler"): ["handler"], ("county_a_hrss", "leader"): ["leader"]})
    c = ctx({"case_no": "XF9", "title": "欠薪", "assignment": {"assigning_unit": "city_bureau"}}, d)
    supervise(SuperviseInput("督办", "county_a_hrss", "办理并拟写答复意见", due="2026-05-07T00:00:00+08:00",
                             report_by="2026-05-12T00:00:00+08:00"), c)
    notes = [p for k, p in c.effects if k == "notify"]
    assert [p["recipient"] for p in notes] == ["handler", "leader"]
    assert notes[0]["data"] == {"case_no": "XF9", "title": "欠薪", "unit": "东城县人力资源和社会保障局",
                                "deadline_label": "办理并拟写答复意见", "due": "2026-05-06",
                                "supervising_unit": "市信访局", "report_by": "2026-05-11"}
