"""Reminders (催办), supervision notices (督办) and listed supervision (挂牌督办).

Reminders go to the unit doing the work when its deadline turns yellow; supervision notices go to the unit
and its head (单位负责人) when it turns red; listed supervision is decided by a joint meeting and goes to the
unit and its head as well. Each becomes a row of the supervision list (督办责任清单).

A 督办 is a task, not only a notice: it starts a linked supervision-feedback case
(`processes/supervision_feedback.bpmn`, through the `start_case` effect) whose first task is the unit's written
feedback (书面反馈), due `limits.supervision_report_workdays` working days on. Filing it closes the 督办 row
(已反馈, with its date and text); missing it lists the matter (挂牌督办: a new row, a notice to the unit and its
head) until the supervising office removes it (摘牌) with a reason. The rows stay the petition case's: the
feedback case writes them as the parent case's (`register` with `of_parent`). Why a separate process: the same
feedback loop follows every 督办 of every process (sign, acceptance, handling, co-opinions, review, 13710, the
joint-meeting tiers) without a copy of it behind each of their supervision steps.

Who supervises (`supervisor_of`): the petition office of the next level up. A department is supervised by the
petition office that assigned it the matter (the case's `assignment.assigning_unit`, when that is a petition
office of the department's level or above), else by its own level's petition office; a petition office or a
joint-meeting office by the petition office of the level above (a county's by the city bureau, the city's by the
provincial bureau). At the top of the chart, where no level is above, the level's own petition office supervises
its joint-meeting office: never an office of a lower level.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.handlers import HandlerContext

from . import four_lists, notices
from .notify import due_date_text, send, to_offices, unit_recipients
from .orgchart import OrgChart, OrgUnit, chart_for

KINDS = ("催办", "督办", "挂牌督办")
FEEDBACK_PROCESS = "supervision_feedback"
# Units of the petition system itself: supervised from the level above, not by their own level's bureau.
PETITION_SYSTEM = ("petition_office", "joint_meeting_office")
# Row statuses of the supervision list (督办清单) this module writes.
AWAITING, FILED, LATE, LISTED, DELISTED = "待反馈", "已反馈", "逾期未反馈，已挂牌督办", "挂牌督办", "已摘牌"


def supervisor_of(chart: OrgChart, unit: str, assigning_unit: str | None = None) -> OrgUnit | None:
    """The office that supervises `unit` (see the module docstring); None when the chart has none for it."""
    own = chart.get(unit)
    level = chart.level_of(unit)
    if own.kind in PETITION_SYSTEM or own.code == level.code:
        up = chart.level_up(unit)
        office = chart.child_of_kind(up.code, "petition_office") if up is not None else None
        if office is None and up is None:  # the top of the chart: the level's own bureau, if it is not the unit
            office = chart.child_of_kind(level.code, "petition_office")
        return office if office is not None and office.code != unit else None
    if chart.has(assigning_unit) and chart.get(assigning_unit).kind == "petition_office" \
            and chart.level_of(assigning_unit).code in {u.code for u in chart.ancestors(level.code)}:
        return chart.get(assigning_unit)
    return chart.child_of_kind(level.code, "petition_office")


def supervising_role(chart: OrgChart, office: str) -> str:
    """The role in which people of the supervising office act (摘牌): a county petition office's, the bureau's,
    or a joint-meeting office's."""
    unit = chart.get(office)
    if unit.kind == "joint_meeting_office":
        return "jointmeeting"
    return "county_office" if chart.level_of(office).kind == "county" else "bureau"


@dataclass
class SuperviseInput:
    kind: str
    unit: str
    task: str
    by: str = ""  # the supervising office; empty: the office that supervises `unit` (supervisor_of)
    role: str = "unit_handler"  # the role doing the overdue work in `unit`
    lead: int | None = None  # days of lead time of a reminder, for its wording
    note: str = ""
    due: str = ""  # the deadline (ISO instant it ends) the reminder or supervision is about
    report_by: str = ""  # supervision: the instant by which the unit reports back in writing


