"""The statistics as people ask for them (the stats pages and API, `lianxin stats`): the KPI settings, every
case's facts, the unit scope a caller may see, the period asked for, the report (or its frozen snapshot) and
freezing a month. No framework imports: a request the statistics cannot answer is `StatsRefused`, whose message
the caller translates (its Chinese text is the message id, `%(name)s` filled in from `params`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from services import urgent
from services.element_meanings import FILE_NAME as MEANINGS_FILE
from services.orgchart import default_chart
from services.stats_cache import FactsStore, ReportCache, fresh_copy, horizon
from services.stats_facts import build_facts, urgent_report
from services.stats_report import level_of, rankings, report, subtree
from services.stats_settings import KpiSettings, SettingsError, parse_period, period_of, range_period
from services.store import stats as stats_store


def _(text: str) -> str:
    """Marks a message for the translation catalogues; the caller translates it when it shows it."""
    return text


def _plain(text: str, **params) -> str:
    return text % params if params else text


class StatsRefused(Exception):
    """A period, unit or parameter the statistics cannot answer for (`status` as HTTP would say it)."""

    def __init__(self, status: int, code: str, text: str, params: dict | None = None, details=None):
        super().__init__(_plain(text, **(params or {})))
        self.status, self.code, self.text, self.params, self.details = status, code, text, params or {}, details

    def message(self, gettext: Callable[..., str] = _plain) -> str:
        return gettext(self.text, **self.params)


def kpi_settings(c, **overrides) -> KpiSettings:
    settings = _settings_at(c.settings.processes_dir / "kpi.yaml")
    return settings.with_overrides(**overrides) if overrides else settings


_SETTINGS: dict = {}


def _settings_at(path: Path) -> KpiSettings:
    """kpi.yaml with the meanings beside it, read again only when one of the two files changes."""
    stamp = tuple(p.stat().st_mtime_ns if p.is_file() else None for p in (path, path.parent / MEANINGS_FILE))
    kept = _SETTINGS.get(path)
    if kept is None or kept[0] != stamp:
        kept = (stamp, KpiSettings.load(path))
        _SETTINGS[path] = kept
    return kept[1]


def load_facts(c, settings: KpiSettings, cache: dict | None = None):
    """Every case's facts; `cache` keeps them for the rest of a request (a page shows the KPIs, the ranking and
    the annual data). Between requests they are kept per process and brought up to date from the journal
    (services.stats_cache)."""
    return _facts_and_generation(c, settings, cache)[0]


def _facts_and_generation(c, settings: KpiSettings, cache: dict | None = None):
    cache = {} if cache is None else cache
    key = settings.digest()
    if key not in cache:
        chart = default_chart()
        store = c.extras.setdefault("stats_facts_store", FactsStore())

        def load(case_ids):
            with c.extras["read_sessions"]() as s:
                rows = stats_store.load_rows(s, settings.counted_processes, settings.watched_elements(),
                                             case_ids=case_ids)
                links = stats_store.load_repeat_links(s)
                urgent_rows = urgent.rows_by_case(s)
            facts = build_facts(*rows, settings, level_of(chart), _acceptance_due(c, settings), repeat_links=links)
            for f in facts:  # 重大紧急事项: the register rows of the case's urgent matters
                f.urgent = [u for u in map(urgent_report, urgent_rows.get(f.id, [])) if u is not None]
            return facts
        with c.extras["read_sessions"]() as s:
            cache[key] = store.facts(s, key, id(chart), load, related=stats_store.related_cases)
    return cache[key]


def _acceptance_due(c, settings: KpiSettings):
    """The acceptance limit from a dispatch instant, on one calendar snapshot for the whole build (reading the
    calendar's version once per case cost 7 ms a case)."""
    rule, days = settings.unsigned_acceptance
    snapshot = []

    def due(start):
        try:
            if not snapshot:
                snapshot.append(c.runtime.deadlines.command_calendar())
            if rule == "WD":
                return snapshot[0].due(start, workdays=days).due_at
            return snapshot[0].due(start, days=days, roll_forward=True).due_at
        except Exception:  # a year the calendar cannot count (before 2004): no limit rather than a wrong one
            return None
    return due


def scope_units(unit: str | None, visible: set[str] | None) -> tuple[set[str] | None, str]:
    """The units counted and the scope's name, for a unit asked for (or none) by a caller who sees `visible`
    (None: every unit)."""
    chart = default_chart()
    if unit:
        if not chart.has(unit):
            raise StatsRefused(422, "invalid", _("单位“%(unit)s”不在组织机构中，请从列表中选择。"), {"unit": unit})
        units = subtree(chart, unit)
        if visible is not None and unit not in visible:
            raise StatsRefused(403, "forbidden", _("您无权查看“%(name)s”的统计。"), {"name": chart.name(unit)})
        return (units if visible is None else units & visible), unit
    if visible is None:
        return None, "all"
    return visible, _root_of(chart, visible) or "mine"


def _root_of(chart, units: set[str]) -> str | None:
    """The one unit at the top of what the caller sees (the bureau: the city), the scope under which its frozen
    figures are kept; None when the caller's units are not one subtree's."""
    roots = [u for u in units if not chart.has(u) or chart.get(u).parent not in units]
    return roots[0] if len(roots) == 1 and chart.has(roots[0]) else None


def choice(args, name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
    """The query parameter `name`, which must be one of `allowed` when given: a 422 listing them otherwise (a
    value the code does not know used to pass through, and `sort=x` ended in a KeyError and a 500)."""
    value = args.get(name)
    if value in (None, ""):
        return default
    if value not in allowed:
        raise StatsRefused(422, "invalid", _("参数 %(name)s 只能是以下之一：%(allowed)s，请改正后重试。"),
                           {"name": name, "allowed": ", ".join(allowed)},
                           {"parameter": name, "allowed": list(allowed)})
    return value


def parse_request_period(c, settings: KpiSettings, args):
    try:
        if args.get("from") or args.get("to"):
            if not (args.get("from") and args.get("to")):
                raise SettingsError(_("请同时填写 from 和 to（两个日期都含在内）。"))
            return range_period(args["from"], args["to"])
        if args.get("period"):
            return parse_period(args["period"], settings)
        return period_of(c.clock.now(), settings)
    except SettingsError as err:
        raise StatsRefused(422, "invalid", str(err)) from None


@dataclass(frozen=True)
class SharedReport:
    """The kept live report itself (services.stats_cache.ReportCache), shared by every request until a figure can
    change: never to be changed by its reader, who says `computed_at` (now) in place of the report's own."""
    report: dict
    computed_at: str


def compute_report(c, *, period: str | None = None, unit: str | None = None, date_from: str | None = None,
                   date_to: str | None = None, settings_overrides: dict | None = None,
                   visible: set[str] | None = None, live: bool = True, facts=None, cache: dict | None = None,
                   shared: bool = False) -> dict | SharedReport:
    """The KPI report for a period and unit scope (a frozen snapshot when one exists and `live` is false). With
    `shared`, a live report is answered as a SharedReport (no copy made; the web layer keeps its encoding)."""
    settings = kpi_settings(c, **(settings_overrides or {}))
    args = {"period": period, "from": date_from, "to": date_to}
    p = parse_request_period(c, settings, {k: v for k, v in args.items() if v})
    units, scope = scope_units(unit, visible)
    if not live and scope != "mine" and not settings_overrides:
        with c.extras["read_sessions"]() as s:
            snap = stats_store.get(s, p.label, scope)
        if snap is not None:
            result = dict(snap["result"])
            result["frozen"] = {k: snap[k] for k in ("frozen_at", "frozen_by", "settings_digest")}
            return result
    if facts is not None:
        result = report(facts, p, c.clock.now(), settings, units, scope)
        result["frozen"] = None
        return result
    return _live_report(c, settings, p, units, scope, cache, shared)


def _live_report(c, settings: KpiSettings, p, units, scope, cache, shared: bool = False) -> dict | SharedReport:
    """The report computed now, or the same report kept from an earlier request when no figure can have changed
    since (services.stats_cache.ReportCache); always a copy the caller may change."""
    facts, generation = _facts_and_generation(c, settings, cache)
    now = c.clock.now()
    reports = c.extras.setdefault("stats_report_cache", ReportCache())
    key = (generation, settings.digest(), p.label, p.start, p.end, frozenset(units) if units is not None else None,
           scope)
    kept = reports.get(key, now)
    if kept is None:
        kept = report(facts, p, now, settings, units, scope)
        kept["frozen"] = None
        reports.put(key, now, horizon(facts, now, (p.start, p.end)), kept)
    if shared:
        return SharedReport(kept, now.isoformat())
    result = fresh_copy(kept)
    result["computed_at"] = now.isoformat()
    return result


def freeze_month(c, period: str, unit: str | None, actor: str, visible: set[str] | None = None,
                 cache: dict | None = None) -> dict:
    """Compute the month's figures and rankings now and store them, never to change (also the CLI's, which
    sees every unit). A caller who sees part of the organisation freezes the figures of its own scope."""
    result = compute_report(c, period=period, unit=unit, visible=visible, live=True, cache=cache)
    if result["scope"] == "mine":
        raise StatsRefused(422, "invalid", _("请选择要冻结的单位。"))
    units, _scope = scope_units(unit, visible)
    settings = kpi_settings(c)
    rows = rankings(load_facts(c, settings, cache), parse_period(period, settings), c.clock.now(), settings,
                    default_chart(), "county", units)
    result.pop("frozen", None)
    result["rankings"] = rows
    try:
        with c.session_factory() as s, s.begin():
            return stats_store.freeze(s, period=result["period"]["label"], scope=result["scope"],
                                      at=c.clock.now(), actor=actor, digest=result["settings_digest"],
                                      result=result)
    except stats_store.SnapshotExists:
        raise StatsRefused(409, "conflict", _("%(period)s 的统计数据已经冻结，已公布的数字不再改变。"),
                           {"period": period}) from None
