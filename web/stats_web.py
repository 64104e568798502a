"""统计分析: the KPIs over HTTP and the dashboard for the bureau and leaders.

JSON (`/api/stats...`): the KPIs of a period and unit scope with numerators, denominators, definitions and case
ids; the cases behind a number (drill-down); unit rankings; the annual report data; frozen monthly snapshots.
Pages: `/stats` (dashboard: charts, rankings, drill-down links, exports), `/stats/cases` (the cases behind a
number, linking to `/cases/<id>`), `/stats/export.xlsx`.

Who sees what: admin and auditor every unit; everyone else (bureau, joint-meeting offices, leaders, county petition
offices) the units they serve, with subunits where their role says so (the city bureau: the city and all below).
Figures are frozen per scope: the CLI freezes "all", the bureau its city ("city"), a unit filter that unit. A
period that has a frozen snapshot for the scope asked is answered from it unless `live=1` is asked.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, current_app, g, has_request_context, render_template, request, url_for
from flask_babel import gettext as _

from services.orgchart import default_chart
from services.stats_facts import build_facts
from services.stats_report import RANKED, annual, cases_behind, level_of, rankings, report, subtree
from services.stats_settings import KpiSettings, SettingsError, parse_period, period_of, range_period
from services.store import stats as stats_store

from . import visibility
from .api import ok
from .auth import ApiError, Principal, require_login

bp = Blueprint("stats", __name__)

STATS_ROLES = ("bureau", "jointmeeting", "leader", "county_office", "admin", "auditor")
FREEZE_ROLES = ("bureau", "admin")
LEVELS = ("county", "city", "unit")
LIVE = ("0", "1")
WHICH = ("numerator", "denominator")


def container():
    return current_app.extensions["lianxin"]


# ---------------------------------------------------------------- the pieces a request needs

def kpi_settings(c, **overrides) -> KpiSettings:
    settings = KpiSettings.load(c.settings.processes_dir / "kpi.yaml")
    return settings.with_overrides(**overrides) if overrides else settings


def load_facts(c, settings: KpiSettings):
    """Every case's facts, read once per request (a page shows the KPIs, the ranking and the annual data)."""
    cache = g.setdefault("stats_facts", {}) if has_request_context() else {}
    key = settings.digest()
    if key not in cache:
        with c.extras["read_sessions"]() as s:
            rows = stats_store.load_rows(s, settings.process_keys, settings.watched_elements())
        cache[key] = build_facts(*rows, settings, level_of(default_chart()), _acceptance_due(c, settings))
    return cache[key]


def _acceptance_due(c, settings: KpiSettings):
    rule, days = settings.unsigned_acceptance

    def due(start):
        try:
            return c.runtime.compute_deadline(rule, days, start).due_at
        except Exception:  # a year the calendar cannot count (before 2004): no limit rather than a wrong one
            return None
    return due


def visible_units(p: Principal | None) -> set[str] | None:
    """None: every unit."""
    return visibility.units_scope(p)


def scope_units(unit: str | None, visible: set[str] | None) -> tuple[set[str] | None, str]:
    chart = default_chart()
    if unit:
        if not chart.has(unit):
            raise ApiError(422, "invalid", _("单位“%(unit)s”不在组织机构中，请从列表中选择。", unit=unit))
        units = subtree(chart, unit)
        if visible is not None and unit not in visible:
            raise ApiError(403, "forbidden", _("您无权查看“%(name)s”的统计。", name=chart.name(unit)))
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
        raise ApiError(422, "invalid", _("参数 %(name)s 只能是以下之一：%(allowed)s，请改正后重试。", name=name,
                                         allowed=", ".join(allowed)), {"parameter": name, "allowed": list(allowed)})
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
        raise ApiError(422, "invalid", str(err)) from None


def compute_report(c, *, period: str | None = None, unit: str | None = None, date_from: str | None = None,
                   date_to: str | None = None, settings_overrides: dict | None = None,
                   visible: set[str] | None = None, live: bool = True, facts=None) -> dict:
    """The KPI report for a period and unit scope (a frozen snapshot when one exists and `live` is false)."""
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
    facts = facts if facts is not None else load_facts(c, settings)
    result = report(facts, p, c.clock.now(), settings, units, scope)
    result["frozen"] = None
    return result


