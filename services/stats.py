"""信访工作统计指标 (the office's scorecard): the KPIs of the brief, each with its numerator, denominator,
value, definition and the cases behind it (for drill-down).

Pure computation over `CaseFacts` (see stats_facts): no database, no Flask. A statistical period P is a
`Period` [start, end); `now` is the instant of the computation (a deadline not yet due and not yet met is not
counted either way). Every rate counts each case at most once in its denominator and its numerator is a subset
of its denominator. A case sent back for redo or reopened by review keeps its first on-time result: the
closure and the written reply counted are the first ones; the review clocks are counted in `review_on_time`.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine.clock import SHANGHAI

from . import route_outs
from .orgchart import default_chart
from .stats_facts import CaseFacts, Deadline
from .stats_settings import KpiSettings, Period

CHANNELS = ("来访", "来信", "来电", "网上", "短信", "领导接访", "上级转交", "传真", "12345")
MILESTONES = ("T1", "T2", "T3", "T4", "E1", "E2", "E3", "E4")
MILESTONE_NAMES = {"T1": "明确包案领导和化解专班", "T2": "向市信访局反馈", "T3": "初步化解意见",
                   "T4": "阶段性工作方案", "E1": "逐级上报", "E2": "了解掌握情况", "E3": "专题会商",
                   "E4": "阶段性化解成效"}
_TICK = timedelta(microseconds=1)


@dataclass
class Kpi:
    key: str
    label: str
    definition: str
    numerator: int | float | None  # a median (hours) is a float, and None without any value
    denominator: int | None = None  # None: a count, not a rate
    case_ids: list[int] = field(default_factory=list)  # the cases behind the numerator
    denominator_case_ids: list[int] = field(default_factory=list)
    group: str = ""
    measure: str = ""  # what a count counts when it is not cases (批次, 人次)

    @property
    def value(self) -> float | None:
        if self.numerator is None:  # a measure with nothing to measure (a median of no reports)
            return None
        if self.denominator is None:
            return float(self.numerator)
        if not self.denominator:
            return None
        return round(100.0 * self.numerator / self.denominator, 2)

    @property
    def is_rate(self) -> bool:
        return self.denominator is not None

    def as_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "group": self.group, "definition": self.definition,
                "numerator": self.numerator, "denominator": self.denominator, "value": self.value,
                "unit": "%" if self.is_rate else (self.measure or "件"), "case_ids": self.case_ids,
                "denominator_case_ids": self.denominator_case_ids}


def _ids(cases: Iterable[CaseFacts]) -> list[int]:
    return sorted({c.id for c in cases})


def _count(key, label, definition, cases, group="") -> Kpi:
    ids = _ids(cases)
    return Kpi(key, label, definition, len(ids), None, ids, [], group)


def _rate(key, label, definition, denominator: list[CaseFacts], hit: Callable[[CaseFacts], bool],
          group="") -> Kpi:
    base = _ids(denominator)
    top = _ids(c for c in denominator if hit(c))
    return Kpi(key, label, definition, len(top), len(base), top, base, group)


def _deadline_rate(key, label, definition, pairs: list[tuple[CaseFacts, Deadline]], group="") -> Kpi:
    """A rate over deadlines (a case may have several, e.g. E2 at the county and at the city tier): deadlines
    met ÷ deadlines due; the case ids are those with a met deadline (numerator) and with any (denominator)."""
    met = [(c, d) for c, d in pairs if d.met()]
    return Kpi(key, label, definition, len(met), len(pairs), _ids(c for c, _ in met), _ids(c for c, _ in pairs),
               group)


def due_in(period: Period, d: Deadline | None, now: datetime) -> bool:
    """Due within P (by its Beijing due date) and settled: met, given up or past due."""
    if d is None or d.due_at is None or not d.settled(now):
        return False
    due_day = (d.due_at - _TICK).astimezone(SHANGHAI).date()
    return period.contains_day(due_day)


def _handling(c: CaseFacts) -> Deadline | None:
    if c.handling_due is None:
        return None
    state = "completed" if c.closed_at is not None else "open"
    return Deadline("handling", c.handling_unit, c.received_at, c.handling_due, c.closed_at, state)


def _reply(c: CaseFacts) -> Deadline | None:
    if c.handling_due is None:
        return None
    state = "completed" if c.reply_at is not None else "open"
    return Deadline("reply", c.handling_unit, c.received_at, c.handling_due, c.reply_at, state)


def _overdue_in(period: Period, d: Deadline, now: datetime) -> bool:
    """The deadline was passed while the work was still undone at some moment within P (up to now)."""
    if d.due_at is None:
        return False
    until = d.done_at if d.done_at is not None else now
    return until > d.due_at and d.due_at < period.end and until > period.start and d.due_at < now


def route_out_kpis(received: list[CaseFacts]) -> list[Kpi]:
    """导出信访程序件数 by statutory channel (诉访分离 at triage, or 不予受理 at acceptance because the matter belongs to
    that channel), over the cases received in P; the channels are the route-out list's (processes/route_outs.yaml)."""
    listed = route_outs.default_list()
    routed = [c for c in received if c.route_out_channel]
    out = [_count("routed_out", "导出信访程序件数（诉访分离）",
                  "本期收到的事项中，分流研判为诉访分离或承办单位以应当通过其他法定途径解决为由不予受理、"
                  "已告知信访人途径和有权处理机关的件数（不计入立案办理数）", routed, group="route_out")]
    known = set(listed.codes())
    for channel in listed.channels:
        out.append(_count(f"routed_out.{channel.code}", f"导入{channel.name}件数",
                          f"本期收到的事项中，导入{channel.name}途径（告知向有权处理的机关提出）的件数",
                          [c for c in routed if c.route_out_channel == channel.code], group="route_out"))
    other = [c for c in routed if c.route_out_channel not in known]
    if other:  # a channel since removed from the list: counted, not lost
        out.append(_count("routed_out.other", "导入其他法定途径件数", "本期导出到已不在清单中的法定途径的件数", other,
                          group="route_out"))
    return out


