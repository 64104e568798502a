"""The desk's paths in `/api/openapi.json`: registration, tasks, registers, overdue work."""
from __future__ import annotations

from ..http import op, path_id

_PERSON = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string"}, "id_type": {"type": "string"}, "id_number": {"type": "string"},
    "phone": {"type": "string"},
    "address": {"type": "string"}}}
_REGISTRATION = {"type": "object", "required": ["channel", "title", "request", "category", "location"], "properties": {
    "channel": {"type": "string"}, "title": {"type": "string"}, "request": {"type": "string"},
    "facts": {"type": "string"}, "category": {"type": "string"}, "subcategory": {"type": "string"},
    "location": {"type": "string"}, "respondent": {"type": "string"}, "nature": {"type": "string"},
    "petitioners": {"type": "array", "items": _PERSON}, "group_visit": {"type": "boolean"},
    "visitors_count": {"type": "integer"}, "merge_into": {"type": "integer"}, "dry_run": {"type": "boolean"}}}
_HAND_OVER = {"type": "object", "required": ["to"], "properties": {"to": {"type": "string"}, "note": {"type": "string"}}}

OPENAPI_PATHS = {
    "/api/cases": {"post": op(
        "Register a petition (channel, petitioners, category from processes/categories.yaml, location, title, "
        "facts, request; a group visit elects at most 5 representatives). 201 {id, case_no, query_code, status}; "
        "422 with details [{field, title, message}]; merge_into: the id of the original case to merge a repeat "
        "into; dry_run: validate and list likely repeats only", "cases", ok=201, body=_REGISTRATION),
        "get": op("Search the cases the caller may see (案件查询): q is a case number, a petitioner's full name, "
                  "phone or ID number (matched by keyed digests; such searches are access-logged), or title words; "
                  "unit (cases handled in the unit or below it), from/to (registration dates). Answers {total, "
                  "page, page_size, cases: [{id, case_no, title, channel, category, petitioner (masked), status, "
                  "registered_at}]}", "cases", params=[
            {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}},
            {"name": "unit", "in": "query", "schema": {"type": "string"}},
            {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
            {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}}])},
    "/api/cases/repeats": {"post": op(
        "Likely repeats of a registration (same ID number or phone, or same location and category with a "
        "similar request, within 12 months); petitioners masked; an earlier case routed out to a statutory "
        "channel (诉访分离) carries routed_out {channel, channel_name, unit_name, at}", "cases", body=_REGISTRATION)},
    "/api/reports/overdue": {"get": op("Overdue work items per unit", "deadlines")},
    "/api/accountability/report": {"get": op(
        "问责情况 for the annual assessment, per unit: counts per kind (约谈, 通报, 限期整改, 追责建议), written "
        "feedback on_time / late / missing / pending, the cases and people concerned; limited to the caller's "
        "units unless they see all; for the supervising offices, joint meetings, leaders, admins and auditors "
        "(403 otherwise); 422 for a malformed year", "lists",
        params=[{"name": "year", "in": "query", "schema": {"type": "integer", "minimum": 2000, "maximum": 2100}}])},
    "/api/registers/{register}": {"get": op("A case register (the four lists) per unit and leader", "lists",
        params=[{"name": "register", "in": "path", "required": True, "schema": {"type": "string", "enum": [
            "leader_case", "stabilisation", "resolution", "supervision", "accountability"]}},
                {"name": "unit", "in": "query", "schema": {"type": "string"}},
                {"name": "person", "in": "query", "schema": {"type": "string"}},
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "closed"]}}])},
    "/api/tasks": {"get": op("Work items visible to the caller, the same list as the page /tasks: filters, "
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
    "/api/tasks/{id}/claim": {"post": op("Claim", "tasks", params=[path_id("id")])},
    "/api/tasks/{id}/unclaim": {"post": op("Give back", "tasks", params=[path_id("id")])},
    "/api/tasks/{id}/reassign": {"post": op("Reassign to a user of the task's unit holding its role (journaled)",
                                             "tasks", params=[path_id("id")], body=_HAND_OVER)},
    "/api/tasks/{id}/delegate": {"post": op("Delegate to a user of the task's unit (journaled)", "tasks",
                                             params=[path_id("id")], body=_HAND_OVER)},
    "/api/units": {"get": op(
        "Units to choose from by name for form fields of format lianxin-unit: {scope, office, units: [{code, name, "
        "kind, level, own}]}; scope routable: the units the office (the task's, else the caller's registering "
        "office) may route to, the office itself last (own)", "tasks", params=[
        {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 64}, "description": "part of the name"},
        {"name": "scope", "in": "query", "schema": {"type": "string", "enum": ["all", "routable"]}},
        {"name": "task", "in": "query", "schema": {"type": "integer"}, "description": "the task whose form asks"}])},
    "/api/tasks/{id}/complete": {"post": op("Complete with data; 409 when no longer open; 422 with details "
                                            "[{field, title, message, valid_units?}] for data the form refuses "
                                            "(a unit unknown or outside the scope lists valid_units [{code, name}])",
                                            "tasks",
                                             params=[path_id("id")], body={"type": "object", "properties": {
                                                 "data": {"type": "object"}, "version": {"type": "integer"}}})},
}
