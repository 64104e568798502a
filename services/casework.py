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

from . import case_numbers, route_outs
from .notices import default_catalogue as notice_catalogue
from .notify import PETITIONER, send, to_offices, unit_recipients
from .orgchart import chart_for
from .query_code import START_FIELD as QUERY_HASH
from .routing import respondent_unit

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
    respondent = respondent_unit(chart, ctx.data.get("respondent"), inp.location)
    skipped = route_outs.skip_level(chart, registering_unit, inp.location)  # 越级访: suggested, the registrar decides
    return {"skip_level": skipped.reason if skipped else "", "case_no": case_no, "query_code": "", QUERY_HASH: ctx.data.get(QUERY_HASH) or None,
            "registered_at": ctx.now.isoformat(), "registering_unit": registering_unit,
            # what the routing table (routing.dmn) reads besides category and location
            "subcategory": ctx.data.get("subcategory") or "",
            # a matter the upstream system assigned (交办) with a period: the triage's default (services/exchange.py)
            "upstream_period_days": _upstream_period(ctx.data.get("upstream")),
            "respondent_unit": respondent.code if respondent else "", "respondent_kind": respondent.kind if respondent else ""}


def _upstream_period(upstream) -> int | None:
    if not isinstance(upstream, dict) or upstream.get("kind") != "交办":
        return None
    days = upstream.get("period_days")
    return days if isinstance(days, int) and not isinstance(days, bool) and days > 0 else None


# ---------------------------------------------------------------- the responsible unit

@dataclass
class ResolveUnitInput:
    candidate: str
    location: str
    dispatch_type: str = "转送"
    basis: str = ""
    chosen: str | None = None  # the unit the registrar chose at triage (None: the table's suggestion is taken)
    chosen_dispatch: str | None = None  # 转送 or 交办 as the registrar chose it (None: the table's)
    period_days: int | None = None  # 交办: the period the assigning office set (days from acceptance), else None


DISPATCH_TYPES = ("转送", "交办")
SECOND_ASSIGNMENT = "二次交办"


def resolve_responsible_unit(inp: ResolveUnitInput, ctx: HandlerContext) -> dict:
    """核定责任单位：登记员在分流研判中选定的单位优先，否则采用决策表的建议；单位必须在组织机构中。

    The triage form refuses unknown units before they get here (services/form_checks.py); this check stays as a
    defence for data that did not come through a form. No silent fallback: a petition office handles a matter
    only when it was suggested or chosen."""
    chart = chart_for(ctx)
    if not chart.has(inp.location):
        raise ValueError(f"问题发生地“{inp.location}”不在组织机构中（unknown location; fill in 问题发生地）")
    suggested = {"unit": inp.candidate, "dispatch": inp.dispatch_type, "basis": inp.basis}
    if inp.chosen:
        if not chart.has(inp.chosen):
            raise ValueError(f"选定的责任单位 {inp.chosen} 不在组织机构中（unknown chosen unit; choose it again at 分流研判）")
        unit = inp.chosen
        rule = (inp.basis or "决策表") if unit == inp.candidate else f"登记员选定（决策表建议 {_name_or(chart, inp.candidate)}）"
    elif chart.has(inp.candidate):
        unit, rule = inp.candidate, inp.basis or "决策表"
    else:
        raise ValueError(f"候选责任单位 {inp.candidate} 不在组织机构中，且未选定责任单位（unknown unit {inp.candidate}: "
                         "choose the responsible unit at 分流研判, or correct routing.dmn）")
    dispatch = inp.chosen_dispatch if inp.chosen_dispatch in DISPATCH_TYPES else inp.dispatch_type
    if dispatch not in DISPATCH_TYPES + (SECOND_ASSIGNMENT,):  # a reassignment after 二次交办 keeps its type
        raise ValueError(f"转送或交办应为 {'、'.join(DISPATCH_TYPES)}，收到“{dispatch}”（dispatch must be 转送 or 交办）")
    period = _period(inp.period_days, dispatch, ctx)
    level = chart.level_of(unit)
    co_units = _co_units(ctx.data.get("co_units"), unit, chart)
    # Re-assigned after an objection: the office that decided it stays the assigning office (also after 二次交办).
    earlier = ctx.data.get("assignment") if isinstance(ctx.data.get("assignment"), dict) else {}
    assigning = earlier.get("assigning_unit") or ctx.data.get("registering_unit") or "city_bureau"
    return {"unit": unit, "unit_name": chart.name(unit), "county": level.code, "level": level.kind,
            "unit_kind": chart.get(unit).kind, "dispatch_type": dispatch, "assigning_unit": assigning,
            "basis": rule, "lead_unit": unit, "co_units": co_units, "suggested": suggested,
            "chosen_by_registrar": bool(inp.chosen and inp.chosen != inp.candidate)
            or inp.chosen_dispatch not in (None, inp.dispatch_type), "period_days": period}


