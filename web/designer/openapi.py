"""The designer area's paths in `/api/openapi.json`."""
from __future__ import annotations

from ..http import op, path_key

_DESIGNER_EDIT = {"type": "object", "required": ["base_definition_id", "files"], "properties": {
    "base_definition_id": {"type": "integer", "nullable": True}, "files": {"type": "object", "additionalProperties": {"type": "string"}}}}

OPENAPI_PATHS = {
    "/api/process-definitions": {
        "get": op("Deployed definitions and versions", "definitions"),
        "post": op("Validate, run the smoke simulation and deploy files (all or nothing); 422 errors name a failed "
                   "simulation's {path, step, message}", "definitions", ok=201, multipart=True,
                    body={"type": "object", "properties": {"files": {"type": "array", "items": {
                        "type": "string", "format": "binary"}}, "comment": {"type": "string"}}}),
    },
    "/api/designer/handlers": {"get": op("Registered service handlers with their parameters (designers)", "designer")},
    "/api/designer/forms": {"get": op("Form files a user task may name (designers)", "designer")},
    "/api/designer/roles": {"get": op("Roles a lane may map to (designers)", "designer")},
    "/api/designer/processes/{key}": {"get": op(
        "A deployed version's files (latest or ?version=N), its main BPMN file and the process's draft", "designer",
        params=[path_key(), {"name": "version", "in": "query", "schema": {"type": "integer"}}])},
    "/api/designer/processes/{key}/versions": {"get": op(
        "Versions with author, time, comment and running/completed cases", "designer", params=[path_key()])},
    "/api/designer/processes/{key}/diff": {"get": op(
        "What changed from version a to version b (default: the one before the latest, and the latest): files "
        "(added, removed, changed, layout or format only), elements with each changed field (name, timer, setting, "
        "condition, form, lane role, handler, ...), every changed DMN cell (decision, row, column, old -> new), "
        "rules added/removed/moved, form fields. Designers and admins", "designer",
        params=[path_key(), {"name": "a", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "b", "in": "query", "schema": {"type": "integer", "minimum": 1}}])},
    "/api/designer/processes/{key}/draft": {
        "put": op("Save the process's draft {base_definition_id, files: {name: text}}", "designer",
                   params=[path_key()], body=_DESIGNER_EDIT),
        "delete": op("Discard the draft", "designer", params=[path_key()]),
    },
    "/api/designer/processes/{key}/validate": {"post": op(
        "Validate edited files with the deployment's checks and smoke simulation: {ok, problems: [{file, line, "
        "element_id, message, simulation?}], warnings, simulation: {ok, paths: [{name, steps, waits, stopped}]}}",
        "designer", params=[path_key()], body=_DESIGNER_EDIT)},
    "/api/designer/processes/{key}/deploy": {"post": op(
        "Deploy edited files as a new version after the smoke simulation; comment required; 422 with problems "
        "(and the simulation), nothing deployed", "designer",
        ok=201, params=[path_key()], body=dict(_DESIGNER_EDIT, required=["base_definition_id", "files", "comment"],
                                                properties=dict(_DESIGNER_EDIT["properties"],
                                                                comment={"type": "string"})))},
    "/api/designer/import": {"post": op(
        "Import a foreign BPMN file as the draft of a process (multipart `file`, optional `key`; nothing is "
        "deployed): {key, file, created, edit_url, problems: [{file, line, element_id, message, suggestion?}], "
        "warnings}; 422 with problems when the file cannot be read as a process", "designer", ok=201,
        multipart=True, body={"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary"}, "key": {"type": "string"}}})},
    "/api/designer/lane-roles": {
        "get": op("The lane table: lane name -> role, with the roles and any bad rows", "designer"),
        "put": op("Replace the lane table {rows: [{lane, role}]}; 422 naming each bad row", "designer",
                  body={"type": "object", "required": ["rows"], "properties": {"rows": {"type": "array", "items": {
                      "type": "object", "properties": {"lane": {"type": "string"}, "role": {"type": "string"}}}}}}),
    },
    "/api/designer/migrations/check": {"post": op(
        "Dry run: replay each running case's journal on the target version; which can move and why not. Cases "
        "the caller may not see (accusations) are only counted (`hidden`); naming one is refused (403)",
        "designer", body={"type": "object", "required": ["to_definition_id"], "properties": {
            "to_definition_id": {"type": "integer"}, "from_definition_id": {"type": "integer"},
            "case_ids": {"type": "array", "items": {"type": "integer"}}}})},
    "/api/designer/migrations": {"post": op(
        "Move the chosen cases to the target version in one batch (all or none), journaled per case", "designer",
        ok=201, body={"type": "object", "required": ["to_definition_id", "case_ids"], "properties": {
            "to_definition_id": {"type": "integer"}, "case_ids": {"type": "array", "items": {"type": "integer"}}}})},
    "/api/process-definitions/{key}/instances": {
        "post": op("Start a process (designers, admins)", "cases", ok=201,
                    params=[{"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
                    body={"type": "object", "properties": {"data": {"type": "object"}}}),
    },
}
