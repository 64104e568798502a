"""问责 (holding to account): the fourth responsibility of 明责、履责、督责、问责.

The office that supervises a unit (`supervisor_of`: the petition office one level up; the bureau for the units in
its area) records against that unit, or against one of its people, on a case: an interview (约谈), a circular of
criticism (通报), a deadline for correction (限期整改) or an accountability recommendation to the organ with
authority (追责建议) — 《信访工作条例》第三十九条、第四十条, disciplinary handling under 第四十二条至第四十六条.

Each record
* is a row of the case's accountability register (`case_register`, register `accountability`), shown beside the
  four lists (services/four_lists.py, kind 问责) and counted in the annual per-unit report (`annual_report`);
* has a reason and a limit: the days within which the unit reports back in writing, per kind a setting of
  processes/settings.dmn (typed and bounded in services/deadline_settings.py); the recorder may give fewer days
  within the setting's bounds;
* starts a linked case, processes/accountability_feedback.bpmn (`start_case`), whose task is the unit's written
  feedback (书面反馈, its people or its head): a reminder before the limit, and a missed limit is reported to the
  office above the recording office (or, at the top of the chart, to the leaders of its level), which supervises
  (督办 row) until the feedback is filed;
* is journaled on the case (`case.accountability_recorded`, with actor and time).

Who may record is web/visibility.py's decision (`accountability_office`): it names the office in whose name the
caller records, or refuses; the unit itself never records against itself.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.case_chain import append_case_events, lock_case
from engine.clock import SHANGHAI
from engine.commands import StartCase
from engine.effects import EffectContext
from engine.handlers import HandlerContext
from engine.journal import PendingEvent
from engine.store import Case, CaseRegister, WorkItem

from . import four_lists, notices
from .colleagues import colleagues_in
from .deadline_settings import BY_NAME
from .notify import due_date_text, send, to_offices, unit_recipients
from .orgchart import OrgChart, chart_for
from .refusals import Refused
from .supervision import supervising_role, supervisor_of

# kind -> the setting (processes/settings.dmn) of the days the unit has to report back in writing
KINDS = {
    "约谈": "limits.accountability_interview_days",
    "通报": "limits.accountability_circular_days",
    "限期整改": "limits.rectify_days",
    "追责建议": "limits.accountability_recommend_days",
}
REGISTER = four_lists.REGISTERS[four_lists.ACCOUNTABILITY]
FEEDBACK_PROCESS = "accountability_feedback"
LINKED_PROCESSES = (FEEDBACK_PROCESS, "supervision_feedback")  # feedback cases: accountability is the parent's
AWAITING, FILED, OVERDUE = "待反馈", "已反馈", "逾期未反馈，已报上一级督办"
MAX_REASON_CHARS = 500


class AccountabilityRefused(Refused):
    """Not recorded: `status` 403 (not the caller's to record), 409 (the case is closed) or 422 (what to fill in)."""


@dataclass(frozen=True)
class Request:
    unit: str
    kind: str
    reason: str
    person: str = ""  # a person of that unit, or empty: the unit itself
    limit_days: int | None = None  # empty: the setting's number of days


def limit_bounds(kind: str) -> tuple[int, int]:
    setting = BY_NAME[KINDS[kind]]
    return setting.minimum, setting.maximum


def chart_of(runtime) -> OrgChart:
    return chart_for(SimpleNamespace(ports=runtime.ports))


def assigning_unit(data: dict | None) -> str | None:
    assignment = (data or {}).get("assignment")
    return assignment.get("assigning_unit") if isinstance(assignment, dict) else None


def units_of_case(s: Session, case_id: int) -> list[str]:
    """The units the case concerns: those that held one of its tasks, and those of its register rows."""
    units = set(s.scalars(select(WorkItem.unit).where(WorkItem.case_id == case_id, WorkItem.unit.is_not(None))))
    units |= set(s.scalars(select(CaseRegister.unit).where(CaseRegister.case_id == case_id,
                                                           CaseRegister.unit.is_not(None))))
    return sorted(units)


def targets(s: Session, case_id: int, chart: OrgChart, office_for: Callable[[str], str | None]) -> list[dict]:
    """The units of the case the caller may record against, each with the office in whose name (for the form)."""
    out = []
    for unit in units_of_case(s, case_id):
        if not chart.has(unit):
            continue
        office = office_for(unit)
        if office is not None:
            out.append({"unit": unit, "unit_name": chart.name(unit), "office": office,
                        "office_name": chart.name(office),
                        "people": [{"username": u, "name": n} for u, n in colleagues_in(s, unit)]})
    return out


def _check(req: Request, chart: OrgChart, office: str | None, concerned: list[str], people: list) -> str:
    """The reason, checked; raises AccountabilityRefused saying what to change."""
    if not chart.has(req.unit):
        raise AccountabilityRefused(422, f"单位“{req.unit}”不在组织机构中，请从本件涉及的单位中选择。")
    if office is None:
        raise AccountabilityRefused(403, f"对「{chart.name(req.unit)}」问责由其上一级信访部门（或其辖区的信访局）记录；"
                                         "被问责单位自己和辖区外的部门不能记录。")
    if req.unit not in concerned:
        raise AccountabilityRefused(422, f"「{chart.name(req.unit)}」没有办理过本件，请从本件涉及的单位中选择。")
    if req.kind not in KINDS:
        raise AccountabilityRefused(422, f"问责方式应为 {'、'.join(KINDS)} 之一。")
    if req.person and req.person not in {u for u, _ in people}:
        raise AccountabilityRefused(422, f"“{req.person}”不是「{chart.name(req.unit)}」的工作人员，请从该单位人员中选择。")
    low, high = limit_bounds(req.kind)
    if req.limit_days is not None and (isinstance(req.limit_days, bool) or not isinstance(req.limit_days, int)
                                       or not low <= req.limit_days <= high):
        raise AccountabilityRefused(422, f"{req.kind}的书面反馈期限应为 {low} 到 {high} 日之间的整数，或留空按时限设置。")
    text = (req.reason or "").strip()
    if not text:
        raise AccountabilityRefused(422, "请写明问责事由。")
    if len(text) > MAX_REASON_CHARS:
        raise AccountabilityRefused(422, f"问责事由请控制在 {MAX_REASON_CHARS} 字以内。")
    return text


def record(runtime, s: Session, case_id: int, actor: str, req: Request, office_for: Callable[[str], str | None],
           now: datetime) -> dict:
    """Record the accountability inside the caller's transaction: the register row, the notice to the unit (and
    its head), the linked written-feedback case and the journal event. `office_for(unit)` is the access policy's
    answer (web/visibility.py): the office in whose name the caller records against `unit`, or None."""
    view = runtime.get_case(case_id)
    if view.process_key in LINKED_PROCESSES:
        raise AccountabilityRefused(422, "问责记在信访事项上，请在原信访事项的案件页记录。")
    chart = chart_of(runtime)
    concerned = units_of_case(s, case_id)
    if not any(office_for(unit) for unit in concerned if chart.has(unit)):
        raise AccountabilityRefused(403, "您不是本件承办单位的上一级信访部门，不能记录问责。"
                                         "问责由被问责单位的上一级信访部门（或其辖区的信访局）记录。")
    office = office_for(req.unit) if chart.has(req.unit) else None
    people = colleagues_in(s, req.unit) if chart.has(req.unit) else []
    reason = _check(req, chart, office, concerned, people)
    lock_case(s, case_id)
    case = s.get(Case, case_id)
    data = dict(view.data or {})
    taken = s.scalars(select(CaseRegister.key).where(CaseRegister.case_id == case_id,
                                                     CaseRegister.register == REGISTER)).all()
    key = f"问责-{data.get('case_no') or case_id}-{len(taken) + 1}"
    row = {"case_id": case_id, "case_no": data.get("case_no"), "case_title": data.get("title") or "信访事项",
           "unit": req.unit, "unit_name": chart.name(req.unit), "kind": req.kind, "reason": reason,
           "item": f"{req.kind}：{reason}", "person": req.person or None,
           "person_name": dict(people).get(req.person) if req.person else None, "by": office,
           "by_name": chart.name(office), "by_role": supervising_role(chart, office), "recorded_by": actor,
           "recorded_at": now.isoformat(), "limit_days": req.limit_days, "limit_key": KINDS[req.kind].removeprefix("limits."),
           "status": AWAITING}
    ctx = _context(runtime, s, case_id, "accountability", now, actor, data)
    ctx.emit("register", action="open", register=REGISTER, key=key, unit=req.unit, person=req.person or None,
             data=row)
    to = unit_recipients(req.unit, head=True)
    notice = send(ctx, to, "问责", {"case_no": row["case_no"] or "", "kind": req.kind, "by": row["by_name"],
                                  "reason": reason})
    to_offices(ctx, to, notices.default_catalogue().inbox_template("问责"),
               {"case_no": row["case_no"] or str(case_id), "title": row["case_title"], "unit": row["unit_name"],
                "supervising_unit": row["by_name"], "kind": req.kind, "reason": reason})
    ctx.emit("start_case", process_key=FEEDBACK_PROCESS, data={
        "accountability": dict(row, key=key), "parent_case_no": data.get("case_no"),
        "title": f"问责书面反馈（{req.kind}）：{row['unit_name']}"})
    started = _apply(runtime, s, case, ctx, now, actor)
    done = {"key": key, "unit": req.unit, "unit_name": row["unit_name"], "person": req.person or None,
            "kind": req.kind, "reason": reason, "office": office, "office_name": row["by_name"],
            "limit_days": req.limit_days, "notified": notice["to"],
            "feedback_case_id": started.id if started is not None else None, "feedback_process": FEEDBACK_PROCESS}
    due = _feedback_due(s, started.id) if started is not None else None
    if due is not None:  # the row says by when: the report counts a missed feedback before the timer fires
        done["feedback_due_at"] = due.isoformat()
        runtime.script_engine.sinks["register"](
            s, {"register": REGISTER, "key": key, "action": "open", "data": dict(row, due=due.isoformat())},
            EffectContext(case, "accountability", now, actor, f"{case.last_seq}.accountability.due"))
    append_case_events(s, case_id, [PendingEvent("case.accountability_recorded", actor, now, None, done)])
    return done


def _context(runtime, s: Session, case_id: int, element_id: str, now: datetime, actor: str,
             data: dict) -> HandlerContext:
    ports = dict(runtime.ports)
    directory = getattr(runtime.script_engine, "directory", None)
    if directory is not None:
        ports.setdefault("directory", directory(s))
    return HandlerContext(case_id=case_id, element_id=element_id, now=now, actor=actor, data=data, ports=ports)


def _apply(runtime, s: Session, case: Case, ctx: HandlerContext, now: datetime, actor: str):
    """Write the effects the way a step's are written; the start_case one starts the linked case."""
    started = None
    for i, (kind, payload) in enumerate(ctx.effects):
        if kind == "start_case":
            started = runtime.execute(StartCase(payload["process_key"], dict(payload.get("data") or {}),
                                                parent_case_id=case.id), actor, session=s)
            continue
        runtime.script_engine.sinks[kind](s, payload, EffectContext(case, ctx.element_id, now, actor,
                                                                    f"{case.last_seq}.accountability.{i}"))
    return started


def _feedback_due(s: Session, feedback_case_id: int) -> datetime | None:
    return s.scalar(select(WorkItem.due_at).where(WorkItem.case_id == feedback_case_id, WorkItem.state == "open")
                    .limit(1))


def case_rows(s: Session, case_id: int) -> list[dict]:
    """The accountability records of one case, oldest first."""
    rows = s.scalars(select(CaseRegister).where(CaseRegister.case_id == case_id, CaseRegister.register == REGISTER)
                     .order_by(CaseRegister.id))
    return [{"key": r.key, "unit": r.unit, "person": r.person, "status": r.status, "data": json.loads(r.data or "{}"),
             "opened_at": r.opened_at, "updated_at": r.updated_at, "closed_at": r.closed_at} for r in rows]


# ---------------------------------------------------------------- the feedback case (accountability_feedback)

@dataclass
class FeedbackInput:
    accountability: dict
    text: str
    due: str = ""


def file_feedback(inp: FeedbackInput, ctx: HandlerContext) -> dict:
    """记录被问责单位的书面反馈，问责记录记为“已反馈”（逾期的注明逾期）；已报上一级督办的，督办记录一并记为已反馈。"""
    text = (inp.text or "").strip()
    if not text:
        raise ValueError("书面反馈内容为空（the written feedback is empty）")
    acc = inp.accountability
    late = bool(inp.due) and ctx.now > datetime.fromisoformat(inp.due)
    row = dict(_row(acc), status=FILED, feedback=text, feedback_at=ctx.now.isoformat(), feedback_by=ctx.actor,
               feedback_late=late, due=inp.due or None)
    _parent_row(ctx, REGISTER, acc["key"], row, person=acc.get("person"))
    if late:  # the office above supervises a missed feedback (escalate): its 督办 row is answered too
        _parent_row(ctx, four_lists.REGISTERS["督办"], f"督办-{acc['key']}",
                    dict(_supervision_row(chart_for(ctx), acc, []), status=FILED, feedback=text,
                         feedback_at=ctx.now.isoformat(), feedback_by=ctx.actor, feedback_late=True))
    return row


def _above(chart: OrgChart, acc: dict) -> tuple[str, str, list[dict]]:
    """Who a missed feedback goes to: the office above the recording office (its supervising role), or at the top
    of the chart the leaders of the recording office's level. (code, name, recipients)"""
    above = supervisor_of(chart, acc["by"])
    if above is not None:
        return above.code, above.name, [{"unit": above.code, "role": supervising_role(chart, above.code)}]
    level = chart.level_of(acc["by"])
    return level.code, level.name, [{"unit": level.code, "role": "leader"}]


def _supervision_row(chart: OrgChart, acc: dict, notified: list) -> dict:
    by, by_name, _ = _above(chart, acc)
    return {"case_id": acc.get("case_id"), "case_no": acc.get("case_no"), "unit": acc["unit"],
            "unit_name": acc["unit_name"], "item": f"问责书面反馈（{acc['kind']}）", "kind": "督办", "by": by,
            "by_name": by_name, "status": "待反馈", "note": f"{acc['by_name']}{acc['kind']}后逾期未书面反馈",
            "notified": notified}


@dataclass
class RemindInput:
    accountability: dict
    due: str


def remind(inp: RemindInput, ctx: HandlerContext) -> dict:
    """临近书面反馈期限，催报：通知被问责单位及其负责人。"""
    acc = inp.accountability
    to = unit_recipients(acc["unit"], head=True)
    due = due_date_text(inp.due, ctx)
    notice = send(ctx, to, "问责催报", {"case_no": acc.get("case_no") or "", "kind": acc["kind"], "due": due})
    users = to_offices(ctx, to, notices.default_catalogue().inbox_template("问责催报"),
                       {"case_no": acc.get("case_no") or str(acc.get("case_id")), "title": acc.get("case_title") or "",
                        "unit": acc["unit_name"], "kind": acc["kind"], "report_by": due})
    _parent_row(ctx, REGISTER, acc["key"], dict(_row(acc), reminded_at=ctx.now.isoformat(), due=inp.due),
                person=acc.get("person"))
    return {"to": notice["to"], "users": users}


@dataclass
class EscalateInput:
    accountability: dict
    due: str


def escalate(inp: EscalateInput, ctx: HandlerContext) -> dict:
    """逾期未书面反馈：报问责单位的上一级信访部门（最高一级报本级领导）督办，督办清单新增一条，问责记录记为逾期未反馈；
    书面反馈仍须报送。返回督办记录（escalated）。"""
    acc = inp.accountability
    chart = chart_for(ctx)
    by, _, to_above = _above(chart, acc)
    due = due_date_text(inp.due, ctx)
    to = [*to_above, *unit_recipients(acc["unit"], head=True)]
    notice = send(ctx, to, "问责逾期", {"case_no": acc.get("case_no") or "", "kind": acc["kind"],
                                    "unit": acc["unit_name"], "by": acc["by_name"], "due": due})
    users = to_offices(ctx, to, notices.default_catalogue().inbox_template("问责逾期"),
                       {"case_no": acc.get("case_no") or str(acc.get("case_id")), "title": acc.get("case_title") or "",
                        "unit": acc["unit_name"], "kind": acc["kind"], "supervising_unit": acc["by_name"],
                        "report_by": due})
    _parent_row(ctx, REGISTER, acc["key"], dict(_row(acc), status=OVERDUE, due=inp.due, escalated_at=ctx.now.isoformat(),
                                                escalated_to=by), person=acc.get("person"))
    key = f"督办-{acc['key']}"
    row = _supervision_row(chart, acc, notice["to"])
    _parent_row(ctx, four_lists.REGISTERS["督办"], key, row)
    return {"key": key, "row": row, "users": users}


def _row(acc: dict) -> dict:
    return {k: v for k, v in acc.items() if k != "key"}


def _parent_row(ctx: HandlerContext, register: str, key: str, row: dict, person: str | None = None) -> dict:
    row = dict(row, key=key, updated_at=ctx.now.isoformat())
    fields = dict(register=register, key=key, unit=row.get("unit"), person=person, data=row, of_parent=True)
    ctx.emit("register", action="open", **fields)
    if row.get("status") in four_lists.CLOSED_STATUSES:
        ctx.emit("register", action="close", **fields)
    return row


# ---------------------------------------------------------------- the annual per-unit report

REPORT_COLUMNS = ("约谈", "通报", "限期整改", "追责建议", "on_time", "late", "missing", "pending")


def _year_of(instant: str | None) -> int | None:
    if not instant:
        return None
    return datetime.fromisoformat(instant).astimezone(SHANGHAI).year


def feedback_state(data: dict, now: datetime) -> str:
    """on_time, late (filed after the limit), missing (the limit passed, nothing filed) or pending."""
    if data.get("status") == FILED:
        return "late" if data.get("feedback_late") else "on_time"
    if data.get("status") == OVERDUE or (data.get("due") and now > datetime.fromisoformat(data["due"])):
        return "missing"
    return "pending"


def annual_rows(s: Session, year: int, *, served: Iterable[str] | None = None, case_condition=None) -> list[dict]:
    q = select(CaseRegister).where(CaseRegister.register == REGISTER)
    if served is not None:
        q = q.where(CaseRegister.unit.in_(sorted(served)))
    if case_condition is not None:
        q = q.where(case_condition)
    rows = []
    for r in s.scalars(q.order_by(CaseRegister.id)):
        data = json.loads(r.data or "{}")
        if _year_of(data.get("recorded_at")) == year:
            rows.append(dict(data, case_id=r.case_id, unit=r.unit))
    return rows


def annual_report(rows: list[dict], year: int, now: datetime, names: dict[str, str]) -> dict:
    """Per unit: counts per kind, written feedback on time / late / missing / pending, and the cases concerned."""
    units: dict[str, dict] = {}
    for row in rows:
        u = units.setdefault(row["unit"], {"unit": row["unit"], "unit_name": names.get(row["unit"], row["unit"]),
                                           "total": 0, **{c: 0 for c in REPORT_COLUMNS}, "cases": [],
                                           "people": []})
        u["total"] += 1
        u[row["kind"]] = u.get(row["kind"], 0) + 1
        u[feedback_state(row, now)] += 1
        case = row.get("case_no") or str(row["case_id"])
        if case not in u["cases"]:
            u["cases"].append(case)
        if row.get("person") and row["person"] not in u["people"]:
            u["people"].append(row["person"])
    out = sorted(units.values(), key=lambda u: (-u["total"], u["unit"]))
    return {"year": year, "units": out, "total": sum(u["total"] for u in out)}