def _principal_for_stats() -> Principal:
    p = require_login()
    if not p.has_role(*STATS_ROLES):
        raise ApiError(403, "forbidden", _("统计分析仅限信访局、联席会议办公室、领导、县信访局、管理员和审计员。"))
    return p


def _report_from_args(c, p: Principal, args) -> dict:
    result = compute_report(c, period=args.get("period"), unit=args.get("unit") or None,
                            date_from=args.get("from"), date_to=args.get("to"), visible=visible_units(p),
                            live=choice(args, "live", LIVE) == "1")
    return only_nameable_case_ids(c, p, result, result["kpis"], ("case_ids", "denominator_case_ids"))


def only_nameable_case_ids(c, p: Principal, result: dict, rows: list[dict], keys: tuple[str, ...]) -> dict:
    """The figures count every case in scope; the case ids listed with them leave out the accusations on the
    discipline track that `p` may not see (counted, never named). `rows` are dicts of `result`, changed in place
    (`result` is computed for this request or read afresh from a snapshot, never stored again)."""
    listed = {i for row in rows for key in keys for i in (row.get(key) or [])}
    if not listed:
        return result
    with c.extras["read_sessions"]() as s:
        seen = visibility.case_ids_outside_discipline_track(s, p, listed)
    if seen == listed:
        return result
    for row in rows:
        for key in keys:
            if row.get(key):
                row[key] = [i for i in row[key] if i in seen]
    return result


def _rankings_from_args(c, p: Principal, args) -> tuple[list[dict], str]:
    level = args.get("level") or "county"
    if level not in LEVELS:
        raise ApiError(422, "invalid", _("level 应为 county、city 或 unit。"))
    sort = choice(args, "sort", RANKED)
    live = choice(args, "live", LIVE)
    settings = kpi_settings(c)
    period = parse_request_period(c, settings, args)
    _units, scope = scope_units(args.get("unit") or None, visible_units(p))
    published = live != "1" and level == "county" and not sort \
        and scope != "mine" and not args.get("from")
    if published:  # a frozen month's ranking is the one that was published
        with c.extras["read_sessions"]() as s:
            snap = stats_store.get(s, period.label, scope)
        if snap is not None and snap["result"].get("rankings") is not None:
            return snap["result"]["rankings"], period.label
    rows = rankings(load_facts(c, settings), period, c.clock.now(), settings, default_chart(), level,
                    visible_units(p), sort or "on_time_completion_rate")
    return rows, period.label


def _annual_from_args(c, p: Principal, args) -> dict:
    settings = kpi_settings(c)
    year = args.get("year") or str(c.clock.now().year)
    try:
        period = parse_period(year, settings)
    except SettingsError as err:
        raise ApiError(422, "invalid", str(err)) from None
    if len(period.label) != 4:
        raise ApiError(422, "invalid", _("year 应为四位年份，例如 2026。"))
    units, _scope = scope_units(args.get("unit") or None, visible_units(p))
    with c.extras["read_sessions"]() as s:
        supervision = stats_store.load_register_rows(s, "supervision", opened_from=period.start,
                                                     opened_before=period.end)
    result = annual(load_facts(c, settings), supervision, period, default_chart(), units)
    return only_nameable_case_ids(c, p, result, result["by_category"] + result["most_complained_units"]
                                 + [result["suggestions"]], ("case_ids",))


# ---------------------------------------------------------------- JSON

@bp.get("/api/stats")
def api_stats():
    """Each KPI with numerator, denominator, value, definition and the case ids behind it."""
    p = _principal_for_stats()
    return ok(_report_from_args(container(), p, request.args))


@bp.get("/api/stats/cases")
def api_stats_cases():
    """The cases behind one KPI (`kpi`), its numerator (default) or denominator (`which=denominator`)."""
    p = _principal_for_stats()
    c = container()
    result = _report_from_args(c, p, request.args)
    kpi = _find_kpi(result, request.args.get("kpi", ""))
    which = choice(request.args, "which", WHICH, "numerator")
    facts = load_facts(c, kpi_settings(c))
    return ok({"kpi": kpi, "which": which, "period": result["period"], "cases": cases_behind(facts, kpi, which)})


def _find_kpi(result: dict, key: str) -> dict:
    found = [k for k in result["kpis"] if k["key"] == key]
    if not found:
        raise ApiError(404, "not_found", _("没有指标“%(key)s”。", key=key))
    return found[0]


