"""The statistics read which element is which step from the element meanings (processes/meanings.yaml), not from
kpi.yaml; the settings still carry the element lists in the form every frozen snapshot keeps its copy in, so a
snapshot's stored settings rebuild the same settings and verify against the digest stored with them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from services.element_meanings import MEANINGS, ElementMeanings
from services.stats_facts import build_facts
from services.stats_settings import (
    STATISTICS_ELEMENTS,
    STATISTICS_MEANINGS,
    KpiSettings,
    SettingsError,
    statistics_elements,
)
from tests.unit.test_stats import bj, event, item, row

ROOT = Path(__file__).resolve().parents[2]

# What processes/kpi.yaml listed under `elements:` until the lists moved to meanings.yaml: every snapshot frozen
# before the move keeps exactly this in its copy of the settings.
ELEMENTS_IN_KPI_YAML = {
    "triage": ["Task_triage"], "sign": ["Task_sign"], "acceptance": ["Task_accept"], "handling": ["Task_handle"],
    "reply_served": ["Task_serve_reply"], "signoff": ["Task_signoff"], "returned_for_redo": ["Script_redo"],
    "rating": ["Task_rating"], "review": ["Task_review", "Task_rereview"],
    "statutory": ["Task_sign", "Task_accept", "Task_handle", "Task_review", "Task_rereview"],
    "milestones": {"Task_t1": "T1", "Task_t2": "T2", "Task_t3": "T3", "Task_t4": "T4", "Task_report_up": "E1",
                   "Task_report_up_tier": "E1", "Task_e2": "E2", "Task_e3": "E3", "Task_e4": "E4"},
    "limit_timers": {"Task_sign": "Timer_sign_limit", "Task_accept": "Timer_accept_limit",
                     "Task_handle": "Timer_handle_limit", "Task_review": "Timer_review_limit",
                     "Task_rereview": "Timer_rereview_limit", "Task_t1": "Timer_t1", "Task_t2": "Timer_t2",
                     "Task_t3": "Timer_t3", "Task_t4": "Timer_t4", "Task_report_up": "Timer_report_up",
                     "Task_report_up_tier": "Timer_e1", "Task_e2": "Timer_e2", "Task_e3": "Timer_e3",
                     "Task_e4": "Timer_e4"},
    "escalation_entry": ["Task_e2"],
}


def test_the_shipped_meanings_give_the_statistics_the_element_lists_kpi_yaml_had():
    settings = KpiSettings.load()
    assert settings.elements == ELEMENTS_IN_KPI_YAML
    assert "elements" not in yaml.safe_load((ROOT / "processes" / "kpi.yaml").read_text(encoding="utf-8"))
    # same lists, same values: the settings digest (口径版本) a snapshot shows is the one it showed before the move
    before = {**yaml.safe_load((ROOT / "processes" / "kpi.yaml").read_text(encoding="utf-8")),
              "elements": ELEMENTS_IN_KPI_YAML}
    assert settings.digest() == KpiSettings.from_dict(before).digest()


def test_a_snapshots_stored_settings_rebuild_the_settings_and_verify_against_its_digest():
    settings = KpiSettings.load()
    stored = json.loads(json.dumps({"settings": settings.as_dict(), "settings_digest": settings.digest()}))
    rebuilt = KpiSettings.from_dict(stored["settings"])
    assert rebuilt == settings and rebuilt.digest() == stored["settings_digest"]
    overridden = settings.with_overrides(basically_satisfied_counts=False)
    assert overridden.elements == settings.elements and overridden.digest() != settings.digest()


def test_an_old_snapshot_keeps_its_own_element_lists_whatever_the_meanings_say_now(tmp_path):
    """A snapshot frozen when the acceptance task had another id: its copy of the settings still says so."""
    old = {**yaml.safe_load((ROOT / "processes" / "kpi.yaml").read_text(encoding="utf-8")),
           "elements": {**ELEMENTS_IN_KPI_YAML, "acceptance": ["Task_accept_2025"]}}
    digest = KpiSettings.from_dict(old).digest()
    rebuilt = KpiSettings.from_dict(json.loads(json.dumps(old, ensure_ascii=False)))
    assert rebuilt.ids("acceptance") == {"Task_accept_2025"} and rebuilt.digest() == digest


def test_kpi_yaml_with_its_own_element_lists_is_refused(tmp_path):
    (tmp_path / "kpi.yaml").write_text("elements:\n  triage: [Task_triage]\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="meanings.yaml"):
        KpiSettings.load(tmp_path / "kpi.yaml")


def test_the_statistics_follow_a_renamed_element_listed_in_the_meanings(tmp_path):
    """A new version calls its acceptance task Task_decide_acceptance: listed in meanings.yaml (the old id under
    earlier_versions), the acceptance deadlines of cases on either version are counted."""
    shipped = (ROOT / "processes" / "meanings.yaml").read_text(encoding="utf-8")
    text = shipped.replace("  acceptance: [Task_accept]\n", "  acceptance: [Task_decide_acceptance]\n"
                           "  earlier_versions:\n    acceptance: [Task_accept]\n", 1)
    (tmp_path / "meanings.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "kpi.yaml").write_text((ROOT / "processes" / "kpi.yaml").read_text(encoding="utf-8"),
                                       encoding="utf-8")
    settings = KpiSettings.load(tmp_path / "kpi.yaml")
    assert settings.elements["acceptance"] == ["Task_decide_acceptance", "Task_accept"]
    assert {"Task_decide_acceptance", "Task_accept"} <= settings.watched_elements()
    case = row(id=1, case_no="XF1", created_at=bj("2026-03-02T09:00:00"), status="waiting", summary_json="{}")
    events = [event(1, "2026-03-02T09:00:00", "case.started", data={"channel": "来信"})]
    items = [item(1, "Task_decide_acceptance", "2026-03-02T09:00:00", "2026-03-18T00:00:00",
                  "2026-03-03T09:00:00")]
    [facts] = build_facts([case], items, events, settings)
    assert facts.acceptance is not None and facts.acceptance.element_id == "Task_decide_acceptance"
    assert facts.acceptance.met()


def test_every_statistics_list_joins_meanings_the_meanings_file_knows():
    assert set(STATISTICS_MEANINGS) <= set(MEANINGS), "deploy checks that each is declared"
    m = ElementMeanings.from_text("p:\n  review: [Task_r]\n  rereview: [Task_rr]\n  limit_timer: {Task_r: Timer_r}\n")
    lists = statistics_elements(m)
    assert set(lists) == set(STATISTICS_ELEMENTS)
    assert lists["review"] == ["Task_r", "Task_rr"] and lists["limit_timers"] == {"Task_r": "Timer_r"}
    assert lists["acceptance"] == [] and lists["milestones"] == {}