def supervise(inp: SuperviseInput, ctx: HandlerContext) -> dict:
    """催办、督办或挂牌督办：通知单位（督办、挂牌督办时同时通知单位负责人），站内通知进入发件箱，并记入督办清单；
    返回更新后的四个清单。"""
    if inp.kind not in KINDS:
        raise ValueError(f"督办类型应为 {'、'.join(KINDS)}，收到“{inp.kind}”（unknown supervision kind）")
    chart = chart_for(ctx)
    unit_name = chart.name(inp.unit)  # raises for an unknown unit: an incident is better than a lost notice
    head = inp.kind != "催办"
    by = inp.by or _supervisor_code(chart, inp.unit, ctx)
    by_name = chart.name(by) if chart.has(by) else (by or "上级信访部门")
    to = unit_recipients(inp.unit, head=head, role=inp.role)
    # a 督办 issued by hand before the deadline passed says why, not that the step is overdue
    key_of_notice = BY_REASON if inp.kind == "督办" and inp.note and not _overdue(inp.due, ctx) else inp.kind
    notice = send(ctx, to, key_of_notice, {"task": inp.task, "lead": inp.lead if inp.lead is not None else "",
                                           "by": by_name, "reason": inp.note})
    outbox_fields = _outbox_fields(inp, ctx, unit_name, by_name)
    if key_of_notice == BY_REASON:
        outbox_fields["reason"] = inp.note
    notice["inbox"] = to_offices(ctx, to, notices.default_catalogue().inbox_template(key_of_notice), outbox_fields)
    lists = ctx.data.get("four_lists")
    existing = (lists or {}).get("督办", {}) if isinstance(lists, dict) else {}
    prefix = f"{inp.kind}-{ctx.data.get('case_no') or ctx.case_id}-{ctx.element_id}-"
    key = f"{prefix}{len([k for k in existing if k.startswith(prefix)]) + 1}"
    row = {"case_id": ctx.case_id, "case_no": ctx.data.get("case_no"), "unit": inp.unit, "unit_name": unit_name,
           "item": inp.task, "kind": inp.kind, "by": by or None, "by_name": by_name,
           "status": (LISTED if inp.kind == "挂牌督办" else AWAITING) if head else "已提醒",
           "notified": notice["to"], "notice": notice["text"],
           "note": inp.note or None}
    lists = four_lists.put(ctx, "督办", key, row)
    if head and chart.has(by):
        _start_feedback(ctx, chart, inp, key, lists["督办"][key], by)
    return lists


BY_REASON = "督办（写明理由）"


def _overdue(due: str, ctx: HandlerContext) -> bool:
    """The deadline `due` (ISO instant) has passed at the step; a 督办 without a known deadline counts as overdue."""
    if not due:
        return True
    try:
        return datetime.fromisoformat(due) <= ctx.now
    except ValueError:
        return True


def _supervisor_code(chart: OrgChart, unit: str, ctx: HandlerContext) -> str:
    assignment = (ctx.data or {}).get("assignment")
    assigning = assignment.get("assigning_unit") if isinstance(assignment, dict) else None
    office = supervisor_of(chart, unit, assigning)
    return office.code if office is not None else ""


def _start_feedback(ctx: HandlerContext, chart: OrgChart, inp: SuperviseInput, key: str, row: dict,
                    by: str) -> None:
    """The linked case in which the unit files its written feedback (and which lists the matter if it does not)."""
    data = ctx.data or {}
    limits = data.get("limits") if isinstance(data.get("limits"), dict) else {}
    supervision = {"key": key, "kind": inp.kind, "unit": inp.unit, "unit_name": row["unit_name"], "role": inp.role,
                   "by": by, "by_name": row["by_name"], "by_role": supervising_role(chart, by), "task": inp.task,
                   "due": inp.due or None, "report_by": inp.report_by or None, "at": ctx.now.isoformat(),
                   "row": row, "case_no": data.get("case_no"), "case_id": ctx.case_id,
                   "case_title": data.get("title") or "信访事项"}
    # a 挂牌督办 decided by a joint meeting is listed from the start: its feedback case waits for 摘牌 only
    listed = {"key": key, "row": row} if inp.kind == "挂牌督办" else None
    ctx.emit("start_case", process_key=FEEDBACK_PROCESS, data={
        "supervision": supervision, "listed": listed, "parent_case_no": data.get("case_no"),
        "title": f"{'挂牌督办' if listed else '督办书面反馈'}：{inp.task}",
        "limits": {"supervision_report_workdays": limits.get("supervision_report_workdays", 3)}})


# ---------------------------------------------------------------- the feedback case (supervision_feedback)

@dataclass
class FeedbackInput:
    supervision: dict
    text: str


