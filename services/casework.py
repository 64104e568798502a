"""Handlers of the petition case (信访事项办理): numbering, routing, transfer/assignment, route-outs, repeats,
review bodies.

Case numbers follow `XF{adcode6}{yyyymmdd}{channel2}{serial6}`: the administrative code of where the matter arose,
the registration date (Beijing time), the channel and a serial that does not reveal how many cases were registered
(services/case_numbers.py). They never contain personal data.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.clock import SHANGHAI
from engine.handlers import HandlerContext

from . import case_numbers
from .notices import default_catalogue as notice_catalogue
from .notify import PETITIONER, send, to_offices, unit_recipients
from .orgchart import chart_for
from .query_code import START_FIELD as QUERY_HASH

CHANNEL_CODES = {
    "来访": "01", "来信": "02", "来电": "03", "网上": "04", "短信": "05", "领导接访": "06", "上级转交": "07",
    "传真": "08", "12345": "09",
}


# ---------------------------------------------------------------- numbering

@dataclass
class NumberInput:
    channel: str
    location: str


def issue_case_number(inp: NumberInput, ctx: HandlerContext) -> dict:
    """编号 (issue the case number) and keep the query code's hash that the registering side made before the
    case started (services.query_code): the code itself never enters the process. `query_code` stays in the
    result, empty, because the process's 登记回执 notice names the field."""
    if inp.channel not in CHANNEL_CODES:
        raise ValueError(f"信访形式“{inp.channel}”无效，应为 {'、'.join(CHANNEL_CODES)}（unknown channel）")
    chart = chart_for(ctx)
    adcode = chart.adcode(inp.location) if chart.has(inp.location) else "000000"
    day = ctx.now.astimezone(SHANGHAI).strftime("%Y%m%d")
    prefix = f"{adcode}{day}{CHANNEL_CODES[inp.channel]}"
    key = ctx.ports.get(case_numbers.PORT)
    # Only a runtime built without the composition root (some unit tests) has no key: the old serial then.
    number = case_numbers.serial(prefix, ctx.case_id, key) if key else f"{ctx.case_id % 1_000_000:06d}"
    case_no = f"XF{prefix}{number}"
    registering_unit = ctx.data.get("registering_unit") or "city_bureau"
    if not chart.has(registering_unit):
        raise ValueError(f"登记单位 {registering_unit} 不在组织机构中（unknown registering_unit）")
    return {"case_no": case_no, "query_code": "", QUERY_HASH: ctx.data.get(QUERY_HASH) or None,
            "registered_at": ctx.now.isoformat(), "registering_unit": registering_unit}


# ---------------------------------------------------------------- the responsible unit

@dataclass
class ResolveUnitInput:
    candidate: str
    location: str
    dispatch_type: str = "转送"
    basis: str = ""


def resolve_responsible_unit(inp: ResolveUnitInput, ctx: HandlerContext) -> dict:
    """核定责任单位：DMN 表给出的候选单位必须在组织机构中；没有该部门时由问题发生地的信访部门交办协调。"""
    chart = chart_for(ctx)
    if not chart.has(inp.location):
        raise ValueError(f"问题发生地“{inp.location}”不在组织机构中（unknown location; fill in 问题发生地）")
    if chart.has(inp.candidate):
        unit, rule = inp.candidate, inp.basis or "决策表"
    else:
        unit = chart.petition_office(inp.location).code
        rule = f"候选单位 {inp.candidate} 不存在，由属地信访部门交办协调"
    level = chart.level_of(unit)
    co_units = _co_units(ctx.data.get("co_units"), unit, chart)
    return {"unit": unit, "unit_name": chart.name(unit), "county": level.code, "level": level.kind,
            "dispatch_type": inp.dispatch_type, "assigning_unit": ctx.data.get("registering_unit") or "city_bureau",
            "basis": rule, "lead_unit": unit, "co_units": co_units}


def _co_units(codes, lead: str, chart) -> list[dict]:
    """协办单位 named at triage: each must be in the organisation; the lead unit (主办) is never its own co-unit."""
    if not codes:
        return []
    if not isinstance(codes, list):
        raise ValueError("协办单位应为单位代码的列表（co_units must be a list of unit codes）")
    unknown = [c for c in codes if not chart.has(c)]
    if unknown:
        raise ValueError(f"协办单位 {', '.join(map(str, unknown))} 不在组织机构中（unknown co-unit; see the organisation）")
    return [{"unit": c, "unit_name": chart.name(c)} for c in dict.fromkeys(codes) if c != lead]


@dataclass
class DispatchInput:
    assignment: dict
    case_no: str