def skip_level_kpis(received: list[CaseFacts]) -> list[Kpi]:
    """越级访件数 per area of the matter: received in P, sent back to the competent (lower) level's petition office."""
    skipped = [c for c in received if c.skip_level_area]
    chart = default_chart()
    out = [_count("skip_level", "越级访件数", "本期收到的事项中，登记员认定为越级走访（问题属下级管辖）并转送有权处理的"
                  "下级信访部门办理的件数（也计入立案办理数）", skipped, group="skip_level")]
    for area in sorted({c.skip_level_area for c in skipped}):
        name = chart.name(area) if chart.has(area) else area
        out.append(_count(f"skip_level.{area}", f"{name}越级访件数",
                          f"本期收到的越级访中，问题发生地属{name}的件数", [c for c in skipped if c.skip_level_area == area],
                          group="skip_level"))
    return out


def compute(facts: list[CaseFacts], period: Period, now: datetime, settings: KpiSettings) -> list[Kpi]:
    """Every KPI for the cases given (already limited to the caller's units). The grievance figures read only the
    petition processes' cases; the suggestions (人民建议征集) are counted apart (`suggestion_figures`)."""
    suggestions = [c for c in facts if c.process_key in settings.suggestion_keys]
    facts = [c for c in facts if c.process_key not in settings.suggestion_keys]
    out = _grievance_figures(facts, period, now, settings)
    out.extend(resolution_figures(facts, period))
    out.extend(suggestion_figures(suggestions, period))
    return out