def _period(days, dispatch: str, ctx: HandlerContext) -> int | None:
    """交办的指定期限: only a 交办 has one, a whole number of days within the statutory handling limit; a 转送 is
    handled within the statutory limit itself."""
    if days in (None, "") or dispatch != "交办":
        return None
    limit = int(((ctx.data.get("limits") or {}).get("handle_days")) or 60)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= limit:
        raise ValueError(f"交办的办理期限应为 1 至 {limit} 日，收到“{days}”（the period of a 交办 is 1 to {limit} days）")
    return days


def _name_or(chart, code: str) -> str:
    return chart.name(code) if chart.has(code) else code


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
            "from": a.get("assigning_unit"),
            "co_units": [co["unit"] for co in a.get("co_units") or []], "notices": notices}


# ---------------------------------------------------------------- route-outs and repeats

ROUTE_OUT_KINDS = {
    "诉讼": ("political_legal", "诉访分离"),
    "纪检监察": ("discipline", "移送纪检监察"),
}
ACCUSATION = "纪检监察"  # the route-out of 检举控告: always confidential
CADRE_SELECTION_KIND = "organisation"  # 选人用人 matters go to the organisation department (组织部) of the level

# 被反映人管理权限 (干部管理权限) -> the administrative level whose organs handle it, as a position in the tiers that
# processes/organisation.yaml declares bottom up (0: the county level, 1: the city, 2: the province)
MANAGEMENT_LEVELS = {"乡科级及以下": 0, "县管": 0, "市管": 1, "省管": 2}
TOP_LEVEL = "省管"  # the province's organs may be outside this system: the highest one available forwards it


@dataclass
class RouteOutInput:
    kind: str
    location: str
    case_no: str
    confidential: bool = False  # versions before the `confidential` property passed it; 纪检监察 is always confidential


def route_out(inp: RouteOutInput, ctx: HandlerContext) -> dict:
    """导出信访程序：涉法涉诉事项引导至政法机关（诉访分离）；检举控告按干部管理权限移送纪检监察机关（选人用人问题
    移送同级组织部），保密：只告知收件单位，案件只对收件单位可见。"""
    if inp.kind not in ROUTE_OUT_KINDS:
        raise ValueError(f"导出方式应为 {'、'.join(ROUTE_OUT_KINDS)}（unknown route-out kind {inp.kind}）")
    kind, template = ROUTE_OUT_KINDS[inp.kind]
    chart = chart_for(ctx)
    confidential = inp.confidential or inp.kind == ACCUSATION
    basis = ""
    if inp.kind == ACCUSATION:
        organ, basis = accusation_organ(chart, inp.location, ctx.data.get("respondent_level"),
                                        bool(ctx.data.get("cadre_selection")))
    else:  # 诉访分离: the channel chosen from the maintained list (processes/route_outs.yaml)
        return statutory_route_out(inp, ctx, template)
    fields = {"case_no": inp.case_no, "unit_name": organ.name}
    notices = [send(ctx, [{"unit": organ.code, "role": "receiver"}], template, fields)]
    if confidential:  # only the receiving unit sees the case from now on (the case row names it)
        ctx.emit("confidential", unit=organ.code)
    else:  # an accusation is acknowledged without saying where it went
        notices.append(send(ctx, [dict(PETITIONER)], template, fields))
    out = {"kind": inp.kind, "unit": organ.code, "unit_name": organ.name, "confidential": confidential,
           "at": ctx.now.isoformat(), "notices": notices}
    if basis:
        out.update(basis=basis, respondent_level=ctx.data.get("respondent_level"),
                   cadre_selection=bool(ctx.data.get("cadre_selection")))
    return out


def route_out_fields(ctx: HandlerContext, case_no: str, location: str) -> dict:
    """The channel (from the case's `route_out_channel`, 诉讼 when none is named) and its competent body for the
    area where the matter arose, as the fields of the route-out notice (告知书)."""
    listed = route_outs.default_list()
    channel = listed.find(ctx.data.get(route_outs.FIELD) or route_outs.DEFAULT_CODE)
    body = listed.competent_body(channel, chart_for(ctx), location)
    return {"case_no": case_no, "unit_name": body.name, "channel": channel.name, "channel_code": channel.code,
            "basis": channel.basis, "unit": body.unit or "", "area": body.area}