def dispatch_case(inp: DispatchInput, ctx: HandlerContext) -> dict:
    """转送/交办：向责任单位发出转送交办单，向信访人告知去向；返回交办时间（签收、受理期限的起算点）。"""
    a = inp.assignment
    fields = {"case_no": inp.case_no, "dispatch_type": a["dispatch_type"], "unit_name": a["unit_name"]}
    to_unit = send(ctx, unit_recipients(a["unit"]), "交办通知", fields)
    to_petitioner = send(ctx, [dict(PETITIONER)], "去向告知", fields)
    notices = [to_unit, to_petitioner]
    for co in a.get("co_units") or []:  # 协办单位: told who leads; they report to the lead unit, which replies
        to = unit_recipients(co["unit"])
        notice = send(ctx, to, "协办通知", dict(fields, co_unit_name=co["unit_name"]))
        notice["inbox"] = to_offices(ctx, to, notice_catalogue().inbox_template("协办通知"), {
            "case_no": inp.case_no, "title": ctx.data.get("title") or ctx.data.get("category") or "信访事项",
            "unit": co["unit_name"], "lead_unit": a["unit_name"]})
        notices.append(notice)
    return {"unit": a["unit"], "dispatch_type": a["dispatch_type"], "at": ctx.now.isoformat(),
            "co_units": [co["unit"] for co in a.get("co_units") or []], "notices": notices}


# ---------------------------------------------------------------- route-outs and repeats

ROUTE_OUT_KINDS = {
    "诉讼": ("political_legal", "诉访分离"),
    "纪检监察": ("discipline", "移送纪检监察"),
}


@dataclass
class RouteOutInput:
    kind: str
    location: str
    case_no: str
    confidential: bool = False


def route_out(inp: RouteOutInput, ctx: HandlerContext) -> dict:
    """导出信访程序：涉法涉诉事项引导至政法机关（诉访分离），检举控告移送纪检监察机关（保密）。"""
    if inp.kind not in ROUTE_OUT_KINDS:
        raise ValueError(f"导出方式应为 {'、'.join(ROUTE_OUT_KINDS)}（unknown route-out kind {inp.kind}）")
    kind, template = ROUTE_OUT_KINDS[inp.kind]
    chart = chart_for(ctx)
    level = chart.level_of(inp.location)
    organ = chart.child_of_kind(level.code, kind)
    if organ is None:
        raise LookupError(f"{level.name} 没有{inp.kind}机关（no {kind} unit under {level.code}）")
    fields = {"case_no": inp.case_no, "unit_name": organ.name}
    notices = [send(ctx, [{"unit": organ.code, "role": "receiver"}], template, fields)]
    if not inp.confidential:  # an accusation is acknowledged without saying where it went
        notices.append(send(ctx, [dict(PETITIONER)], template, fields))
    return {"kind": inp.kind, "unit": organ.code, "unit_name": organ.name, "confidential": inp.confidential,
            "at": ctx.now.isoformat(), "notices": notices}


@dataclass
class MergeRepeatInput:
    original_case_no: str
    case_no: str


def merge_repeat(inp: MergeRepeatInput, ctx: HandlerContext) -> dict:
    """重复信访并入原件：告知信访人原件办理情况，提醒原件承办单位一并答复。"""
    if not inp.original_case_no or not inp.original_case_no.startswith("XF"):
        raise ValueError("重复信访必须填写原信访事项编号（XF 开头）（original_case_no is required for a repeat）")
    fields = {"case_no": inp.case_no, "original_case_no": inp.original_case_no}
    notices = [send(ctx, [dict(PETITIONER)], "并入原件", fields)]
    original_unit = ctx.data.get("original_unit")
    if original_unit:
        notices.append(send(ctx, unit_recipients(original_unit), "重复信访", fields))
    return {"original_case_no": inp.original_case_no, "merged_at": ctx.now.isoformat(), "notices": notices}


# ---------------------------------------------------------------- review and re-review

@dataclass
class ReviewBodyInput:
    unit: str
    stage: str  # 复查 or 复核


def review_body(inp: ReviewBodyInput, ctx: HandlerContext) -> dict:
    """确定复查机关（原办理机关的上一级）或复核机关（复查机关的上一级）。"""
    if inp.stage not in ("复查", "复核"):
        raise ValueError(f"stage 应为 复查 或 复核，收到 {inp.stage}")
    chart = chart_for(ctx)
    own_level = chart.level_of(inp.unit)
    # A department's matter is reviewed by its own government (one level above the department); a matter
    # handled by a government itself goes one administrative level up.
    body = own_level if own_level.code != inp.unit else chart.level_up(inp.unit)
    if inp.stage == "复核" and body is not None:
        body = chart.level_up(body.code)
    if body is None:
        raise LookupError(f"{chart.name(inp.unit)} 没有上一级机关可以{inp.stage}（no higher body for {inp.stage}）")
    # the decision's 30 days run from the receipt of the request: a request taken before the process reached its
    # waiting point (services/petitioner_rights.py) carries the moment it was taken
    prefix = "review" if inp.stage == "复查" else "rereview"
    requested = ctx.now.isoformat()
    taken = (ctx.data or {}).get(f"{prefix}_requested_at")
    if isinstance(taken, str):
        try:
            if datetime.fromisoformat(taken) <= ctx.now:
                requested = taken
        except ValueError:
            pass
    return {"unit": body.code, "unit_name": f"{body.name}人民政府", "stage": inp.stage,
            "level_name": chart.level_name(body.kind), "requested_at": requested}