def _grievance_figures(facts: list[CaseFacts], period: Period, now: datetime, settings: KpiSettings) -> list[Kpi]:
    received = [c for c in facts if period.contains(c.received_at)]
    registered_routes = settings.route_values("registered")
    registered = [c for c in received if c.route in registered_routes]
    out: list[Kpi] = [_count("received", "受理信访事项数", "本期收到并登记的信访事项（各渠道合计）", received)]
    for channel in CHANNELS:
        out.append(_count(f"received.{channel}", f"{channel}受理数" if channel != "短信" else "民声手机短信受理数",
                          f"本期收到的信访形式为“{channel}”的信访事项", [c for c in received if c.channel == channel],
                          group="channel"))
    groups = [c for c in received if c.group_visit]
    out.append(Kpi("group_visits", "集体访批次", "本期收到的集体访（登记为集体访的来访，5人以上）：每次集体访登记为一件，计一批次",
                   len(_ids(groups)), None, _ids(groups), [], "", "批次"))
    out.append(Kpi("group_visitors", "集体访人次", "本期收到的集体访各批次的来访人数之和（登记的来访人数；未填写的按登记的信访人数计）",
                   sum(c.visitors for c in groups), None, _ids(groups), [], "", "人次"))
    out.append(_count("registered", "立案办理数",
                      "本期收到并经分流研判转送、交办责任单位办理的事项（含越级访转送下级信访部门办理的；不含当场办结、导出信访程序和重复件）",
                      registered))

    acceptance = [c for c in facts if due_in(period, c.acceptance, now)]
    out.append(_rate("timely_acceptance", "及时受理率",
                     "受理告知期限（15日）在本期届满的事项中，在期限内作出受理或不予受理决定并告知的比例",
                     acceptance, lambda c: c.acceptance.met()))

    on_time = lambda c: _handling(c).met()  # noqa: E731
    due_or_closed = [c for c in facts if c.handling_due is not None
                     and (due_in(period, _handling(c), now) or period.contains(c.closed_at))]
    out.append(_count("on_time_completion", "按期办结数",
                      "办理期限（60日，含批准的延期）或首次审核办结在本期的事项中，首次审核销号不晚于期限的件数",
                      [c for c in due_or_closed if on_time(c)]))
    if settings.rate_denominator == "registered":
        out.append(_rate("on_time_completion_rate", "按期办结率",
                         "本期立案办理的事项中，按期办结（首次审核销号不晚于办理期限）的比例（分母：立案办理数）",
                         registered, lambda c: c.handling_due is not None and on_time(c)))
    else:
        out.append(_rate("on_time_completion_rate", "按期办结率",
                         "办理期限在本期届满或在本期办结的事项中，按期办结的比例（分母：到期或办结件数）",
                         due_or_closed, on_time))

    replies = [c for c in facts if due_in(period, _reply(c), now)]
    out.append(_rate("on_time_reply_rate", "按期答复率",
                     "答复期限在本期届满的事项中，书面答复意见首次送达不晚于期限的比例（以送达时间计）",
                     replies, lambda c: _reply(c).met()))

    rated = [c for c in facts if period.contains(c.rated_at) and c.rating not in settings.not_rated]
    satisfied_values = {"满意"} | ({"基本满意"} if settings.basically_satisfied_counts else set())
    basic = "计入" if settings.basically_satisfied_counts else "不计入"
    satisfied = [c for c in rated if c.rating in satisfied_values]
    out.append(_count("satisfied", "满意数", f"本期评价为“满意”的事项（“基本满意”{basic}）", satisfied))
    out.append(_rate("satisfaction_rate", "满意率", f"本期满意数 ÷ 本期参评数（“基本满意”{basic}满意）",
                     rated, lambda c: c.rating in satisfied_values))

    eligible = [c for c in facts if period.contains(c.closed_at)]
    out.append(_rate("participation_rate", "参评率", "本期首次审核办结的事项中，信访人已作出评价（不含“未评价”）的比例",
                     eligible, lambda c: c.rated_at is not None and c.rating not in settings.not_rated))

    # The handling limit runs until the case is closed: a case sent back for redo after it passed is overdue.
    overdue = [c for c in facts if any(_overdue_in(period, d, now) for d in c.statutory)
               or (_handling(c) is not None and _overdue_in(period, _handling(c), now))]
    out.append(_count("overdue", "超期件数",
                      "法定期限（签收、受理告知、办理、复查、复核）已过而尚未完成的状态在本期出现过的事项（含超期后办结的）",
                      overdue))


    out.extend(route_out_kpis(received))
    out.extend(skip_level_kpis(received))

    for code in MILESTONES:
        pairs = [(c, d) for c in facts for d in c.milestones if d.code == code and due_in(period, d, now)]
        out.append(_deadline_rate(f"milestone.{code}", f"13710 {code} 按时率（{MILESTONE_NAMES[code]}）",
                                  f"13710 节点 {code}（{MILESTONE_NAMES[code]}）期限在本期届满的事项中，按时完成的比例",
                                  pairs, group="13710"))

    for tier, name in ((t.level, t.meeting) for t in default_chart().tiers):  # processes/organisation.yaml
        cases = [c for c in facts
                 if any(period.contains(d.created_at) and d.code == tier for d in c.escalations)]
        out.append(_count(f"escalations.{tier}", f"上交{name}件数", f"本期上交到{name}（了解掌握情况开始）的事项",
                          cases, group="escalation"))

    out.append(_count("returned_for_redo", "退回重办件数", "本期交办机关审核不同意销号、退回重办的事项",
                      [c for c in facts if any(period.contains(at) for at in c.redo_at)]))
    redo_pairs = [(c, d) for c in facts for d in c.redos if due_in(period, d, now)]
    out.append(_deadline_rate("redo_on_time", "重办按期率",
                              "重办期限（自退回之日起，本地规定）在本期届满的重办中，按期重新答复的比例"
                              "（重办另行计时，不改变原办理期限和首次办结结果）", redo_pairs))
    review_pairs = [(c, d) for c in facts for d in c.reviews if due_in(period, d, now)]
    out.append(_deadline_rate("review_on_time", "复查复核按期率",
                              "复查、复核期限（30日）在本期届满的事项中，按期出具意见的比例（复查复核另行计时，不改变原办结结果）",
                              review_pairs))
    out.extend(_urgent(facts, period, now))
    return out


