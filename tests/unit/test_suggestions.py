"""人民建议征集: which process a registration starts, the conclusion the proposer is told and the statistics count
(services.suggestions.conclude_suggestion), its local clocks' bounds, and the refusal of review for a suggestion."""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest

from engine.clock import SHANGHAI
from engine.errors import Conflict
from engine.handlers import HandlerContext
from services import petitioner_rights, registration, suggestions
from services.deadline_settings import BY_NAME, read_limits, value_issue
from services.suggestions import ConcludeInput, conclude_suggestion

NOW = datetime(2026, 3, 12, 9, 0, tzinfo=SHANGHAI)


def ctx() -> HandlerContext:
    return HandlerContext(case_id=1, element_id="Task_conclude", now=NOW, actor="bureau", data={})


def test_a_registration_of_nature_suggestion_starts_the_suggestion_process_on_every_channel():
    for channel in ("来访", "来信", "网上", "短信", "12345"):
        assert registration.process_for({"channel": channel, "nature": "建议意见"}) == "suggestion"
    for nature in ("申诉求决", "检举控告", "情况反映", "咨询", None):
        assert registration.process_for({"channel": "来信", "nature": nature}) == registration.PROCESS


def test_an_adopted_suggestion_with_a_money_reward():
    out = conclude_suggestion(ConcludeInput("采纳", "列入民生实事", True, True, "荣誉证书和奖金", 500), ctx())
    assert (out["adopted"], out["rewarded"], out["conclusion"]) == (True, True, "决定采纳")
    assert "奖金 500 元" in out["detail"] and out["reward_amount"] == 500
    assert out["concluded_at"] == NOW.isoformat()


def test_a_rejected_suggestion_is_never_rewarded_whatever_the_form_says():
    out = conclude_suggestion(ConcludeInput("不采纳", "不可行", True, True, "奖金", 500), ctx())
    assert (out["adopted"], out["rewarded"], out["reward_amount"]) == (False, False, 0)
    assert out["conclusion"] == "暂不采纳" and "奖励" not in out["detail"] and "不可行" in out["detail"]


def test_an_adopted_suggestion_not_proposed_or_not_granted_is_not_rewarded():
    assert conclude_suggestion(ConcludeInput("采纳", "可行"), ctx())["rewarded"] is False
    out = conclude_suggestion(ConcludeInput("采纳", "可行", True, False, reward_note="贡献一般"), ctx())
    assert out["rewarded"] is False and out["reward_note"] == "贡献一般"


@pytest.mark.parametrize("inp, words", [
    (ConcludeInput("同意", "x"), "采纳"),
    (ConcludeInput("采纳", "x", True, True, ""), "奖励形式"),
    (ConcludeInput("采纳", "x", True, True, "奖金", 0), "金额"),
])
def test_a_conclusion_that_cannot_be_told_is_refused(inp, words):
    with pytest.raises(ValueError, match=words):
        conclude_suggestion(inp, ctx())


def test_the_suggestion_clocks_are_bounded_local_settings():
    limits = read_limits("processes/settings.dmn")
    assert (limits["limits.suggestion_assess_workdays"], limits["limits.suggestion_decide_workdays"],
            limits["limits.suggestion_reward_workdays"]) == (15, 5, 10)
    for name, top in (("assess", 30), ("decide", 15), ("reward", 30)):
        setting = BY_NAME[f"limits.suggestion_{name}_workdays"]
        assert setting.day_type == "workdays" and not setting.statutory  # the regulation names no number
        assert value_issue(setting, top) is None and value_issue(setting, top + 1) is not None
        assert value_issue(setting, 0) is not None


class _Runtime:
    def __init__(self, process_key, status="waiting"):
        self.case = SimpleNamespace(process_key=process_key, status=status, data={})

    def get_case(self, case_id):
        return self.case


@pytest.mark.parametrize("message", ["复查申请", "复核申请"])
@pytest.mark.parametrize("status", ["waiting", "completed"])
def test_a_suggestion_cannot_be_sent_to_review_or_re_review(message, status):
    with pytest.raises(Conflict, match="不适用复查、复核"):
        petitioner_rights.take_request(_Runtime("suggestion", status), 1, message, {}, "bureau")
    assert suggestions.no_review_reason("petition_case") is None
