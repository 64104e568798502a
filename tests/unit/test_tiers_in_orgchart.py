"""The escalation tiers are declared once, in the organisation (processes/organisation.yaml), and escalation,
statistics and review bodies read them from the chart."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.handlers import HandlerContext
from services import escalation
from services.orgchart import DEFAULT_FILE, OrgChart, default_chart

ROOT = Path(__file__).resolve().parents[2]


def test_the_chart_declares_the_tiers_bottom_up():
    chart = default_chart()
    assert chart.tier_levels() == ("county", "city", "province")
    assert [t.meeting for t in chart.tiers] == ["县级联席会议", "市级联席会议", "省级联席会议"]
    assert chart.tier_above("county").level == "city" and chart.tier_above("province") is None
    assert chart.level_name("city") == "市级" and chart.level_name("department") == "department"
    with pytest.raises(LookupError):
        chart.tier("township")


def test_an_organisation_without_tiers_is_refused(tmp_path):
    path = tmp_path / "org.yaml"
    path.write_text("units:\n  - {code: c, name: 某县, kind: county}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="tiers"):
        OrgChart.from_yaml(path)


def _ctx(chart) -> HandlerContext:
    return HandlerContext(case_id=1, element_id="Task_tier_scope", now=datetime(2026, 3, 2, tzinfo=UTC), actor="worker",
                          data={"case_no": "X1"}, ports={"organisation": chart})


def test_escalation_climbs_the_declared_tiers_and_stops_at_the_top_one(tmp_path):
    text = DEFAULT_FILE.read_text(encoding="utf-8").replace("  - {level: province, name: 省级, meeting: 省级联席会议}\n", "")
    path = tmp_path / "organisation.yaml"
    path.write_text(text, encoding="utf-8")
    two_tiers = OrgChart.from_yaml(path)
    at_city = escalation.escalate(escalation.EscalateInput("city", "county_a_hrss"), _ctx(two_tiers))
    assert at_city["is_top"] and at_city["next_level"] is None and at_city["level_name"] == "市级"
    at_county = escalation.escalate(escalation.EscalateInput("county", "county_a_hrss"), _ctx(default_chart()))
    assert at_county["next_level"] == "city" and not at_county["is_top"]
    with pytest.raises(ValueError, match="unknown tier level"):
        escalation.escalate(escalation.EscalateInput("province", "county_a_hrss"), _ctx(two_tiers))


def test_no_other_module_keeps_a_list_of_tiers():
    tiers = re.compile(r'"county"\s*[:,].*"city"\s*[:,].*"province"')
    found = {str(p.relative_to(ROOT)) for top in ("services", "web") for p in (ROOT / top).rglob("*.py")
             if tiers.search(p.read_text(encoding="utf-8"))}
    assert found == set()