def _urgent(facts: list[CaseFacts], period: Period, now: datetime) -> list[Kpi]:
    """重大紧急事项 (《信访工作条例》第二十五条): how many were flagged, and how their hours limits were kept."""
    flagged = [c for c in facts for u in c.urgent if period.contains(u.flagged_at)]
    out = [Kpi("urgent_matters", "重大紧急事项数", "本期标记的重大紧急事项（群体性、极端、重大紧急）件数：每标记一次计一件",
               len(flagged), None, _ids(flagged), [], "urgent")]
    first = [(c, u.first) for c in facts for u in c.urgent if due_in(period, u.first, now)]
    out.append(_deadline_rate("urgent_first_on_time", "重大紧急事项按时首报率",
                              "首报时限（自标记起按小时计算，本地规定）在本期届满的重大紧急事项中，"
                              "在时限内首报本级党委政府和上一级信访部门的比例", first, group="urgent"))
    late = [c for c, d in first if not d.met()]
    out.append(Kpi("urgent_first_late", "重大紧急事项逾时首报数",
                   "首报时限在本期届满的重大紧急事项中，逾时首报或至今未报的件数", len(late), None, _ids(late), [],
                   "urgent"))
    reported = [(c, u.first_hours) for c in facts for u in c.urgent
                if u.first_hours is not None and period.contains(u.first.done_at)]
    median = round(statistics.median(h for _, h in reported), 1) if reported else None
    out.append(Kpi("urgent_first_median_hours", "重大紧急事项首报用时中位数",
                   "本期作出首报的重大紧急事项，自标记到首报的小时数的中位数（无首报时为空）", median, None,
                   _ids(c for c, _ in reported), [], "urgent", "小时"))
    written = [(c, u.written) for c in facts for u in c.urgent if due_in(period, u.written, now)]
    out.append(_deadline_rate("urgent_written_on_time", "重大紧急事项按时书面续报率",
                              "书面续报时限（自标记起按小时计算，本地规定）在本期届满的重大紧急事项中，按时书面续报的比例",
                              written, group="urgent"))
    return out




