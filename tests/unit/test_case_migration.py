"""Case migration and drafts without a database: which cases are refused before any replay, and how a draft
becomes the complete bundle that is validated and deployed."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from engine.case_migration import CaseCheck, _refusal, describe
from engine.store import ProcessDefinition
from services.store import drafts

BPMN = ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
        ' id="d" targetNamespace="t"><bpmn:process id="{pid}" isExecutable="true"/></bpmn:definitions>')


def definition(id_, key="petition_case", version=1, sources=None):
    return ProcessDefinition(id=id_, process_key=key, version=version,
                             sources_json=json.dumps(sources or {}, ensure_ascii=False))


def case(status="waiting"):
    return SimpleNamespace(status=status)


@pytest.mark.parametrize("status, current, target, words", [
    ("waiting", definition(1, version=1), definition(2, version=2), ""),
    ("completed", definition(1, version=1), definition(2, version=2), "已办结"),
    ("incident", definition(1, version=1), definition(2, version=2), "异常"),
    ("waiting", definition(2, version=2), definition(2, version=2), "已在版本 2"),
    ("waiting", definition(3, version=3), definition(2, version=2), "只能迁移到更新的版本"),
    ("waiting", definition(1, version=1), definition(5, key="simple_case", version=2), "不能迁移到流程 simple_case"),
])
def test_refusals_before_any_replay(status, current, target, words):
    reason = _refusal(case(status), current, target)
    assert (reason == "") if not words else (words in reason)


def test_describe_counts_the_verdicts():
    checks = [CaseCheck(1, "X-1", 1, 2, True), CaseCheck(2, None, 1, 2, False, "原因")]
    result = describe(checks)
    assert (result["can_move"], result["cannot_move"]) == (1, 1)
    assert result["cases"][1]["reason"] == "原因" and result["cases"][0]["case_no"] == "X-1"


def test_a_draft_bundle_is_the_base_version_with_the_changes():
    base = definition(7, sources={"petition_case.bpmn": BPMN.format(pid="petition_case"),
                                  "leader_13710.bpmn": BPMN.format(pid="leader_13710"),
                                  "settings.dmn": "<dmn/>"})
    assert drafts.main_file(base) == "petition_case.bpmn"
    files = {f.name: f.content.decode() for f in drafts.bundle(base, {"settings.dmn": "<changed/>"})}
    assert files["settings.dmn"] == "<changed/>"
    assert files["leader_13710.bpmn"] == BPMN.format(pid="leader_13710")
    assert set(files) == {"petition_case.bpmn", "leader_13710.bpmn", "settings.dmn"}


def test_a_version_without_its_own_diagram_is_reported():
    base = definition(7, sources={"other.bpmn": BPMN.format(pid="other")})
    with pytest.raises(drafts.DraftError) as err:
        drafts.main_file(base)
    assert "找不到" in str(err.value)