@bp.get("/api/stats/rankings")
def api_stats_rankings():
    p = _principal_for_stats()
    rows, label = _rankings_from_args(container(), p, request.args)
    return ok({"period": label, "rankings": rows})


@bp.get("/api/stats/annual")
def api_stats_annual():
    p = _principal_for_stats()
    return ok(_annual_from_args(container(), p, request.args))


@bp.get("/api/stats/snapshots")
def api_snapshots():
    _principal_for_stats()
    with container().extras["read_sessions"]() as s:
        return ok({"snapshots": stats_store.list_snapshots(s)})


@bp.post("/api/stats/snapshots")
def api_freeze():
    """Freeze a month's figures (bureau, admin): `{"period": "2026-03", "unit": optional}`."""
    p = _principal_for_stats()
    if not p.has_role(*FREEZE_ROLES):
        raise ApiError(403, "forbidden", _("只有信访局和管理员可以冻结统计数据。"))
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        raise ApiError(400, "malformed", _("请求体应为 JSON 对象，例如 {\"period\": \"2026-03\"}。"))
    period = str(body.get("period") or "")
    if len(period) != 7:
        raise ApiError(422, "invalid", _("请给出要冻结的统计月，例如 2026-03。"))
    unit = body.get("unit") or None
    if unit is not None and not isinstance(unit, str):
        raise ApiError(422, "invalid", _("unit 应为单位代码。"))
    return ok(freeze_month(container(), period, unit, p.username, visible_units(p)), 201)


def freeze_month(c, period: str, unit: str | None, actor: str, visible: set[str] | None = None) -> dict:
    """Compute the month's figures and rankings now and store them, never to change (also the CLI's, which
    sees every unit). A caller who sees part of the organisation freezes the figures of its own scope."""
    result = compute_report(c, period=period, unit=unit, visible=visible, live=True)
    if result["scope"] == "mine":
        raise ApiError(422, "invalid", _("请选择要冻结的单位。"))
    units, _scope = scope_units(unit, visible)
    settings = kpi_settings(c)
    rows = rankings(load_facts(c, settings), parse_period(period, settings), c.clock.now(), settings,
                    default_chart(), "county", units)
    result.pop("frozen", None)
    result["rankings"] = rows
    try:
        with c.session_factory() as s, s.begin():
            return stats_store.freeze(s, period=result["period"]["label"], scope=result["scope"],
                                      at=c.clock.now(), actor=actor, digest=result["settings_digest"],
                                      result=result)
    except stats_store.SnapshotExists:
        raise ApiError(409, "conflict", _("%(period)s 的统计数据已经冻结，已公布的数字不再改变。",
                                          period=period)) from None


# ---------------------------------------------------------------- pages

def _page_principal() -> Principal:
    from .ui import page_principal

    return page_principal(*STATS_ROLES)


@bp.get("/stats")
def dashboard():
    p = _page_principal()
    c = container()
    args = request.args
    result = _report_from_args(c, p, args)
    rows, _label = _rankings_from_args(c, p, args)
    chart = default_chart()
    units = visible_units(p)
    kinds = ("city", "county", "department", "petition_office")
    choices = [(u.code, u.name) for u in chart.units.values()
               if u.kind in kinds and (units is None or u.code in units)]
    kpis = {k["key"]: k for k in result["kpis"]}
    chart_data = {
        "channels": [{"name": _(k["key"].split(".", 1)[1]), "value": k["numerator"], "key": k["key"]}
                     for k in result["kpis"] if k["group"] == "channel"],
        "rates": [{"name": _(kpis[key]["label"]), "value": kpis[key]["value"], "key": key}
                  for key in ("timely_acceptance", "on_time_completion_rate", "on_time_reply_rate",
                              "satisfaction_rate", "participation_rate", "repeat_rate")],
        "ranking": [{"name": r["unit_name"], "value": r["on_time_completion_rate"]["value"]} for r in rows],
        "milestones": [{"name": k["key"].split(".")[1], "value": k["value"], "key": k["key"]}
                       for k in result["kpis"] if k["group"] == "13710"],
        "drill": url_for("stats.drill"),
        "query": {k: v for k, v in args.items() if k in ("period", "unit", "from", "to", "live")},
    }
    query = chart_data["query"]
    with c.extras["read_sessions"]() as s:
        snapshots = [snap for snap in stats_store.list_snapshots(s) if snap["scope"] == result["scope"]]
    period_value = "" if args.get("from") else (args.get("period") or result["period"]["label"])
    return render_template("stats/dashboard.html", result=result, kpis=kpis, rankings=rows, choices=choices,
                           args=args, query=query, period_value=period_value,
                           chart_data=chart_data,
                           annual=_annual_from_args(c, p, {"year": result["period"]["to"][:4],
                                                           "unit": args.get("unit")}),
                           can_freeze=p.has_role(*FREEZE_ROLES), snapshots=snapshots[:24])


