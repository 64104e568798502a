"""The handlers behind the clocks of issue #17: the 13710 track counts from the leader's receipt, and the check
that keeps a case before one joint meeting at a time."""
from __future__ import annotations

from datetime import datetime

import pytest

from engine.clock import SHANGHAI
from engine.handlers import HandlerContext
from services.escalation import OpenTierInput, escalation_open
from services.leadership import ScopeInput, case_owner_scope

NOW = datetime(2026, 3, 4, 9, 0, tzinfo=SHANGHAI)


def ctx(data=None) -> HandlerContext:
    return HandlerContext(case_id=17, element_id="Task_scope", now=NOW, actor="handler", data=data or {})


def test_13710_starts_at_the_leaders_receipt_not_when_the_unit_signs():
    received = "2026-03-02T09:00:00+08:00"
    scope = case_owner_scope(ScopeInput("county_a_hrss", received_at=received), ctx())
    assert scope["started_at"] == datetime.fromisoformat(received).isoformat()


def test_without_a_receipt_the_clock_starts_now_and_never_in_the_future():
    assert case_owner_scope(ScopeInput("county_a_hrss"), ctx())["started_at"] == NOW.isoformat()
    later = case_owner_scope(ScopeInput("county_a_hrss", received_at="2026-03-09T09:00:00+08:00"), ctx())
    assert later["started_at"] == NOW.isoformat()


@pytest.mark.parametrize("bad, words", [("3月2日", "不是有效的时间"), ("2026-03-02T09:00:00", "缺少时区")])
def test_a_bad_receipt_time_is_refused_with_what_is_wrong(bad, words):
    with pytest.raises(ValueError, match=words):
        case_owner_scope(ScopeInput("county_a_hrss", received_at=bad), ctx())


def test_outside_a_command_no_joint_meeting_is_open():
    out = escalation_open(OpenTierInput("13710"), ctx())
    assert out == {"open": False, "source": "13710", "items": [], "checked_at": NOW.isoformat()}
