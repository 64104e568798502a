"""The case area's paths in `/api/openapi.json`."""
from __future__ import annotations

from services import attachments

from ..http import op, path_id

_CASE = [path_id("id")]
_ATTACHMENT = _CASE + [path_id("attachment_id")]

OPENAPI_PATHS = {
    "/api/cases/{id}": {"get": op("Case status, tasks, timers, incidents, data; `erasure` (rule, years, erased_at) "
                                  "once the personal data was erased under the retention rule, else null; "
                                  "`linked_cases` (the supervision-feedback cases its 督办 steps started: id, "
                                  "process_key, title, status, created_at, completed_at) and `parent_case` (the "
                                  "case a linked case belongs to, else null)", "cases",
                                  params=[path_id("id")])},
    "/api/cases/{id}/messages/{name}": {"post": op("Deliver a BPMN message", "cases", params=[
        path_id("id"), {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        body={"type": "object", "properties": {"payload": {"type": "object"}}})},
    "/api/cases/{id}/incidents/retry": {"post": op("Retry failed steps after a fix", "cases",
                                                    params=[path_id("id")])},
    "/api/cases/{id}/pause": {"post": op("Stop the clock (reason required)", "deadlines", params=[path_id("id")],
                                          body={"type": "object", "properties": {"reason": {"type": "string"}}})},
    "/api/cases/{id}/resume": {"post": op("Restart the clock with the days left", "deadlines",
                                           params=[path_id("id")],
                                           body={"type": "object", "properties": {"reason": {"type": "string"}}})},
    "/api/cases/{id}/deadlines/{key}/extend": {"post": op("Approved extension (at most 30 days in all)", "deadlines",
        params=[path_id("id"), {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
        body={"type": "object", "required": ["days", "reason"], "properties": {
            "days": {"type": "integer", "minimum": 1, "maximum": 30}, "reason": {"type": "string"}}})},
    "/api/cases/{id}/diagram": {"get": op(
        "The BPMN of the case's definition version, with active and completed elements and task alerts",
        "cases", params=_CASE)},
    "/api/cases/{id}/comments": {
        "get": op("Comments on the case and its tasks", "cases", params=_CASE),
        "post": op("Add a comment (journaled); 422 when empty or too long", "cases", ok=201, params=_CASE,
                   body={"type": "object", "required": ["body"], "properties": {
                       "body": {"type": "string", "maxLength": attachments.MAX_COMMENT_CHARS},
                       "work_item_id": {"type": "integer"}}}),
    },
    "/api/cases/{id}/attachments": {
        "get": op("Attachments of the case (name, type, size, SHA-256, who, when)", "cases", params=_CASE),
        "post": op("Upload one file as multipart field `file` (journaled); 413 when too large, 422 for a "
                   "refused type", "cases", ok=201, params=_CASE, multipart=True,
                   body={"type": "object", "required": ["file"], "properties": {
                       "file": {"type": "string", "format": "binary"},
                       "work_item_id": {"type": "integer"}}}),
    },
    "/api/cases/{id}/attachments/{attachment_id}": {"get": op(
        "Download an attachment (Content-Disposition: attachment)", "cases", params=_ATTACHMENT)},
}
