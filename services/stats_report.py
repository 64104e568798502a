"""统计报表 (reports built from the KPIs): the figures of one unit scope and period, rankings of units,
drill-down to the cases behind a number, and the petition bureau's annual report data (Art. 41).

Unit scope: a case belongs to the unit answerable for it (the unit that signed, accepted or handled it last;
before dispatch, the place where the matter arose). A scope is a unit with all its subunits, intersected with
the units the caller may see.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from .orgchart import OrgChart
from .stats import compute
from .stats_facts import CaseFacts
from .stats_settings import KpiSettings, Period

RANKED = ("registered", "timely_acceptance", "on_time_completion_rate", "on_time_reply_rate", "satisfaction_rate",
          "overdue")


def subtree(chart: OrgChart, code: str) -> set[str]:
    out, todo = set(), [code]
    while todo:
        unit = todo.pop()
        if unit in out:
            continue
        out.add(unit)
        todo.extend(u.code for u in chart.children(unit))
    return out


def level_of(chart: OrgChart):
    def find(unit: str) -> str:
        try:
            return chart.level_of(unit).kind if chart.has(unit) else ""
        except LookupError:
            return ""
    return find


def in_scope(facts: Iterable[CaseFacts], units: set[str] | None) -> list[CaseFacts]:
    """Cases whose responsible unit is one of `units` (None: every case)."""
    return list(facts) if units is None else [f for f in facts if f.unit in units]


def report(facts: list[CaseFacts], period: Period, now: datetime, settings: KpiSettings,
           units: set[str] | None = None, scope: str = "all") -> dict:
    kpis = compute(in_scope(facts, units), period, now, settings)
    return {"period": period.as_dict(), "scope": scope, "computed_at": now.isoformat(),
            "settings": settings.as_dict(), "settings_digest": settings.digest(),
            "kpis": [k.as_dict() for k in kpis]}


def ranking_units(chart: OrgChart, facts: list[CaseFacts], level: str, visible: set[str] | None) -> list[str]:
    """The units ranked: the counties (and cities), or every responsible unit that has cases."""
    if level == "unit":
        units = sorted({f.unit for f in facts if f.unit})
    else:
        units = [u.code for u in chart.units.values() if u.kind == level] if level in chart.tier_levels() else []
    return [u for u in units if visible is None or u in visible]


def rankings(facts: list[CaseFacts], period: Period, now: datetime, settings: KpiSettings, chart: OrgChart,
             level: str = "county", visible: set[str] | None = None,
             sort_by: str = "on_time_completion_rate") -> list[dict]:
    """One row per unit with its main KPIs, best first by `sort_by` (a unit without figures goes last)."""
    rows = []
    for unit in ranking_units(chart, facts, level, visible):
        units = subtree(chart, unit) if level != "unit" else {unit}
        kpis = {k.key: k for k in compute(in_scope(facts, units), period, now, settings)}
        row = {"unit": unit, "unit_name": chart.name(unit) if chart.has(unit) else unit}
        for key in RANKED:
            k = kpis[key]
            row[key] = {"value": k.value, "numerator": k.numerator, "denominator": k.denominator}
        rows.append(row)

    def order(row):
        value = row[sort_by]["value"]
        worse_first = sort_by == "overdue"
        return (value is None, (value or 0) if worse_first else -(value or 0), row["unit"])

    rows.sort(key=order)
    for i, row in enumerate(rows, 1):
        row["rank"] = i
    return rows


def cases_behind(facts: list[CaseFacts], kpi: dict, which: str = "numerator") -> list[dict]:
    """The cases behind a KPI's numerator (or denominator), for drill-down."""
    ids = set(kpi["case_ids"] if which == "numerator" else kpi["denominator_case_ids"] or kpi["case_ids"])
    return [f.summary() for f in sorted(facts, key=lambda f: f.id) if f.id in ids]


ANNUAL_FIGURES = ("group_visits", "group_visitors", "first_time_resolution", "repeats", "repeat_rate", "routed_out",
                  "skip_level", "urgent_matters", "urgent_first_on_time")


def annual(facts: list[CaseFacts], supervision_rows: list[dict], period: Period, chart: OrgChart,
           units: set[str] | None = None, settings: KpiSettings | None = None,
           now: datetime | None = None) -> dict:
    """年度报告数据：按领域（内容分类）统计、被投诉较多的单位、转送交办督办件数、建议意见及采纳（第四十一条），
    以及集体访批次人次、一次性化解率、重复信访率、导出信访程序件数、越级访件数、重大紧急事项及其按时首报率（each with its
    numerator, denominator and cases)."""
    settings = settings or KpiSettings.load()
    scoped = in_scope(facts, units)
    petitions = [f for f in scoped if f.process_key not in settings.suggestion_keys]
    cases = [f for f in petitions if period.contains(f.received_at)]
    categories = Counter(f.category or "未分类" for f in cases)
    units_count = Counter(f.unit for f in cases if f.unit)
    top_units = [{"unit": u, "unit_name": chart.name(u) if chart.has(u) else u, "count": n,
                  "case_ids": sorted(f.id for f in cases if f.unit == u)}
                 for u, n in sorted(units_count.items(), key=lambda p: (-p[1], p[0]))[:10]]
    supervision = [r for r in supervision_rows if period.contains(r["opened_at"])
                   and (units is None or r["unit"] in units)]
    kinds = Counter((r["data"] or {}).get("kind") or "督办" for r in supervision)
    kpis = {k.key: k.as_dict() for k in compute(scoped, period, now or period.end, settings)}
    return {
        "period": period.as_dict(),
        "total": len(cases),
        "by_category": [{"category": c, "count": n, "case_ids": sorted(f.id for f in cases
                                                                       if (f.category or "未分类") == c)}
                        for c, n in sorted(categories.items(), key=lambda p: (-p[1], p[0]))],
        "by_channel": [{"channel": c, "count": n} for c, n in
                       sorted(Counter(f.channel for f in cases).items(), key=lambda p: (-p[1], p[0]))],
        "most_complained_units": top_units,
        "transfers": sum(1 for f in cases if f.dispatch_type == "转送"),
        "assignments": sum(1 for f in cases if f.dispatch_type == "交办"),
        "supervisions": {"total": len(supervision), "by_kind": dict(sorted(kinds.items()))},
        "suggestions": _suggestions(kpis, cases),
        "figures": [kpis[key] for key in ANNUAL_FIGURES if key in kpis],
    }


def _suggestions(kpis: dict, petitions: list[CaseFacts]) -> dict:
    """Suggestions made (人民建议征集流程) and adopted, rewarded; plus those registered before the suggestion
    process existed (or by a process without it) as petitions of nature 建议意见, supported in their reply."""
    received, adopted = kpis["suggestions.received"], kpis["suggestions.adopted"]
    rewarded = kpis["suggestions.rewarded"]
    legacy = [f for f in petitions if f.nature == "建议意见"]
    supported = {f.id for f in legacy if f.outcome == "支持"}
    return {"received": received["numerator"] + len(legacy), "adopted": adopted["numerator"] + len(supported),
            "rewarded": rewarded["numerator"],
            "case_ids": sorted(set(received["case_ids"]) | {f.id for f in legacy}),
            "adopted_case_ids": sorted(set(adopted["case_ids"]) | supported),
            "rewarded_case_ids": rewarded["case_ids"]}
