"""Reminders (催办), supervision notices (督办) and listed supervision (挂牌督办).

Reminders go to the unit doing the work when its deadline turns yellow; supervision notices go to the unit
and its head (单位负责人) when it turns red; listed supervision is decided by a joint meeting and goes to the
unit and its head as well. Each becomes a row of the supervision list (督办责任清单).
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.handlers import HandlerContext

from . import four_lists
from .notify import send, unit_recipients
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


def supervise(inp: SuperviseInput, ctx: HandlerContext) -> dict:
    """催办、督办或挂牌督办：通知单位（督办时同时通知单位负责人），并记入督办清单；返回更新后的四个清单。"""
    if inp.kind not in KINDS:
        raise ValueError(f"督办类型应为 {'、'.join(KINDS)}，收到“{inp.kind}”（unknown supervision kind）")
    chart = chart_for(ctx)
    unit_name = chart.name(inp.unit)  # raises for an unknown unit: an incident is better than a lost notice
    head = inp.kind != "催办"
    notice = send(ctx, unit_recipients(inp.unit, head=head, role=inp.role), inp.kind,
                  {"task": inp.task, "lead": inp.lead if inp.lead is not None else "", "by": chart.name(inp.by)
                   if chart.has(inp.by) else inp.by})
    lists = ctx.data.get("four_lists")
    existing = (lists or {}).get("督办", {}) if isinstance(lists, dict) else {}
    prefix = f"{inp.kind}-{ctx.data.get('case_no') or ctx.case_id}-{ctx.element_id}-"
    key = f"{prefix}{len([k for k in existing if k.startswith(prefix)]) + 1}"
    row = {"case_id": ctx.case_id, "case_no": ctx.data.get("case_no"), "unit": inp.unit, "unit_name": unit_name,
           "item": inp.task, "kind": inp.kind, "by": inp.by, "status": "待反馈" if head else "已提醒",
           "notified": notice["to"], "notice": notice["text"], "note": inp.note or None}
    return four_lists.put(ctx, "督办", key, row)