def file_feedback(inp: FeedbackInput, ctx: HandlerContext) -> dict:
    """记录被督办单位的书面反馈，督办清单中该条督办记为“已反馈”（the unit's written feedback closes its 督办 row）."""
    text = (inp.text or "").strip()
    if not text:
        raise ValueError("书面反馈内容为空（the written feedback is empty）")
    row = dict(inp.supervision["row"], status=FILED, feedback=text, feedback_at=ctx.now.isoformat(),
               feedback_by=ctx.actor, feedback_late=_after(ctx, inp.supervision.get("report_by")))
    return _parent_row(ctx, inp.supervision["key"], row)


@dataclass
class ListInput:
    supervision: dict
    report_by: str = ""  # the instant by which the listed unit reports in writing


def list_supervision(inp: ListInput, ctx: HandlerContext) -> dict:
    """逾期未书面反馈的，挂牌督办：督办清单新增一条挂牌督办记录，通知被督办单位及其负责人。返回该记录。"""
    sup = inp.supervision
    reason = f"“{sup['task']}”督办后逾期未书面反馈"
    to = unit_recipients(sup["unit"], head=True, role=sup.get("role") or "unit_handler")
    notice = send(ctx, to, "挂牌督办", {"task": sup["task"], "lead": "", "by": sup["by_name"],
                                      "case_no": sup.get("case_no") or ""})
    fields = {"case_no": sup.get("case_no") or "", "title": sup.get("case_title") or "信访事项",
              "unit": sup["unit_name"], "supervising_unit": sup["by_name"], "reason": reason,
              "report_by": due_date_text(inp.report_by, ctx)}
    notified = to_offices(ctx, to, notices.default_catalogue().inbox_template("挂牌督办"), fields)
    _parent_row(ctx, sup["key"], dict(sup["row"], status=LATE))
    key = f"挂牌督办-{sup['key']}"
    row = {"case_id": sup.get("case_id"), "case_no": sup.get("case_no"), "unit": sup["unit"],
           "unit_name": sup["unit_name"], "item": sup["task"], "kind": "挂牌督办", "by": sup["by"],
           "by_name": sup["by_name"], "status": LISTED, "note": reason, "notified": notice["to"],
           "notice": notice["text"], "listed_at": ctx.now.isoformat(), "inbox": notified}
    _parent_row(ctx, key, row)
    return {"key": key, "row": row}


@dataclass
class DelistInput:
    listed: dict
    reason: str


def delist_supervision(inp: DelistInput, ctx: HandlerContext) -> dict:
    """摘牌：督办单位写明理由，撤销挂牌督办（the supervising office removes a listed supervision, with a reason）."""
    reason = (inp.reason or "").strip()
    if not reason:
        raise ValueError("摘牌须写明理由（a reason is required to remove a listed supervision）")
    row = dict(inp.listed["row"], status=DELISTED, delist_reason=reason, delisted_at=ctx.now.isoformat(),
               delisted_by=ctx.actor)
    return _parent_row(ctx, inp.listed["key"], row)


def _after(ctx: HandlerContext, instant: str | None) -> bool:
    """Whether the step happens after `instant` (ISO), the end of the feedback period."""
    if not instant:
        return False
    return ctx.now > datetime.fromisoformat(instant)


def _parent_row(ctx: HandlerContext, key: str, row: dict) -> dict:
    """Write a 督办 row of the petition case that started this feedback case (its register, not this case's)."""
    row = dict(row, list="督办", key=key, updated_at=ctx.now.isoformat())
    fields = dict(register=four_lists.REGISTERS["督办"], key=key, unit=row.get("unit"), person=None, data=row,
                  of_parent=True)
    ctx.emit("register", action="open", **fields)
    if row.get("status") in four_lists.CLOSED_STATUSES:
        ctx.emit("register", action="close", **fields)
    return row


def _outbox_fields(inp: SuperviseInput, ctx: HandlerContext, unit_name: str, by_name: str) -> dict:
    data = ctx.data or {}
    fields = {"case_no": data.get("case_no") or str(ctx.case_id),
              "title": data.get("title") or data.get("category") or "信访事项", "unit": unit_name}
    if inp.kind == "催办":
        return dict(fields, deadline_label=inp.task, due=due_date_text(inp.due, ctx),
                    workdays_left=inp.lead if inp.lead is not None else 0)
    report_by = due_date_text(inp.report_by, ctx)
    if inp.kind == "督办":
        return dict(fields, deadline_label=inp.task, due=due_date_text(inp.due, ctx), supervising_unit=by_name,
                    report_by=report_by)
    return dict(fields, supervising_unit=by_name, report_by=report_by, reason=inp.note or inp.task)
