"""The security audit log for auditors: the page /audit/security-log (filter by kind, actor and dates, pages of
50) and the API GET /api/security-events (same filters), its chain check and its JSON-lines export.

Only auditors read it: the administrators' own actions are in it (the separation of the system administrator
and the auditor, 三员分立), so an administrator is refused (403) like everyone else.
"""
from __future__ import annotations

import math
from datetime import datetime, time, timedelta

from flask import Blueprint, Response, jsonify, render_template, request

from engine.clock import SHANGHAI
from infra import security_log

from ..auth import ApiError, roles_required
from ..http import container, query_day
from ..ui import page_principal

bp = Blueprint("security_log", __name__)
READERS = ("auditor",)
PER_PAGE = 50



def _query() -> security_log.Query:
    """Filters from the query string: kind, actor, from and to (days in Beijing time, both included), page."""
    kind = (request.args.get("kind") or "").strip() or None
    if kind is not None and kind not in security_log.KINDS:
        raise ApiError(400, "malformed", f"未知的事件类型 {kind}（unknown kind）", {"kinds": list(security_log.KINDS)})
    since, until = query_day("from"), query_day("to")
    page = request.args.get("page", "1")
    if not page.isdigit() or not 1 <= int(page) <= 100000:
        raise ApiError(400, "malformed", "page 应为正整数（page must be a positive whole number）")
    return security_log.Query(
        kind=kind, actor=(request.args.get("actor") or "").strip()[:64] or None,
        since=datetime.combine(since, time(), SHANGHAI) if since else None,
        until=datetime.combine(until + timedelta(days=1), time(), SHANGHAI) if until else None,
        page=int(page), per_page=PER_PAGE)


def _search(q: security_log.Query) -> tuple[list[dict], int]:
    with container().extras["read_sessions"]() as s:
        return security_log.search(s, q)


@bp.get("/audit/security-log")
def page():
    page_principal(*READERS)
    q = _query()
    rows, total = _search(q)
    return render_template("security_log/index.html", rows=rows, total=total, q=q, kinds=security_log.KINDS,
                           pages=max(1, math.ceil(total / PER_PAGE)), args=request.args)


@bp.get("/api/security-events")
@roles_required(*READERS)
def list_events():
    q = _query()
    rows, total = _search(q)
    for r in rows:
        r["at"] = r["at"].isoformat()
    return jsonify({"events": rows, "total": total, "page": q.page, "per_page": q.per_page})


@bp.get("/api/security-events/verify")
@roles_required(*READERS)
def verify():
    with container().extras["read_sessions"]() as s:
        check = security_log.verify(s)
    return jsonify({"ok": check.ok, "rows": check.rows, "first_bad_seq": check.first_bad_seq,
                    "problem": check.problem})


@bp.get("/api/security-events/export.jsonl")
@roles_required(*READERS)
def export():
    with container().extras["read_sessions"]() as s:
        lines = list(security_log.json_lines(s))
    body = "".join(line + "\n" for line in lines)
    return Response(body, mimetype="application/x-ndjson",
                    headers={"Content-Disposition": "attachment; filename=security-log.jsonl"})


_FILTERS = [{"name": name, "in": "query", "schema": {"type": "string"}, "description": text} for name, text in (
    ("kind", "event kind: " + ", ".join(security_log.KINDS)), ("actor", "username, exact"),
    ("from", "Beijing day YYYY-MM-DD, inclusive"), ("to", "Beijing day YYYY-MM-DD, inclusive"),
    ("page", "page number, 50 events a page"))]


def _op(summary: str, params: list | None = None, media: str = "application/json") -> dict:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    op: dict = {"summary": summary, "tags": ["audit"], "responses": {
        "200": {"description": "OK", "content": {media: {"schema": {"type": "object" if media.endswith("json")
                                                                    else "string"}}}},
        **{code: {"description": text, "content": error} for code, text in (
            ("400", "malformed"), ("401", "sign in first"), ("403", "auditors only"))}}}
    if params:
        op["parameters"] = params
    return op


OPENAPI_PATHS = {
    "/api/security-events": {"get": _op("The security audit log, newest first (auditors)", _FILTERS)},
    "/api/security-events/verify": {"get": _op("Check the security log's hash chain (auditors)")},
    "/api/security-events/export.jsonl": {"get": _op("The whole security log as JSON lines (auditors)",
                                                     media="application/x-ndjson")},
}