@bp.get("/stats/cases")
def drill():
    p = _page_principal()
    c = container()
    result = _report_from_args(c, p, request.args)
    kpi = _find_kpi(result, request.args.get("kpi", ""))
    which = choice(request.args, "which", WHICH, "numerator")
    cases = cases_behind(load_facts(c, kpi_settings(c)), kpi, which)
    for case in cases:
        case["received"] = datetime.fromisoformat(case["received_at"])
    chart = default_chart()
    names = {code: u.name for code, u in chart.units.items()}
    back = {k: v for k, v in request.args.items() if k in ("period", "unit", "from", "to", "live")}
    return render_template("stats/cases.html", kpi=kpi, which=which, cases=cases, result=result, names=names,
                           back=back)


@bp.get("/stats/export.xlsx")
def export():
    from services.stats_export import kpi_workbook

    p = _page_principal()
    c = container()
    result = _report_from_args(c, p, request.args)
    rows = result.get("rankings") or _rankings_from_args(c, p, request.args)[0]
    data = kpi_workbook(result, rows, _annual_from_args(c, p, {"year": result["period"]["to"][:4],
                                                                 "unit": request.args.get("unit")}))
    name = f"lianxin-stats-{result['period']['label']}-{result['scope']}.xlsx"
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ---------------------------------------------------------------- the API description (merged by web/openapi.py)

def _q(name: str, description: str, **schema) -> dict:
    return {"name": name, "in": "query", "schema": {"type": "string", **schema}, "description": description}


_SCOPE = [_q("period", "statistical month YYYY-MM or year YYYY (default: the current month)"),
          _q("from", "first day, YYYY-MM-DD (with to, instead of period)"),
          _q("to", "last day, YYYY-MM-DD (inclusive)"),
          _q("unit", "a unit code: that unit and its subunits (default: every unit the caller may see)"),
          _q("live", "1: compute now even if the period is frozen", enum=["0", "1"])]


def _stats_op(summary: str, params: list | None = None, body: dict | None = None, ok: int = 200) -> dict:
    from .openapi import _op

    op = _op(summary, "stats", params=params, body=body, ok=ok)
    op["responses"]["422"] = {"description": "invalid period, dates, unit, level, sort, which or live",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return op


OPENAPI_PATHS = {
    "/api/stats": {"get": _stats_op(
        "The KPIs of a period and unit scope: each with numerator, denominator, value, definition and case ids",
        _SCOPE)},
    "/api/stats/cases": {"get": _stats_op("The cases behind one KPI's numerator or denominator (drill-down)", _SCOPE + [
        _q("kpi", "the KPI key, e.g. on_time_completion_rate"),
        _q("which", "numerator (default) or denominator", enum=["numerator", "denominator"])])},
    "/api/stats/rankings": {"get": _stats_op("Units ranked by a KPI", _SCOPE + [
        _q("level", "county (default), city or unit", enum=list(LEVELS)),
        _q("sort", "the KPI to rank by (default on_time_completion_rate)", enum=list(RANKED))])},
    "/api/stats/annual": {"get": _stats_op("The annual report data (Art. 41): fields, most complained-about units, "
                                           "transfers, assignments, supervisions, suggestions",
                                           [_q("year", "YYYY"), _q("unit", "a unit code")])},
    "/api/stats/snapshots": {
        "get": _stats_op("Frozen monthly snapshots"),
        "post": _stats_op("Freeze a month's figures (bureau, admin); 409 if already frozen", body={
            "type": "object", "required": ["period"], "properties": {
                "period": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}, "unit": {"type": "string"}}},
            ok=201),
    },
}