def statutory_route_out(inp: RouteOutInput, ctx: HandlerContext, template: str) -> dict:
    """诉访分离 (《信访工作条例》第二十二条、第三十一条): the petitioner is told the channel, the competent body and
    the legal basis (告知书); a body that is a unit of the organisation (the court) is told as well."""
    f = route_out_fields(ctx, inp.case_no, inp.location)
    fields = {k: f[k] for k in ("case_no", "unit_name", "channel", "basis")}
    notices = [send(ctx, [{"unit": f["unit"], "role": "receiver"}], template, fields)] if f["unit"] else []
    notices.append(send(ctx, [dict(PETITIONER)], template, fields))
    return {"kind": inp.kind, "unit": f["unit"], "unit_name": f["unit_name"], "channel": f["channel_code"],
            "channel_name": f["channel"], "basis": f["basis"], "area": f["area"], "confidential": False,
            "at": ctx.now.isoformat(), "notices": notices}


def accusation_organ(chart, location: str, respondent_level, cadre_selection: bool):
    """检举控告的去向，按干部管理权限：乡科级及以下和县管干部 -> 问题发生地县级纪委监委，市管 -> 市纪委监委，省管 ->
    省纪委监委（本系统没有时，移送本系统最高一级的纪委监委转报）；涉及选人用人的 -> 同一级组织部。Returns
    (unit, basis)."""
    if respondent_level not in MANAGEMENT_LEVELS:
        raise ValueError(f"检举控告须注明被反映人管理权限（{'、'.join(MANAGEMENT_LEVELS)}），收到“{respondent_level or ''}”"
                         "（respondent_level is required for an accusation; fill it in at triage）")
    kind = CADRE_SELECTION_KIND if cadre_selection else "discipline"
    organ_name = "组织部" if cadre_selection else "纪检监察机关"
    if not chart.has(location):
        raise ValueError(f"问题发生地“{location}”不在组织机构中（unknown location; fill in 问题发生地）")
    declared = chart.tier_levels()
    levels = [u for u in chart.ancestors(location) if u.kind in declared]  # bottom up
    position = MANAGEMENT_LEVELS[respondent_level]
    wanted = declared[position] if position < len(declared) else None
    at = next((i for i, u in enumerate(levels) if u.kind == wanted), None)
    if at is None and wanted is not None and position < declared.index(levels[0].kind):
        at = 0  # a 县管 matter raised at the city itself: the nearest level there is
    if at is not None:
        organ = chart.child_of_kind(levels[at].code, kind)
        if organ is not None:
            return organ, f"被反映人为{respondent_level}干部，按干部管理权限移送{organ.name}"
    if respondent_level == TOP_LEVEL:
        for level in reversed(levels):
            organ = chart.child_of_kind(level.code, kind)
            if organ is not None:
                return organ, (f"被反映人为{respondent_level}干部，本系统没有省级{organ_name}，移送{organ.name}"
                               "按干部管理权限转报")
        where = "本系统任何一级"
    else:
        above = chart.level_name(wanted) if wanted else "上级机关"
        where = levels[at].name if at is not None else f"{chart.name(location)}以上的{above}"
    raise LookupError(f"{where}没有{organ_name}，无法按干部管理权限移送{respondent_level}干部的检举控告；请在组织机构中"
                      f"添加该级{organ_name}（no {kind} unit for a cadre managed at tier {position + 1}）")


@dataclass
class MergeRepeatInput:
    original_case_no: str
    case_no: str


# What a repeat becomes, by the stage of its original (services.repeat_originals describes it at triage).
REPEAT_MERGED, REPEAT_NOT_ACCEPTED, REPEAT_NOT_REACCEPTED = "并入原件", "不予受理", "不再受理"
CLOSED_REASON = "同一信访事项已办结（原件 {original_case_no}），对已办结的同一事项不予受理"
CLOSED_CHANNEL = "对原件处理意见不服的，可自收到处理意见之日起30日内向原办理机关的上一级机关请求复查"
FINAL_REASON = "同一信访事项已经复核终结（原件 {original_case_no}），对同一事实和理由不再受理"


