"""`/api/openapi.json`: the API description, kept beside the routes it describes."""
from __future__ import annotations

from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}


def _op(summary: str, tag: str, *, body: dict | None = None, ok: int = 200, params: list | None = None,
        multipart: bool = False) -> dict:
    op: dict = {"summary": summary, "tags": [tag],
                "responses": {str(ok): {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                              "400": {"description": "malformed", "content": {"application/json": {"schema": ERROR}}},
                              "401": {"description": "sign in first", "content": {"application/json": {"schema": ERROR}}},
                              "403": {"description": "forbidden", "content": {"application/json": {"schema": ERROR}}}}}
    if params:
        op["parameters"] = params
    if body is not None:
        media = "multipart/form-data" if multipart else "application/json"
        op["requestBody"] = {"required": True, "content": {media: {"schema": body}}}
    return op


def _limited(op: dict) -> dict:
    """An operation under a rate limit (web/limits.py): 429 with Retry-After."""
    op["responses"]["429"] = {"description": "too many attempts: try again after Retry-After seconds",
                              "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                              "content": {"application/json": {"schema": ERROR}}}
    return op


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


_HISTORY_FILTERS = [
    {"name": "actor", "in": "query", "schema": {"type": "string"}, "description": "username, exact"},
    {"name": "type", "in": "query", "schema": {"type": "string"},
     "description": "event type, exact, or a prefix ending in '.' such as 'task.'"},
    {"name": "element", "in": "query", "schema": {"type": "string"}, "description": "BPMN element id"},
    {"name": "from", "in": "query", "schema": {"type": "string"},
     "description": "date (Beijing day, inclusive) or ISO-8601 instant"},
    {"name": "to", "in": "query", "schema": {"type": "string"},
     "description": "date (Beijing day, inclusive) or ISO-8601 instant (exclusive)"},
]


def _export_op() -> dict:
    op = _op("The case history as CSV, JSON, printable HTML or PDF (masked, with the verification result); "
             "recorded in the access log", "audit",
             params=[_path_id("id"), {"name": "format", "in": "query", "schema": {
                 "type": "string", "enum": ["csv", "json", "html", "pdf"], "default": "json"}}] + _HISTORY_FILTERS)
    op["responses"]["200"] = {"description": "the file", "content": {
        "text/csv": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "object"}},
        "text/html": {"schema": {"type": "string"}}, "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
    op["responses"]["503"] = {"description": "the access could not be recorded; nothing exported",
                              "content": {"application/json": {"schema": ERROR}}}
    return op


_PERSON = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string"}, "id_number": {"type": "string"}, "phone": {"type": "string"},
    "address": {"type": "string"}}}
_REGISTRATION = {"type": "object", "required": ["channel", "title", "request", "category", "location"], "properties": {
    "channel": {"type": "string"}, "title": {"type": "string"}, "request": {"type": "string"},
    "facts": {"type": "string"}, "category": {"type": "string"}, "subcategory": {"type": "string"},
    "location": {"type": "string"}, "respondent": {"type": "string"}, "nature": {"type": "string"},
    "petitioners": {"type": "array", "items": _PERSON}, "group_visit": {"type": "boolean"},
    "visitors_count": {"type": "integer"}, "merge_into": {"type": "integer"}, "dry_run": {"type": "boolean"}}}
_HAND_OVER = {"type": "object", "required": ["to"], "properties": {"to": {"type": "string"}, "note": {"type": "string"}}}


def _path_key() -> dict:
    return {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}


_DESIGNER_EDIT = {"type": "object", "required": ["base_definition_id", "files"], "properties": {
    "base_definition_id": {"type": "integer"}, "files": {"type": "object", "additionalProperties": {"type": "string"}}}}


SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "连心 Lianxin API", "version": "0.1.0",
             "description": "信访事项办理系统接口。Errors are {error: {code, message, details}}."},
    "components": {
        "schemas": {"Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}}}},
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "cookie": {"type": "apiKey", "in": "cookie", "name": "session"}},
    },
    "security": [{"bearer": []}, {"cookie": []}],
    "paths": {
        "/api/session": {
            "post": _limited(_op("Sign in (wrong passwords limited per account and address: 429; admin, designer and "
                                 "auditor also give otp, a TOTP or recovery code: 401 second_factor_required "
                                 "without it; 401 account_locked after repeated failures)", "session", ok=201,
                                 body={"type": "object", "required": ["username", "password"], "properties": {
                                     "username": {"type": "string"}, "password": {"type": "string"},
                                     "otp": {"type": "string"}}})),
            "get": _op("Who am I", "session"),
            "delete": _op("Sign out: this session and every other of the user's end", "session"),
        },
        "/api/session/password": {
            "put": _op("Change the own password (ends the user's other sessions)", "session", body={
                "type": "object", "required": ["password", "new_password"], "properties": {
                    "password": {"type": "string"}, "new_password": {"type": "string"}}}),
        },
        "/api/process-definitions": {
            "get": _op("Deployed definitions and versions", "definitions"),
            "post": _op("Validate and deploy files (all or nothing)", "definitions", ok=201, multipart=True,
                        body={"type": "object", "properties": {"files": {"type": "array", "items": {
                            "type": "string", "format": "binary"}}, "comment": {"type": "string"}}}),
        },
        "/api/designer/handlers": {"get": _op("Registered service handlers with their parameters (designers)", "designer")},
        "/api/designer/forms": {"get": _op("Form files a user task may name (designers)", "designer")},
        "/api/designer/roles": {"get": _op("Roles a lane may map to (designers)", "designer")},
        "/api/designer/processes/{key}": {"get": _op(
            "A deployed version's files (latest or ?version=N), its main BPMN file and the process's draft", "designer",
            params=[_path_key(), {"name": "version", "in": "query", "schema": {"type": "integer"}}])},
        "/api/designer/processes/{key}/versions": {"get": _op(
            "Versions with author, time, comment and running/completed cases", "designer", params=[_path_key()])},
        "/api/designer/processes/{key}/draft": {
            "put": _op("Save the process's draft {base_definition_id, files: {name: text}}", "designer",
                       params=[_path_key()], body=_DESIGNER_EDIT),
            "delete": _op("Discard the draft", "designer", params=[_path_key()]),
        },
        "/api/designer/processes/{key}/validate": {"post": _op(
            "Validate edited files with the deployment's checks: {ok, problems: [{file, line, element_id, message}], "
            "warnings}", "designer", params=[_path_key()], body=_DESIGNER_EDIT)},
        "/api/designer/processes/{key}/deploy": {"post": _op(
            "Deploy edited files as a new version; comment required; 422 with problems, nothing deployed", "designer",
            ok=201, params=[_path_key()], body=dict(_DESIGNER_EDIT, required=["base_definition_id", "files", "comment"],
                                                    properties=dict(_DESIGNER_EDIT["properties"],
                                                                    comment={"type": "string"})))},
        "/api/designer/migrations/check": {"post": _op(
            "Dry run: replay each running case's journal on the target version; which can move and why not. Cases "
            "the caller may not see (accusations) are only counted (`hidden`); naming one is refused (403)",
            "designer", body={"type": "object", "required": ["to_definition_id"], "properties": {
                "to_definition_id": {"type": "integer"}, "from_definition_id": {"type": "integer"},
                "case_ids": {"type": "array", "items": {"type": "integer"}}}})},
        "/api/designer/migrations": {"post": _op(
            "Move the chosen cases to the target version in one batch (all or none), journaled per case", "designer",
            ok=201, body={"type": "object", "required": ["to_definition_id", "case_ids"], "properties": {
                "to_definition_id": {"type": "integer"}, "case_ids": {"type": "array", "items": {"type": "integer"}}}})},
        "/api/process-definitions/{key}/instances": {
            "post": _op("Start a process (designers, admins)", "cases", ok=201,
                        params=[{"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
                        body={"type": "object", "properties": {"data": {"type": "object"}}}),
        },
        "/api/cases": {"post": _op(
            "Register a petition (channel, petitioners, category from processes/categories.yaml, location, title, "
            "facts, request; a group visit elects at most 5 representatives). 201 {id, case_no, query_code, status}; "
            "422 with details [{field, title, message}]; merge_into: the id of the original case to merge a repeat "
            "into; dry_run: validate and list likely repeats only", "cases", ok=201, body=_REGISTRATION)},
        "/api/cases/repeats": {"post": _op(
            "Likely repeats of a registration (same ID number or phone, or same location and category with a "
            "similar request, within 12 months); petitioners masked", "cases", body=_REGISTRATION)},
        "/api/cases/{id}": {"get": _op("Case status, tasks, timers, incidents, data", "cases", params=[_path_id("id")])},
        "/api/cases/{id}/history": {"get": _op(
            "The case journal, filtered; each event with the data it changed (before, after), personal data masked "
            "unless the caller needs it", "cases", params=[_path_id("id")] + _HISTORY_FILTERS)},
        "/api/cases/{id}/access-log": {"get": _op("Who viewed or exported the case, when, from where (auditors, admins)",
                                                  "audit", params=[_path_id("id")])},
        "/api/cases/{id}/export": {"get": _export_op()},
        "/api/cases/{id}/verify": {"get": _op("Check the hash chain, then replay the journal against the stored state",
                                              "audit", params=[_path_id("id")])},
        "/api/audit/verify-runs": {
            "get": _op("Recent verification runs of every journal, with progress and failures (auditors, admins)",
                       "audit"),
            "post": _op("Verify every case's journal in the background: 202 with the new run, 200 with the run "
                        "already in progress", "audit", ok=202)},
        "/api/audit/verify-runs/{id}": {"get": _op("A verification run: progress, counts, failed cases",
                                                   "audit", params=[_path_id("id")])},
        "/api/cases/{id}/replay": {"get": _op("The case as it stood after event seq", "audit", params=[
            _path_id("id"), {"name": "seq", "in": "query", "schema": {"type": "integer", "minimum": 0}}])},
        "/api/cases/{id}/messages/{name}": {"post": _op("Deliver a BPMN message", "cases", params=[
            _path_id("id"), {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            body={"type": "object", "properties": {"payload": {"type": "object"}}})},
        "/api/cases/{id}/incidents/retry": {"post": _op("Retry failed steps after a fix", "cases",
                                                        params=[_path_id("id")])},
        "/api/cases/{id}/pause": {"post": _op("Stop the clock (reason required)", "deadlines", params=[_path_id("id")],
                                              body={"type": "object", "properties": {"reason": {"type": "string"}}})},
        "/api/cases/{id}/resume": {"post": _op("Restart the clock with the days left", "deadlines",
                                               params=[_path_id("id")],
                                               body={"type": "object", "properties": {"reason": {"type": "string"}}})},
        "/api/cases/{id}/deadlines/{key}/extend": {"post": _op("Approved extension (at most 30 days in all)", "deadlines",
            params=[_path_id("id"), {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
            body={"type": "object", "required": ["days", "reason"], "properties": {
                "days": {"type": "integer", "minimum": 1, "maximum": 30}, "reason": {"type": "string"}}})},
        "/api/reports/overdue": {"get": _op("Overdue work items per unit", "deadlines")},
        "/api/registers/{register}": {"get": _op("A case register (the four lists) per unit and leader", "lists",
            params=[{"name": "register", "in": "path", "required": True, "schema": {"type": "string", "enum": [
                "leader_case", "stabilisation", "resolution", "supervision"]}},
                    {"name": "unit", "in": "query", "schema": {"type": "string"}},
                    {"name": "person", "in": "query", "schema": {"type": "string"}},
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "closed"]}}])},
        "/api/tasks": {"get": _op("Work items visible to the caller, the same list as the page /tasks: filters, "
                                  "sort by due date, paging; answers {tasks, total, limit, offset, filters, now}",
                                  "tasks", params=[
            {"name": "scope", "in": "query", "schema": {"type": "string", "enum": ["mine", "unit", "all"]}},
            {"name": "process", "in": "query", "schema": {"type": "string"}},
            {"name": "task", "in": "query", "schema": {"type": "string"}, "description": "task name as shown"},
            {"name": "element", "in": "query", "schema": {"type": "string"}, "description": "BPMN element id"},
            {"name": "unit", "in": "query", "schema": {"type": "string"}},
            {"name": "channel", "in": "query", "schema": {"type": "string"}},
            {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["due", "-due"]}},
            {"name": "overdue", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
            {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}}])},
        "/api/tasks/{id}/claim": {"post": _op("Claim", "tasks", params=[_path_id("id")])},
        "/api/tasks/{id}/unclaim": {"post": _op("Give back", "tasks", params=[_path_id("id")])},
        "/api/tasks/{id}/reassign": {"post": _op("Reassign to a user of the task's unit holding its role (journaled)",
                                                 "tasks", params=[_path_id("id")], body=_HAND_OVER)},
        "/api/tasks/{id}/delegate": {"post": _op("Delegate to a user of the task's unit (journaled)", "tasks",
                                                 params=[_path_id("id")], body=_HAND_OVER)},
        "/api/tasks/{id}/complete": {"post": _op("Complete with data; 409 when no longer open", "tasks",
                                                 params=[_path_id("id")], body={"type": "object", "properties": {
                                                     "data": {"type": "object"}, "version": {"type": "integer"}}})},
        "/api/clock": {"get": _op("The clock", "clock"),
                       "post": _op("Move the clock (clock control only)", "clock", body={"type": "object", "properties": {
                           "now": {"type": "string"}, "advance": {"type": "string"}}})},
        "/api/calendar/due": {"get": _op("A due date with its explanation", "calendar", params=[
            {"name": "from", "in": "query", "required": True, "schema": {"type": "string"}},
            {"name": "workdays", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            {"name": "roll", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}}])},
        "/api/calendar": {"get": _op("Loaded years, provisional years and the administrators' warning", "calendar")},
        "/api/calendar/{year}": {
            "get": _op("A year's working-day calendar", "calendar", params=[_path_id("year")]),
            "put": _op("Import a year's official arrangement (YAML or CSV text)", "calendar", params=[_path_id("year")],
                       body={"type": "object", "properties": {"content": {"type": "string"},
                                                              "format": {"type": "string"}}}),
        },
    },
}


@bp.get("/api/openapi.json")
def openapi():
    from .casepage_web import OPENAPI_PATHS as CASEPAGE_PATHS
    from .notifications_web import OPENAPI_PATHS
    from .public_web import OPENAPI_PATHS as PUBLIC_PATHS
    from .security_log_web import OPENAPI_PATHS as SECURITY_LOG_PATHS
    from .stats_web import OPENAPI_PATHS as STATS_PATHS
    from .totp_web import OPENAPI_PATHS as TOTP_PATHS

    spec = dict(SPEC, paths={**SPEC["paths"], **OPENAPI_PATHS, **PUBLIC_PATHS, **CASEPAGE_PATHS, **STATS_PATHS,
                             **TOTP_PATHS, **SECURITY_LOG_PATHS})
    return jsonify(spec)
