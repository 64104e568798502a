"""The audit area's paths in `/api/openapi.json`."""
from __future__ import annotations

from ..http import ERROR, op, path_id

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
    operation = op("The case history as CSV, JSON, printable HTML or PDF (masked, with the verification result); "
             "recorded in the access log", "audit",
             params=[path_id("id"), {"name": "format", "in": "query", "schema": {
                 "type": "string", "enum": ["csv", "json", "html", "pdf"], "default": "json"}}] + _HISTORY_FILTERS)
    operation["responses"]["200"] = {"description": "the file", "content": {
        "text/csv": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "object"}},
        "text/html": {"schema": {"type": "string"}}, "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
    operation["responses"]["503"] = {"description": "the access could not be recorded; nothing exported",
                              "content": {"application/json": {"schema": ERROR}}}
    return operation


OPENAPI_PATHS = {
    "/api/cases/{id}/history": {"get": op(
        "The case journal, filtered; each event with the data it changed (before, after), personal data masked "
        "unless the caller needs it", "cases", params=[path_id("id")] + _HISTORY_FILTERS)},
    "/api/cases/{id}/access-log": {"get": op("Who viewed or exported the case, when, from where (auditors, admins)",
                                              "audit", params=[path_id("id")])},
    "/api/cases/{id}/export": {"get": _export_op()},
    "/api/cases/{id}/verify": {"get": op("Check the hash chain, then replay the journal against the stored state",
                                          "audit", params=[path_id("id")])},
    "/api/audit/verify-runs": {
        "get": op("Recent verification runs of every journal, with progress and failures (auditors, admins)",
                   "audit"),
        "post": op("Verify every case's journal in the background: 202 with the new run, 200 with the run "
                    "already in progress", "audit", ok=202)},
    "/api/audit/verify-runs/{id}": {"get": op("A verification run: progress, counts, failed cases",
                                               "audit", params=[path_id("id")])},
    "/api/cases/{id}/replay": {"get": op("The case as it stood after event seq", "audit", params=[
        path_id("id"), {"name": "seq", "in": "query", "schema": {"type": "integer", "minimum": 0}}])},
}
