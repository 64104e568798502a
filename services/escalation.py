"""Tiered escalation (逐级上交): one tier process (`processes/escalation_tier.bpmn`) is called per level —
the tiers the organisation declares (processes/organisation.yaml: county, city, province) — and this handler tells
it which joint meeting it is, and what lies above.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from engine.context import current_or_none
from engine.handlers import HandlerContext
from engine.store import WorkItem

from . import notices
from .notify import send, to_offices
from .orgchart import chart_for


@dataclass
class EscalateInput:
    tier_level: str
    location: str
    case_no: str = ""
    reported_from: str = ""


def escalate(inp: EscalateInput, ctx: HandlerContext) -> dict:
    """上交本级信访工作联席会议：确定联席会议办公室和上一级，并立即通知联席会议办公室（3个工作日内了解情况）。"""
    chart = chart_for(ctx)
    try:
        tier = chart.tier(inp.tier_level)
    except LookupError as exc:
        raise ValueError(str(exc)) from None
    level = chart.level_of(inp.location)
    while level.kind != inp.tier_level:  # climb from where the matter arose to the tier's level
        above = chart.level_up(level.code)
        if above is None:
            raise LookupError(f"{chart.name(inp.location)} 之上没有{tier.name}（no {inp.tier_level})")
        level = above
    office = chart.joint_meeting(level.code)
    above = chart.level_up(level.code)
    next_tier = chart.tier_above(tier.level)
    is_top = above is None or next_tier is None
    to = [{"unit": office.code, "role": "jointmeeting"}]
    notice = send(ctx, to, "上交通知", {"case_no": inp.case_no, "level_name": tier.name})
    # the petitioner is told that the matter went up to this joint meeting (journal and, with a phone, SMS)
    told = send(ctx, [{"party": "petitioner"}], "上交联席会议告知", {"case_no": inp.case_no, "level_name": tier.name})
    data = ctx.data or {}
    notice["inbox"] = to_offices(ctx, to, notices.default_catalogue().inbox_template("上交通知"), {
        "case_no": inp.case_no or data.get("case_no") or str(ctx.case_id),
        "title": data.get("title") or data.get("category") or "信访事项",
        "from_unit": _from_unit(chart, data), "reason": _reason(data)})
    return {"level": inp.tier_level, "level_name": tier.name, "area": level.code,
            "joint_meeting": office.code, "joint_meeting_name": office.name,
            "next_level": None if is_top else next_tier.level, "is_top": is_top,
            "reported_from": inp.reported_from or None, "started_at": ctx.now.isoformat(), "notice": notice,
            "petitioner_notice": told}


def _from_unit(chart, data: dict) -> str:
    """Who reports the matter up: the lower tier's joint meeting, else the county office, else the unit."""
    lower = data.get("tier") if isinstance(data.get("tier"), dict) else None
    if lower and lower.get("joint_meeting_name"):
        return lower["joint_meeting_name"]
    for scope in ("escalation_scope", "scope"):
        code = (data.get(scope) or {}).get("county_office") if isinstance(data.get(scope), dict) else None
        if code and chart.has(code):
            return chart.name(code)
    unit = (data.get("assignment") or {}).get("unit_name") if isinstance(data.get("assignment"), dict) else None
    return unit or "下级"


def _reason(data: dict) -> str:
    for key in ("report_up_text", "escalation_reason", "tier_result_text", "opinion"):
        if isinstance(data.get(key), str) and data[key].strip():
            return data[key].strip()[:200]
    return "下级无法化解"


@dataclass
class DecisionDownInput:
    tier: dict
    text: str
    outcome: str = "决定"
    responsible_unit: str = ""
    case_no: str = ""


def pass_down(inp: DecisionDownInput, ctx: HandlerContext) -> dict:
    """联席会议的化解结果或决定逐级下达：通知下级联席会议办公室和责任单位。"""
    chart = chart_for(ctx)
    to = []
    area = inp.tier.get("area")
    for unit in chart.units.values():  # every joint-meeting office below this tier, on the way to the unit
        if unit.kind == "joint_meeting_office" and unit.code != inp.tier.get("joint_meeting") and area and \
                inp.responsible_unit and chart.has(inp.responsible_unit) and \
                unit.parent in {u.code for u in chart.ancestors(inp.responsible_unit)} and \
                area in {u.code for u in chart.ancestors(unit.code)}:
            to.append({"unit": unit.code, "role": "jointmeeting"})
    if inp.responsible_unit:
        to.append({"unit": inp.responsible_unit, "role": "unit_handler"})
        to.append({"unit": inp.responsible_unit, "role": "leader"})
    template = "联席会议决定" if inp.outcome == "决定" else "化解结果通报"
    notice = send(ctx, to, template, {"case_no": inp.case_no, "level_name": inp.tier.get("level_name", ""),
                                      "text": inp.text})
    return {"outcome": inp.outcome, "level": inp.tier.get("level"), "text": inp.text, "at": ctx.now.isoformat(),
            "notice": notice}


@dataclass
class OpenTierInput:
    source: str = ""  # the track that wants to escalate: "13710" or "办理"


def escalation_open(inp: OpenTierInput, ctx: HandlerContext) -> dict:
    """一件事项同一时间只由一条线逐级上交：13710 未化解和承办单位提请上交（或超期上交）都可能把事项报到县联席会议，
    先到的一条开启联席会议程序，后到的一条不再开启第二个（不会出现两个“了解情况”待办）。本级或上级联席会议
    的待办（角色 jointmeeting）仍在办理中的，即已在联席会议。"""
    open_items = _open_joint_meeting_items(ctx.case_id)
    return {"open": bool(open_items), "source": inp.source or None, "items": open_items,
            "checked_at": ctx.now.isoformat()}


def _open_joint_meeting_items(case_id: int) -> list[dict]:
    cmd = current_or_none()
    if cmd is None or cmd.session is None:
        return []
    rows = cmd.session.scalars(select(WorkItem).where(WorkItem.case_id == case_id, WorkItem.state == "open",
                                                      WorkItem.role == JOINT_MEETING_ROLE)).all()
    return [{"name": w.name, "unit": w.unit} for w in rows]


JOINT_MEETING_ROLE = "jointmeeting"
