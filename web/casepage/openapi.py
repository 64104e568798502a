"""The case area's paths in `/api/openapi.json`."""
from __future__ import annotations

from services import attachments

from ..http import op, path_id, path_key

_CASE = [path_id("id")]


def _governed(operation: dict) -> dict:
    """The clock acts: 403 names the proper path, 409 a clock in the wrong state, 422 a missing reason."""
    operation["responses"]["403"]["description"] = "clock_governed: not this way, not by you; the message names the path"
    operation["responses"]["409"] = {"description": "no such running deadline, or the clock is (not) stopped",
                                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    operation["responses"]["422"] = {"description": "reason missing, days or date out of bounds",
                                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return operation
_ATTACHMENT = _CASE + [path_id("attachment_id")]

OPENAPI_PATHS = {
    "/api/cases/{id}": {"get": op("Case status, tasks, timers, incidents, data; `assignment_chain` (交办链: from, to, type, at); `erasure` (rule, years, erased_at) "
                                  "once the personal data was erased under the retention rule, else null; "
                                  "`repeat_of` (the original a repeat petition was linked to: case_id, case_no, "
                                  "outcome, linked_at; else null) and `repeats` (the repeats linked to this case, "
                                  "oldest first: case_id, case_no, registered_at, linked_at, outcome; id and number "
                                  "null for a repeat the caller may not see); `linked_cases` (the supervision-feedback cases its 督办 "
                                  "steps started: id, process_key, title, status, created_at, completed_at) and "
                                  "`parent_case` (the case a linked case belongs to, else null)", "cases",
                                  params=[path_id("id")])},
    "/api/cases/{id}/messages/{name}": {"post": op(
        "Deliver a BPMN message. `复查申请` / `复核申请` are taken from the service of the reply (review opinion) on, "
        "queued until the case waits for them; before service, after the 30-day window or a second time: 409 with "
        "the reason", "cases", params=[
        path_id("id"), {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        body={"type": "object", "properties": {"payload": {"type": "object"}}})},
    "/api/cases/{id}/incidents/retry": {"post": op("Retry failed steps after a fix", "cases",
                                                    params=[path_id("id")])},
    "/api/cases/{id}/pause": {"post": _governed(op(
        "Stop the clock: only while a re-review (复核) is open, for its hearing (条例第三十六条), by the re-review "
        "body, the bureau or an admin; journaled with that basis. 403 `clock_governed` anywhere else", "deadlines",
        params=[path_id("id")], body={"type": "object", "required": ["reason"],
                                      "properties": {"reason": {"type": "string"}}}))},
    "/api/cases/{id}/resume": {"post": op("Restart the clock with the days left (re-review body, bureau, admin)",
                                           "deadlines", params=[path_id("id")],
                                           body={"type": "object", "properties": {"reason": {"type": "string"}}})},
    "/api/cases/{id}/deadlines/{key}/extend": {"post": _governed(op(
        "Extend a deadline of a process without statutory limits, by a supervising office (bureau, joint-meeting "
        "office), at most 30 days in all. 403 `clock_governed` for every statutory limit (the handling limit is "
        "extended through the process: 申请延期 → 审批延期申请) and for the unit whose clock it is", "deadlines",
        params=[path_id("id"), path_key()],
        body={"type": "object", "required": ["days", "reason"], "properties": {
            "days": {"type": "integer", "minimum": 1, "maximum": 30}, "reason": {"type": "string"}}}))},
    "/api/cases/{id}/deadlines/{key}/correct": {"post": _governed(op(
        "Correct a wrongly computed deadline (更正时限, admins only): it ends at 24:00 of `due_date`; journaled as "
        "`deadline.corrected` with the reason and the due time before and after", "deadlines",
        params=[path_id("id"), path_key()],
        body={"type": "object", "required": ["due_date", "reason"], "properties": {
            "due_date": {"type": "string", "format": "date"}, "reason": {"type": "string", "minLength": 1}}}))},
    "/api/cases/{id}/supervise": {"post": op(
        "Issue a 督办 by hand: the unit holding the case's open task and its head are notified, a row is added to the "
        "supervision list and the supervision-feedback case starts (as for an automatic 督办). Only the petition "
        "office one level up of that unit (its bureau or county-office role); 403 for anyone else, 409 when no "
        "unit's task is open, 422 without a reason. Journaled as `case.supervised`", "cases", ok=201,
        params=_CASE, body={"type": "object", "required": ["reason"], "properties": {
            "reason": {"type": "string", "minLength": 1, "maxLength": 500}}})},
    "/api/cases/{id}/accountability": {
        "get": op("The case's accountability records (问责: register rows with kind, reason, office, person, status, "
                  "due, feedback), the units of the case the caller may record against (`may_record`: unit, office, "
                  "people) and the kinds with their limit bounds (`kinds`)", "cases", params=_CASE),
        "post": op("Record 约谈, 通报, 限期整改 or 追责建议 against a unit of the case, or one of its people: by the "
                   "office that supervises the unit (supervisor_of; the bureau for its area), never by the unit "
                   "itself (403); 422 for an unknown kind, a unit that did not handle the case, a person not of the "
                   "unit, a limit outside the kind's bounds (settings.dmn) or no reason. Starts the linked "
                   "accountability_feedback case (the unit's written feedback); journaled as "
                   "`case.accountability_recorded`", "cases", ok=201, params=_CASE,
                   body={"type": "object", "required": ["unit", "kind", "reason"], "properties": {
                       "unit": {"type": "string"}, "person": {"type": "string"},
                       "kind": {"type": "string", "enum": ["约谈", "通报", "限期整改", "追责建议"]},
                       "limit_days": {"type": "integer", "minimum": 1, "maximum": 90},
                       "reason": {"type": "string", "minLength": 1, "maxLength": 500}}}),
    },
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
