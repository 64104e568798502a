"""Reminders (催办), supervision notices (督办) and listed supervision (挂牌督办).

Reminders go to the unit doing the work when its deadline turns yellow; supervision notices go to the unit
and its head (单位负责人) when it turns red; listed supervision is decided by a joint meeting and goes to the
unit and its head as well. Each becomes a row of the supervision list (督办责任清单).
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.handlers import HandlerContext

from . import four_lists, notices
from .notify import due_date_text, send, to_offices, unit_recipients
from .orgchart import chart_for

KINDS = ("催办", "督办", "挂牌督办")


@dataclass
class SuperviseInput:
    kind: str
    unit: str
    task: str
    by: str = "city_bureau"
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
    by_name = chart.name(inp.by) if chart.has(inp.by) else inp.by
    to = unit_recipients(inp.unit, head=head, role=inp.role)
    notice = send(ctx, to, inp.kind, {"task": inp.task, "lead": inp.lead if inp.lead is not None else "",
                                      "by": by_name})
    notice["inbox"] = to_offices(ctx, to, notices.default_catalogue().inbox_template(inp.kind),
                                 _outbox_fields(inp, ctx, unit_name, by_name))
    lists = ctx.data.get("four_lists")
    existing = (lists or {}).get("督办", {}) if isinstance(lists, dict) else {}
    prefix = f"{inp.kind}-{ctx.data.get('case_no') or ctx.case_id}-{ctx.element_id}-"
    key = f"{prefix}{len([k for k in existing if k.startswith(prefix)]) + 1}"
    row = {"case_id": ctx.case_id, "case_no": ctx.data.get("case_no"), "unit": inp.unit, "unit_name": unit_name,
           "item": inp.task, "kind": inp.kind, "by": inp.by, "status": "待反馈" if head else "已提醒",
           "notified": notice["to"], "notice": notice["text"], "note": inp.note or None}
    return four_lists.put(ctx, "督办", key, row)


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