# ---------------------------------------------------------------- one-time resolution, repeats, suggestions

def concluded_at(c: CaseFacts) -> datetime | None:
    """When the matter was first concluded: its first approved sign-off (办结), or its on-the-spot settlement."""
    return c.closed_at or c.settled_at


def not_at_once(c: CaseFacts) -> list[str]:
    """Why a concluded matter was not resolved at its first handling (empty: it was): sent back for redo,
    review or re-review requested, petitioned again (a later repeat linked to it, either way it was recognised),
    itself a repeat, or escalated to a joint meeting."""
    reasons = []
    if c.redo_at:
        reasons.append("退回重办")
    if c.reviews:
        reasons.append("复查复核")
    if c.repeated_at or c.is_repeat:
        reasons.append("重复信访")
    if c.escalations:
        reasons.append("上交联席会议")
    return reasons


def resolution_figures(facts: list[CaseFacts], period: Period) -> list[Kpi]:
    """一次性化解率 and 重复信访率 (a repeat is counted however it was recognised: at triage, at registration,
    merged into an original in handling or refused because the original was closed or final)."""
    concluded = [c for c in facts if period.contains(concluded_at(c))]
    received = [c for c in facts if period.contains(c.received_at)]
    return [
        _rate("first_time_resolution", "一次性化解率",
              "本期办结（首次审核销号）或当场化解的事项中，一次办理即化解的比例：没有退回重办、没有申请复查复核、"
              "没有再次信访（其后登记或分流时认定为它的重复件）、本身不是重复件、没有上交联席会议（按统计时已知的情况）",
              concluded, lambda c: not not_at_once(c)),
        _count("repeats", "重复信访件数", "本期收到的事项中，认定为重复信访的件数（登记时查重并入或分流研判认定，"
               "并入原件、不予受理、不再受理均计）", [c for c in received if c.is_repeat]),
        _rate("repeat_rate", "重复信访率", "本期收到的事项中，认定为重复信访（登记时查重并入或分流研判认定，"
              "并入原件、不予受理、不再受理均计）的比例", received, lambda c: c.is_repeat),
    ]


def suggestion_figures(suggestions: list[CaseFacts], period: Period) -> list[Kpi]:
    """人民建议征集 (信访工作条例第二十九条), counted apart from the petitions: received in P, and concluded in P
    adopted (采纳) and rewarded (奖励)."""
    received = [c for c in suggestions if period.contains(c.received_at)]
    concluded = [c for c in suggestions if period.contains(c.concluded_at)]
    return [
        _count("suggestions.received", "收到人民建议件数", "本期登记为“建议意见”、按人民建议征集流程办理的件数"
               "（不计入信访事项的各项统计）", received, group="suggestion"),
        _count("suggestions.concluded", "人民建议办结件数", "本期作出采纳或不采纳结论并告知建议人的件数",
               concluded, group="suggestion"),
        _rate("suggestions.adopted", "人民建议采纳率", "本期作出结论的人民建议中，决定采纳的比例",
              concluded, lambda c: c.adopted, group="suggestion"),
        _count("suggestions.rewarded", "人民建议奖励件数", "本期作出结论的人民建议中，采纳并给予奖励的件数",
               [c for c in concluded if c.adopted and c.rewarded], group="suggestion"),
    ]
