"""What a repeat petition becomes, by the stage of its original (services.casework.merge_repeat)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.handlers import HandlerContext
from services.casework import MergeRepeatInput, merge_repeat

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ORIGINAL = "XF4101212026020102000017"


def ctx(original: dict | None, **data) -> HandlerContext:
    if original is not None:
        data["original"] = original
    return HandlerContext(case_id=9, element_id="Task_x", now=NOW, actor="registrar", data=data)


def _templates(out) -> list[tuple[str, object]]:
    return [(n["template"], n["to"]) for n in out["notices"]]


def test_an_original_in_handling_takes_the_repeat_in_and_its_unit_is_told():
    c = ctx({"case_id": 3, "stage": "办理中", "unit": "county_a_hrss"})
    out = merge_repeat(MergeRepeatInput(ORIGINAL, "XF2"), c)
    assert out["outcome"] == "并入原件" and out["reason"] == ""
    assert _templates(out) == [("并入原件", [{"party": "petitioner"}]),
                               ("重复信访", [{"unit": "county_a_hrss", "role": "unit_handler"}])]
    assert c.effects == [("repeat_link", {"original_case_no": ORIGINAL, "original_case_id": 3, "outcome": "并入原件"})]


def test_a_closed_original_makes_the_repeat_not_accepted_with_reason_and_way_to_review():
    out = merge_repeat(MergeRepeatInput(ORIGINAL, "XF2"), c := ctx({"case_id": 3, "stage": "已办结", "unit": "u"}))
    assert out["outcome"] == "不予受理" and "已办结" in out["reason"] and ORIGINAL in out["reason"]
    [(template, to)] = _templates(out)
    assert template == "不予受理告知" and to == [{"party": "petitioner"}]
    assert "已办结" in out["notices"][0]["text"] and "{" not in out["notices"][0]["text"]
    assert c.effects[-1][1]["outcome"] == "不予受理"


def test_after_re_review_the_same_facts_are_not_accepted_again():
    out = merge_repeat(MergeRepeatInput(ORIGINAL, "XF2"), ctx({"case_id": 3, "stage": "已终结"}))
    assert out["outcome"] == "不再受理" and "复核终结" in out["reason"]
    assert [t for t, _ in _templates(out)] == ["重复信访不再受理告知"] and "{" not in out["notices"][0]["text"]


def test_without_a_description_the_repeat_is_merged_as_before_and_a_missing_number_is_refused():
    out = merge_repeat(MergeRepeatInput(ORIGINAL, "XF2"), ctx(None, original_unit="county_a_hrss"))
    assert out["outcome"] == "并入原件" and len(out["notices"]) == 2
    with pytest.raises(ValueError, match="原信访事项编号"):
        merge_repeat(MergeRepeatInput("", "XF2"), ctx(None))
