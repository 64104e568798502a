"""The day limits and the yellow lead time are read from settings.dmn only: by the processes and by the runtime."""
from __future__ import annotations

from pathlib import Path

import pytest

from services.deadline_settings import read_limits, yellow_lead_days

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_table_holds_the_seed_defaults():
    limits = read_limits(ROOT / "processes" / "settings.dmn")
    assert {k: limits[f"limits.{k}"] for k in ("t1", "t2", "t3", "t4", "e1", "e2", "e3", "e4")} == \
        {"t1": 1, "t2": 3, "t3": 7, "t4": 10, "e1": 1, "e2": 3, "e3": 7, "e4": 10}
    assert limits["limits.yellow_lead_days"] == yellow_lead_days(ROOT / "processes") == 3


def test_a_changed_lead_time_reaches_the_runtime(tmp_path):
    text = (ROOT / "processes" / "settings.dmn").read_text(encoding="utf-8")
    changed = text.replace('<outputEntry id="Out_yellow"><text>3</text>', '<outputEntry id="Out_yellow"><text>5</text>')
    assert changed != text
    (tmp_path / "settings.dmn").write_text(changed, encoding="utf-8")
    assert yellow_lead_days(tmp_path) == 5
    assert yellow_lead_days(tmp_path / "nowhere") == 3


def test_a_cell_that_is_not_a_whole_number_is_refused(tmp_path):
    text = (ROOT / "processes" / "settings.dmn").read_text(encoding="utf-8")
    (tmp_path / "settings.dmn").write_text(text.replace("<text>7</text>", "<text>seven</text>", 1), encoding="utf-8")
    with pytest.raises(ValueError, match="whole numbers"):
        read_limits(tmp_path / "settings.dmn")


def test_no_process_or_handler_carries_its_own_copy_of_the_limits():
    """Timers read limits[...] (from the table), never a number of days of their own, except the statute's."""
    import re

    for name in ("petition_case.bpmn", "leader_13710.bpmn", "escalation_tier.bpmn"):
        text = (ROOT / "processes" / name).read_text(encoding="utf-8")
        for expression in re.findall(r"<bpmn:timeDate>(.*?)</bpmn:timeDate>", text):
            assert not re.search(r"(?<![\w\"])\d+(?![\w\"])", expression), (name, expression)
