"""The statistics paths in `/api/openapi.json`."""
from __future__ import annotations

from services.stats_report import RANKED

from ..http import op
from .pages import LEVELS


def _q(name: str, description: str, **schema) -> dict:
    return {"name": name, "in": "query", "schema": {"type": "string", **schema}, "description": description}


_SCOPE = [_q("period", "statistical month YYYY-MM or year YYYY (default: the current month)"),
          _q("from", "first day, YYYY-MM-DD (with to, instead of period)"),
          _q("to", "last day, YYYY-MM-DD (inclusive)"),
          _q("unit", "a unit code: that unit and its subunits (default: every unit the caller may see)"),
          _q("live", "1: compute now even if the period is frozen", enum=["0", "1"])]


def _stats_op(summary: str, params: list | None = None, body: dict | None = None, ok: int = 200) -> dict:
    operation = op(summary, "stats", params=params, body=body, ok=ok)
    operation["responses"]["422"] = {"description": "invalid period, dates, unit, level, sort, which or live",
                                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return operation


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
