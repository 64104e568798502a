"""A case's public progress (the petitioner's query by case number and query code): dates of registration and
of each milestone, the responsible unit's name and the current stage; no notes, no names, no personal data."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from engine.clock import SHANGHAI
from engine.store import Case, JournalEvent, WorkItem
from services import case_numbers, element_meanings, query_code
from services.element_meanings import ElementMeanings
from services.index_key import IndexKey

PROCESS = "petition_case"

# public milestones: the meaning of a completed task (processes/meanings.yaml) -> what the petitioner sees
MILESTONES = {
    "triage": "转送、交办", "sign": "责任单位签收", "acceptance": "作出受理决定", "handling": "出具答复意见",
    "signoff": "审核办结", "review": "复查意见", "rereview": "复核意见", "rating": "评价",
}
# the stage: the meaning of an open task -> what the petitioner sees (any other open task: 办理中)
STAGES = {
    "triage": "登记后分流中", "sign": "已转送、交办，待责任单位签收", "objection": "已转送、交办，待责任单位签收",
    "acceptance": "责任单位审查是否受理", "handling": "办理中", "extension_approval": "办理中",
    "signoff": "已答复，审核办结中", "rating": "已办结，待评价", "review": "复查中", "rereview": "复核中",
}


def labels_by_element(labels: dict[str, str], meanings: ElementMeanings | None = None) -> dict[str, str]:
    """element id -> label, for the elements of the case process that have the meanings `labels` names (every id
    meanings.yaml lists for it, earlier versions' too)."""
    meanings = meanings or element_meanings.default_meanings()
    out: dict[str, str] = {}
    for meaning, label in labels.items():
        for element in meanings.ordered(meaning, PROCESS):
            out.setdefault(element, label)
    return out


def find_case(c, key: IndexKey, case_no: str, code: str) -> dict | None:
    """The progress of the case numbered `case_no` (normalised) if `code` is its query code, else None. A wrong
    number and a wrong code do the same work."""
    keys = case_numbers.keys_for(c.settings.secret_key, c.settings.previous_secret_keys)
    with c.session_factory() as s:
        ids = case_numbers.candidate_ids(case_no, keys, s.scalar(select(func.max(Case.id))) or 0)
        case, data = None, None
        rows = s.scalars(select(Case).where(Case.process_key == PROCESS, Case.id.in_(ids))) if ids else []
        for row in rows:
            if not _registered_on(row, case_no[8:16]):
                continue
            row_data = c.runtime.case_data(s, row)
            if row_data.get("case_no") == case_no:
                case, data = row, row_data
                break
        if not query_code.check(code, data, key) or case is None:
            return None
        return _progress(s, case, data)


def _registered_on(case: Case, day: str) -> bool:
    """Whether the case was made within a day of the date in its number (numbering runs when the case starts):
    the one cheap test that leaves only the case itself among the ids a number may belong to."""
    created = case.created_at.astimezone(SHANGHAI).date()
    try:
        numbered = datetime.strptime(day, "%Y%m%d").date()
    except ValueError:
        return False
    return abs((created - numbered).days) <= 1


def _day(at) -> str:
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.astimezone(SHANGHAI).date().isoformat()


def _progress(s, case: Case, data: dict, meanings: ElementMeanings | None = None) -> dict:
    milestones_of, stages_of = labels_by_element(MILESTONES, meanings), labels_by_element(STAGES, meanings)
    events = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case.id,
                                                  JournalEvent.type == "task.completed",
                                                  JournalEvent.element_id.in_(list(milestones_of)))
                       .order_by(JournalEvent.seq)).all()
    milestones = [{"step": "登记", "date": _day((data.get("registration") or {}).get("registered_at")
                                                or case.created_at)}]
    milestones += [{"step": milestones_of[e.element_id], "date": _day(e.at)} for e in events]
    open_items = s.scalars(select(WorkItem.element_id).where(WorkItem.case_id == case.id,
                                                            WorkItem.state == "open")).all()
    if open_items:
        stage = "；".join(dict.fromkeys(stages_of.get(e, "办理中") for e in open_items))
    else:
        stage = _closed_stage(data) if case.status == "completed" else "办理中"
    return {"case_no": data.get("case_no"), "channel": data.get("channel"), "stage": stage,
            "unit_name": _unit_name(data), "milestones": milestones}


def _closed_stage(data: dict) -> str:
    """已办结, or 已撤回（终止办理） when the case ended on the petitioner's withdrawal (services/withdrawal.py)."""
    return "已撤回（终止办理）" if isinstance(data.get("withdrawal"), dict) else "已办结"


def progress_of(s, case: Case, data: dict) -> dict:
    """The public progress of `case` (the petitioner's portal shows the same, services/portal.py)."""
    return _progress(s, case, data)


def _unit_name(data: dict) -> str | None:
    for key in ("assignment", "responsible", "routing"):
        value = data.get(key)
        if isinstance(value, dict):
            for name in ("unit_name", "responsible_unit_name"):
                if isinstance(value.get(name), str):
                    return value[name]
    return None
