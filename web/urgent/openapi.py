"""The urgent area's paths in `/api/openapi.json`."""
from __future__ import annotations

from ..http import op

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}

OPENAPI_PATHS = {
    "/api/cases/{id}/urgent": {"post": op(
        "标记重大紧急事项（《信访工作条例》第二十五条）：body {kind: 群体性|极端|重大紧急, reason}. Starts the linked "
        "reporting case (urgent_report: first report and written follow-up by the level's petition office, limits "
        "in hours). Registrars and unit handlers who see the case; 403 otherwise, 409 for a closed case or one "
        "already flagged and open, 422 without a reason or with another kind. Journaled as `case.flagged_urgent`",
        "cases", ok=201, params=[_ID])},
    "/api/urgent": {"get": op(
        "重大紧急事项看板：open urgent matters the caller may see, most pressing first (kind, reason, unit, "
        "reported or not, the step due, hours left, state green/yellow/red, supervised). Petition offices, leaders, "
        "administrator and auditor; 403 for others", "cases")},
}