def merge_repeat(inp: MergeRepeatInput, ctx: HandlerContext) -> dict:
    """重复信访：原件仍在办理的，并入原件，告知信访人原件办理情况并提醒原件承办单位一并答复；原件已办结的，
    不予受理并告知理由和途径；原件已复核终结的，同一事实和理由不再受理。"""
    if not inp.original_case_no or not inp.original_case_no.startswith("XF"):
        raise ValueError("重复信访必须填写原信访事项编号（XF 开头）（original_case_no is required for a repeat）")
    original = ctx.data.get("original") if isinstance(ctx.data.get("original"), dict) else {}
    stage = original.get("stage") or "办理中"
    fields = {"case_no": inp.case_no, "original_case_no": inp.original_case_no}
    if stage == "已终结":
        outcome, reason = REPEAT_NOT_REACCEPTED, FINAL_REASON.format(**fields)
        notices = [send(ctx, [dict(PETITIONER)], "重复信访不再受理告知", dict(fields, reason=reason))]
    elif stage == "已办结":
        outcome, reason = REPEAT_NOT_ACCEPTED, CLOSED_REASON.format(**fields)
        notices = [send(ctx, [dict(PETITIONER)], "不予受理告知",
                        {"case_no": inp.case_no, "reason": reason, "proper_channel": CLOSED_CHANNEL})]
    else:
        outcome, reason = REPEAT_MERGED, ""
        notices = [send(ctx, [dict(PETITIONER)], "并入原件", fields)]
        original_unit = ctx.data.get("original_unit") or original.get("unit")
        if original_unit:
            notices.append(send(ctx, unit_recipients(original_unit), "重复信访", fields))
    ctx.emit("repeat_link", original_case_no=inp.original_case_no, original_case_id=original.get("case_id"),
             outcome=outcome)
    return {"original_case_no": inp.original_case_no, "outcome": outcome, "reason": reason,
            "original_stage": stage, "merged_at": ctx.now.isoformat(), "notices": notices}


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


# ---------------------------------------------------------------- non-acceptance with a route out, 越级访

@dataclass
class NotAcceptedInput:
    case_no: str
    reason: str
    location: str = ""


def not_accepted(inp: NotAcceptedInput, ctx: HandlerContext) -> dict:
    """送达不予受理告知书. When the unit found the matter belongs to another statutory channel (the acceptance form's
    `route_out_channel`), the notice names the channel and its competent body, and the result keeps them
    (`route_out`): the case counts as routed out by that channel."""
    fields = {"case_no": inp.case_no, "reason": inp.reason, "proper_channel": ""}
    route = None
    if ctx.data.get(route_outs.FIELD):
        f = route_out_fields(ctx, inp.case_no, inp.location or ctx.data.get("location") or "")
        fields["proper_channel"] = f"{f['channel']}：{f['unit_name']}"
        fields["reason"] = f"{inp.reason}（应当通过{f['channel']}途径解决，请依法向{f['unit_name']}提出）"
        route = {"channel": f["channel_code"], "channel_name": f["channel"], "unit_name": f["unit_name"],
                 "basis": f["basis"], "area": f["area"], "at": ctx.now.isoformat()}
    notice = send(ctx, [dict(PETITIONER)], "不予受理告知", fields)
    return dict(notice, route_out=route, channel=route["channel"] if route else "")


@dataclass
class SkipLevelInput:
    case_no: str
    location: str
    registering_unit: str


def send_back_skip_level(inp: SkipLevelInput, ctx: HandlerContext) -> dict:
    """越级访 (《信访工作条例》第二十条): the registrar found the matter belongs to a lower level that has not handled
    it (or still is): it goes to that level's petition office, and the petitioner is told which office (告知书)."""
    chart = chart_for(ctx)
    found = route_outs.skip_level(chart, inp.registering_unit, inp.location)
    if found is None:
        raise ValueError(f"问题发生地“{inp.location}”不在{_name_or(chart, inp.registering_unit)}的下级，不是越级访；"
                         "请在分流研判中改选其他分流方式（not a skipped level）")
    fields = {"case_no": inp.case_no, "unit_name": found.office_name, "area_name": found.area_name,
              "reason": found.reason}
    notices = [send(ctx, [{"unit": found.office, "role": "county_office"}], "越级访告知", fields),
               send(ctx, [dict(PETITIONER)], "越级访告知", fields)]
    return {"office": found.office, "office_name": found.office_name, "area": found.area,
            "area_name": found.area_name, "reason": found.reason, "at": ctx.now.isoformat(), "notices": notices}
