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

import json
from datetime import datetime

from flask import Blueprint, Response, current_app, g, render_template, request, url_for
from flask_babel import gettext as _

from services.stats_cache import fresh_copy
from services.stats_export import kpi_workbook
from services.stats_report import RANKED, annual, cases_behind, rankings
from services.stats_requests import (
    SharedReport,
    StatsRefused,
    choice,
    compute_report,
    freeze_month,
    kpi_settings,
    load_facts,
    parse_request_period,
    scope_units,
)
from services.stats_settings import SettingsError, parse_period
from services.store import stats as stats_store

from .. import visibility
from ..auth import ApiError, Principal, require_login
from ..http import container, ok, org_chart, to_jsonable
from ..ui import page_principal

bp = Blueprint("stats", __name__)

STATS_ROLES = ("bureau", "jointmeeting", "leader", "county_office", "admin", "auditor")
FREEZE_ROLES = ("bureau", "admin")
LEVELS = ("county", "city", "unit")
LIVE = ("0", "1")
WHICH = ("numerator", "denominator")


@bp.errorhandler(StatsRefused)
def _refused(err: StatsRefused):
    """A period, unit or parameter the statistics cannot answer for: the app's refusal (a page, or JSON under
    /api), in the reader's language."""
    return current_app.handle_user_exception(ApiError(err.status, err.code, err.message(_), err.details))


def _facts_cache() -> dict:
    """Every case's facts are read once per request."""
    return g.setdefault("stats_facts", {})


def visible_units(p: Principal | None) -> set[str] | None:
    """None: every unit."""
    return visibility.units_scope(p)


def _principal_for_stats() -> Principal:
    p = require_login()
    if not p.has_role(*STATS_ROLES):
        raise ApiError(403, "forbidden", _("统计分析仅限信访局、联席会议办公室、领导、县信访局、管理员和审计员。"))
    return p


_KPI_ID_KEYS = ("case_ids", "denominator_case_ids")


def _report_from_args(c, p: Principal, args, shared: bool = False) -> dict | SharedReport:
    result = compute_report(c, period=args.get("period"), unit=args.get("unit") or None,
                            date_from=args.get("from"), date_to=args.get("to"), visible=visible_units(p),
                            live=choice(args, "live", LIVE) == "1", cache=_facts_cache(), shared=shared)
    if isinstance(result, SharedReport):
        return result
    return only_nameable_case_ids(c, p, result, result["kpis"], _KPI_ID_KEYS)


def _encoded_report(c, p: Principal, shared: SharedReport) -> Response:
    """/api/stats from a kept report: its JSON (with the case ids `p` may not see left out) is encoded once per
    kept report and set of hidden ids, and kept beside it, so that a figure behind 100,000 cases is not copied,
    filtered and encoded again for every request (issue #21); only `computed_at` (now) is added to it."""
    with c.extras["read_sessions"]() as s:
        hidden = visibility.discipline_hidden_ids(s, p)
    kept = c.extras.setdefault("stats_encoded", {})
    key = (id(shared.report), hidden)
    hit = kept.get(key)
    if hit is None or hit[0] is not shared.report:
        result = fresh_copy({k: v for k, v in shared.report.items() if k != "computed_at"})
        for row in result["kpis"]:
            for name in _KPI_ID_KEYS:
                if row.get(name) and not hidden.isdisjoint(row[name]):
                    row[name] = [i for i in row[name] if i not in hidden]
        hit = (shared.report, current_app.json.dumps(to_jsonable(result), separators=(",", ":")))
        while len(kept) >= 8:  # the latest few reports and callers
            kept.pop(next(iter(kept)))
        kept[key] = hit
    body = hit[1][:-1] + ',"computed_at":' + json.dumps(shared.computed_at) + "}\n"
    return current_app.response_class(body, mimetype=current_app.json.mimetype)


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
    rows = rankings(load_facts(c, settings, _facts_cache()), period, c.clock.now(), settings, org_chart(), level,
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
    result = annual(load_facts(c, settings, _facts_cache()), supervision, period, org_chart(), units, settings,
                    c.clock.now())
    return only_nameable_case_ids(c, p, result, result["by_category"] + result["most_complained_units"]
                                 + [result["suggestions"]] + result["figures"],
                                 ("case_ids", "denominator_case_ids", "adopted_case_ids", "rewarded_case_ids"))


# ---------------------------------------------------------------- JSON

@bp.get("/api/stats")
def api_stats():
    """Each KPI with numerator, denominator, value, definition and the case ids behind it."""
    p = _principal_for_stats()
    c = container()
    result = _report_from_args(c, p, request.args, shared=True)
    if isinstance(result, SharedReport):
        return _encoded_report(c, p, result)
    return ok(result)


@bp.get("/api/stats/cases")
def api_stats_cases():
    """The cases behind one KPI (`kpi`), its numerator (default) or denominator (`which=denominator`)."""
    p = _principal_for_stats()
    c = container()
    result = _report_from_args(c, p, request.args)
    kpi = _find_kpi(result, request.args.get("kpi", ""))
    which = choice(request.args, "which", WHICH, "numerator")
    facts = load_facts(c, kpi_settings(c), _facts_cache())
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
    return ok(freeze_month(container(), period, unit, p.username, visible_units(p), _facts_cache()), 201)


# ---------------------------------------------------------------- pages

def _page_principal() -> Principal:
    return page_principal(*STATS_ROLES)


@bp.get("/stats")
def dashboard():
    p = _page_principal()
    c = container()
    args = request.args
    result = _report_from_args(c, p, args)
    rows, _label = _rankings_from_args(c, p, args)
    chart = org_chart()
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
    cases = cases_behind(load_facts(c, kpi_settings(c), _facts_cache()), kpi, which)
    for case in cases:
        case["received"] = datetime.fromisoformat(case["received_at"])
    chart = org_chart()
    names = {code: u.name for code, u in chart.units.items()}
    back = {k: v for k, v in request.args.items() if k in ("period", "unit", "from", "to", "live")}
    return render_template("stats/cases.html", kpi=kpi, which=which, cases=cases, result=result, names=names,
                           back=back)


@bp.get("/stats/export.xlsx")
def export():
    p = _page_principal()
    c = container()
    result = _report_from_args(c, p, request.args)
    rows = result.get("rankings") or _rankings_from_args(c, p, request.args)[0]
    data = kpi_workbook(result, rows, _annual_from_args(c, p, {"year": result["period"]["to"][:4],
                                                                 "unit": request.args.get("unit")}))
    name = f"lianxin-stats-{result['period']['label']}-{result['scope']}.xlsx"
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
