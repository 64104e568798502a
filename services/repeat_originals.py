"""Repeat petitions (重复信访) and their originals, both ways.

At triage, a repeat names its original by case number. `describe` finds the original and says how far it got: still
in handling (办理中: the repeat is merged into it), closed (已办结: signed off, or settled on the spot: the repeat is
not accepted, 不予受理), or final after re-review (已终结: the same facts are not accepted again, 不再受理; 信访工作条例
第三十六条). The desk puts that description into the triage data (`original`), so the merge step (services.casework.
merge_repeat) decides from what the journal shows was known at the time, and an unknown number is refused at
submission instead of becoming an incident (`triage_problems`).

The merge step's `repeat_link` effect (`link_sink`) records the pair in the `repeat_link` table: the original's case
page shows its repeats (`repeats_of`), the repeat shows its original (`original_of`).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, or_, select

from engine.effects import EffectContext, EffectError
from engine.store import Case, JournalEvent
from infra.driver_reads import DriverSelect
from services import case_lookup, case_numbers, element_meanings
from services.store.handling import RegistrationIndex, RepeatLink

PROCESS = "petition_case"
LINK_EFFECT = "repeat_link"
REPEAT_ROUTE = "重复信访"
ACCUSATION_ROUTE = "检举控告"
IN_HANDLING, CLOSED, FINAL = "办理中", "已办结", "已终结"
MAX_HOPS = 5  # an original that was itself a repeat: follow it to its own original, this far


def _completed(s, case_id: int, meaning: str) -> list[JournalEvent]:
    elements = sorted(element_meanings.elements(meaning))
    return list(s.scalars(select(JournalEvent).where(
        JournalEvent.case_id == case_id, JournalEvent.type == "task.completed",
        JournalEvent.element_id.in_(elements)).order_by(JournalEvent.seq)))


def stage(s, case: Case, data: dict) -> str:
    """办理中, 已办结 or 已终结 (after 复核) for a petition case, from its journal and data."""
    if _completed(s, case.id, "rereview"):
        return FINAL
    if _completed(s, case.id, "signoff") and data.get("signoff_approved") is True:
        return CLOSED
    if case.status == "completed" and data.get("route") == "当场化解":
        return CLOSED
    return IN_HANDLING


def find_original(s, case_no: str, keys=()) -> Case | None:
    """The petition case numbered `case_no` (as typed), or None."""
    number = case_lookup.normal_case_no(case_no)
    if not number:
        return None
    ids = case_lookup.find_cases(s, number, keys) if number.startswith("XF") else []
    ids += list(s.scalars(select(RegistrationIndex.case_id).where(RegistrationIndex.case_no == number)))
    for case_id in dict.fromkeys(ids):
        case = s.get(Case, case_id)
        if case is not None and case.process_key == PROCESS:
            return case
    return None


def describe(s, runtime, case_no: str, keys=(), exclude: int | None = None) -> dict | None:
    """The original named by `case_no`, as the merge step needs it: id, number, stage, responsible unit and
    registration date; None when there is no such petition case, it is the case itself, or it is confidential
    (an accusation is never named to the desk). An original that was itself merged as a repeat leads to its own
    original."""
    if not keys:  # the numbering key the runtime's handlers use (services.case_numbers), when it has one
        key = (getattr(runtime, "ports", None) or {}).get(case_numbers.PORT)
        keys = [key] if key is not None else []
    case = find_original(s, case_no, keys)
    for _ in range(MAX_HOPS):
        if case is None or case.id == exclude or case.confidential:
            return None
        link = s.get(RepeatLink, case.id)
        if link is None or link.original_case_id is None:
            break
        case = s.get(Case, link.original_case_id)
    data = runtime.case_data(s, case)
    number = data.get("case_no") or case.case_no or case_lookup.normal_case_no(case_no)
    return {"case_id": case.id, "case_no": number, "stage": stage(s, case, data),
            "unit": (data.get("assignment") or {}).get("unit") or "",
            "registered_at": case.created_at.isoformat()}


SKIP_LEVEL_ROUTE = "越级访"  # 第二十条: only where registration found the matter belongs to a lower level


def triage_problems(s, runtime, case_id: int, case_data: dict, values: dict, keys=()) -> dict[str, str]:
    """What the triage form cannot be submitted with (field -> message); fills `values["original"]` (and the
    original's unit, when not given) for a repeat. The desk calls it for the task whose meaning is `triage`."""
    route = values.get("route")
    if route == ACCUSATION_ROUTE:
        level = values.get("respondent_level") or case_data.get("respondent_level")
        if not level:
            return {"respondent_level": "检举控告须注明被反映人管理权限（乡科级及以下、县管、市管、省管），以便按干部管理"
                                        "权限移送（respondent_level is required for an accusation）"}
        values["respondent_level"] = level
        # 选人用人 marked at registration or at triage (an unticked box on the triage page does not clear it)
        values["cadre_selection"] = bool(values.get("cadre_selection") or case_data.get("cadre_selection"))
    if route == SKIP_LEVEL_ROUTE and not (case_data.get("registration") or {}).get("skip_level"):
        return {"route": "问题发生地属本级管辖，不是越级访（《信访工作条例》第二十条）：请改选交办转送等分流方式"
                         "（not a skipped level: the matter belongs to this office's own level）"}
    if route != REPEAT_ROUTE:
        values.pop("original", None)  # what the merge step reads is never taken from the submission
        return {}
    given = str(values.get("original_case_no") or "")
    original = describe(s, runtime, given, keys, exclude=case_id) if given else None
    if original is None:
        return {"original_case_no": f"原信访事项编号“{given}”不存在或不能作为原件，请核对编号后再提交"
                                    "（no petition case with this number; check the original's case number）"}
    values["original"] = original
    values["original_case_no"] = original["case_no"]
    if original["unit"] and not values.get("original_unit"):
        values["original_unit"] = original["unit"]
    return {}


# ---------------------------------------------------------------- the link, both ways

def link_sink(s, payload: dict, ctx: EffectContext) -> dict:
    """The `repeat_link` effect of the merge step: the repeat (this case) and its original, by number."""
    number, outcome = payload.get("original_case_no"), payload.get("outcome")
    if not isinstance(number, str) or not number or not isinstance(outcome, str) or not outcome:
        raise EffectError("重复信访关联需要 original_case_no 和 outcome（a repeat link needs the original's number "
                          "and the outcome）")
    given = payload.get("original_case_id")  # found at triage (`describe`); else looked up by number
    original = s.get(Case, given) if isinstance(given, int) else None
    original = original if original is not None and original.id != ctx.case.id else find_original(s, number)
    row = s.get(RepeatLink, ctx.case.id)
    if row is None:
        row = RepeatLink(repeat_case_id=ctx.case.id)
        s.add(row)
    row.original_case_id = original.id if original is not None else None
    row.original_case_no, row.outcome, row.linked_at = number[:64], outcome[:16], ctx.now
    return {"original_case_id": row.original_case_id, "original_case_no": number, "outcome": outcome}


def _numbers(s, ids: list[int]) -> dict[int, str]:
    return case_lookup.case_numbers(s, ids) if ids else {}


# The repeats linked to a case with their registration time, in one statement built once (every case view asks).
_REPEATS_OF = select(RepeatLink, Case.created_at).join(Case, Case.id == RepeatLink.repeat_case_id) \
    .where(RepeatLink.original_case_id == bindparam("case_id")).order_by(RepeatLink.linked_at)


def repeats_of(s, case_id: int, visible=None) -> list[dict]:
    """The repeats merged into (or refused because of) case `case_id`, oldest first: number, date, outcome.
    `visible`: a condition on Case limiting which repeats are named (the others are only counted), or a function
    giving it, called only when the case has repeats (most have none: the condition is not built for them)."""
    return _repeats(s, s.execute(_REPEATS_OF, {"case_id": case_id}).all(), visible)


# A case's links both ways in one statement built once (every case view asks for both): the link that makes it a
# repeat, and the repeats linked to it, each with the repeat's registration time, oldest first.
# Run through the driver (infra/driver_reads.py): the link's columns, not a RepeatLink object.
_BOTH_WAYS = DriverSelect(
    select(RepeatLink.repeat_case_id, RepeatLink.original_case_id, RepeatLink.original_case_no, RepeatLink.outcome,
           RepeatLink.linked_at, Case.created_at).join(Case, Case.id == RepeatLink.repeat_case_id)
    .where(or_(RepeatLink.repeat_case_id == bindparam("case_id"), RepeatLink.original_case_id == bindparam("case_id")))
    .order_by(RepeatLink.linked_at))


def both_ways(s, case_id: int, visible=None) -> tuple[dict | None, list[dict]]:
    """(`original_of`, `repeats_of`) of case `case_id`, read in one statement."""
    rows = _BOTH_WAYS.rows(s, {"case_id": case_id})
    mine = next((link for link in rows if link.repeat_case_id == case_id), None)
    return _original(mine), _repeats(s, [(link, link.created_at) for link in rows
                                         if link.original_case_id == case_id], visible)


def _repeats(s, rows, visible) -> list[dict]:
    if rows and callable(visible):
        visible = visible()
    shown = set(s.scalars(select(Case.id).where(Case.id.in_([r.repeat_case_id for r, _ in rows]), visible))) \
        if visible is not None and rows else {r.repeat_case_id for r, _ in rows}
    numbers = _numbers(s, [r.repeat_case_id for r, _ in rows])
    return [{"case_id": r.repeat_case_id if r.repeat_case_id in shown else None,
             "case_no": numbers.get(r.repeat_case_id) if r.repeat_case_id in shown else None,
             "registered_at": _iso(created), "linked_at": _iso(r.linked_at), "outcome": r.outcome}
            for r, created in rows]


def original_of(s, case_id: int) -> dict | None:
    """The original a repeat was linked to: its id (None when it is not in this system), number, outcome."""
    return _original(s.get(RepeatLink, case_id))


def _original(link) -> dict | None:
    """`link`: a RepeatLink, or a row with its columns."""
    if link is None:
        return None
    return {"case_id": link.original_case_id, "case_no": link.original_case_no, "outcome": link.outcome,
            "linked_at": _iso(link.linked_at)}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None

