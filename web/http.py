"""What every area of web/ shares, and nothing else: the error type and the JSON error shape, JSON answers,
the typed container accessor, the API blueprint parts and the OpenAPI helpers.

A leaf: it imports no module of web/ (auth, the areas and the app factory import it). Areas (web/desk,
web/casepage, web/audit, ...) do not import each other; what two of them need lives here, in a shared module
of web/ (auth, visibility, personal_data, ui) or below web/ in services/.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from flask import Blueprint, current_app, has_app_context, jsonify, request

from services.orgchart import default_chart

if TYPE_CHECKING:
    from .bootstrap import Container


class ApiError(Exception):
    """A refusal with an HTTP status: JSON `{"error": {"code", "message", "details"}}` under /api, a page
    elsewhere (the app factory's error handler)."""

    def __init__(self, status: int, code: str, message: str, details=None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def container() -> Container:
    """The application's container (web/bootstrap.py), built once per app."""
    return current_app.extensions["lianxin"]


def to_jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if set(map(type, value)) <= _PLAIN:  # a list of ids or names (the case ids behind a figure): as it is
            return list(value)
        return [to_jsonable(v) for v in value]
    return value


_PLAIN = {int, str, float, bool, type(None)}


def ok(payload, status: int = 200):
    """`payload` as a JSON answer: what `jsonify(to_jsonable(payload))` sends, byte for byte (the app's JSON
    provider: keys sorted, compact, a final newline), written in one pass of the encoder: dates and times, the only
    values `to_jsonable` changes, are turned into ISO text by the encoder's `default` when it meets them, instead
    of a walk through the whole answer before encoding (about a millisecond for a list of tasks)."""
    provider = current_app.json
    indent = (provider.compact is None and current_app.debug) or provider.compact is False
    text = provider.dumps(payload, default=_iso_dates, **({"indent": 2} if indent else {"separators": (",", ":")}))
    return current_app.response_class(f"{text}\n", mimetype=provider.mimetype), status


def _iso_dates(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return current_app.json.default(value)


def error_json(status: int, code: str, message: str, details=None):
    """The one JSON error shape."""
    return jsonify({"error": {"code": code, "message": message, "details": to_jsonable(details)}}), status


def query_day(name: str) -> date | None:
    """The query-string parameter `name` as a day (YYYY-MM-DD); None when absent or empty, 400 when malformed."""
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "malformed", f"{name} 应为日期，格式 YYYY-MM-DD（{name} must be a date YYYY-MM-DD）") from None


def body() -> dict:
    """The request's JSON object ({} for an empty body); 400 for anything else."""
    if not request.data:
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "malformed", "请求体必须是 JSON 对象（request body must be a JSON object）")
    return data


# ---------------------------------------------------------------- the JSON API's blueprint

API_NAME = "api"


def api_part(import_name: str) -> Blueprint:
    """An area's part of the JSON API under /api. The app factory joins the parts into the one blueprint `api`
    (`join_api`), so that endpoint names stay `api.<view>`: the access log stores them, the rate limits and the
    auditors' read-only rule name them. A part holds routes only (no error handlers or hooks)."""
    return Blueprint(API_NAME, import_name, url_prefix="/api")


def join_api(parts: list[Blueprint]) -> Blueprint:
    joined = Blueprint(API_NAME, __name__, url_prefix="/api")
    for part in parts:
        joined.deferred_functions.extend(part.deferred_functions)
    return joined


# ---------------------------------------------------------------- OpenAPI helpers (each area declares its paths)

ERROR = {"$ref": "#/components/schemas/Error"}


def op(summary: str, tag: str, *, body: dict | None = None, ok: int = 200, params: list | None = None,
       multipart: bool = False) -> dict:
    """An operation answering JSON, with the usual refusals."""
    out: dict = {"summary": summary, "tags": [tag],
                 "responses": {str(ok): {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                               "400": {"description": "malformed", "content": {"application/json": {"schema": ERROR}}},
                               "401": {"description": "sign in first", "content": {"application/json": {"schema": ERROR}}},
                               "403": {"description": "forbidden", "content": {"application/json": {"schema": ERROR}}}}}
    if params:
        out["parameters"] = params
    if body is not None:
        media = "multipart/form-data" if multipart else "application/json"
        out["requestBody"] = {"required": True, "content": {media: {"schema": body}}}
    return out


def limited(operation: dict) -> dict:
    """An operation under a rate limit (web/limits.py): 429 with Retry-After."""
    operation["responses"]["429"] = {"description": "too many attempts: try again after Retry-After seconds",
                                     "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                                     "content": {"application/json": {"schema": ERROR}}}
    return operation


def path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


def path_key() -> dict:
    return {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}


def org_chart():
    """The organisation as the database holds it (services.orgchart.ChartSource of the container: what `lianxin
    init` loaded and `lianxin org import` changed), else the organisation file."""
    if not has_app_context():  # a rule used outside a request (a unit test, a script): the organisation file
        return default_chart()
    source = container().extras.get("org_chart")
    return source.current() if source is not None else default_chart()
