"""The petitioner's public progress names its milestones and stages by element meaning (processes/meanings.yaml):
a new process version that renames a step keeps the petitioner's milestones once meanings.yaml lists the new id."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI
from engine.db import Base
from engine.store import Case, JournalEvent, WorkItem
from services import public_progress
from services.element_meanings import ElementMeanings

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (ROOT / "processes" / "meanings.yaml").read_text(encoding="utf-8")
# the acceptance task renamed in a new version; the old id stays for the cases that ran on the old one
RENAMED = SHIPPED.replace("  acceptance: [Task_accept]\n", "  acceptance: [Task_decide_acceptance]\n"
                          "  earlier_versions:\n    acceptance: [Task_accept]\n", 1)


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T10:00:00").replace(tzinfo=SHANGHAI)


def test_the_shipped_milestones_and_stages_name_the_steps_by_meaning():
    milestones = public_progress.labels_by_element(public_progress.MILESTONES, ElementMeanings.from_text(SHIPPED))
    assert milestones["Task_accept"] == "作出受理决定" and milestones["Task_rating"] == "评价"
    assert milestones["Task_review"] == "复查意见" and milestones["Task_rereview"] == "复核意见"
    assert len(milestones) == len(public_progress.MILESTONES)
    stages = public_progress.labels_by_element(public_progress.STAGES, ElementMeanings.from_text(SHIPPED))
    assert stages["Task_decide_objection"] == stages["Task_sign"] == "已转送、交办，待责任单位签收"
    assert stages["Task_approve_extension"] == "办理中"


def test_the_public_milestones_follow_a_renamed_element_listed_in_the_meanings():
    renamed = ElementMeanings.from_text(RENAMED)
    milestones = public_progress.labels_by_element(public_progress.MILESTONES, renamed)
    assert milestones["Task_decide_acceptance"] == milestones["Task_accept"] == "作出受理决定"
    assert "Task_decide_acceptance" not in public_progress.labels_by_element(
        public_progress.MILESTONES, ElementMeanings.from_text(SHIPPED))

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[Case.__table__, WorkItem.__table__, JournalEvent.__table__])
    with Session(engine) as s:
        case = Case(id=1, definition_id=1, process_key="petition_case", status="waiting", version=1, state="{}",
                    state_format="x", summary_json="{}", created_at=at("2026-03-01"), updated_at=at("2026-03-01"),
                    started_by="desk")
        s.add(case)
        for seq, (element, day) in enumerate([("Task_triage", "2026-03-01"), ("Task_sign", "2026-03-02"),
                                              ("Task_decide_acceptance", "2026-03-04")], 1):
            s.add(JournalEvent(case_id=1, seq=seq, at=at(day), actor="x", type="task.completed", element_id=element,
                               data="{}", prev_hash="", hash=str(seq)))
        s.add(WorkItem(case_id=1, task_id="t", element_id="Task_handle", process_key="petition_case", state="open",
                       created_at=at("2026-03-04")))
        s.flush()
        data = {"case_no": "XF1", "registration": {"registered_at": "2026-03-01T09:00:00+08:00"}}
        progress = public_progress._progress(s, case, data, renamed)
    assert [m["step"] for m in progress["milestones"]] == ["登记", "转送、交办", "责任单位签收", "作出受理决定"]
    assert progress["milestones"][-1]["date"] == "2026-03-04" and progress["stage"] == "办理中"
