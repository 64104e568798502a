"""The calendar's paths in `/api/openapi.json`."""
from __future__ import annotations

from ..http import op, path_id

OPENAPI_PATHS = {
    "/api/calendar/due": {"get": op("A due date with its explanation", "calendar", params=[
        {"name": "from", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "workdays", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        {"name": "roll", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}}])},
    "/api/calendar": {"get": op("Loaded years, provisional years and the administrators' warning", "calendar")},
    "/api/calendar/{year}": {
        "get": op("A year's working-day calendar", "calendar", params=[path_id("year")]),
        "put": op("Import a year's official arrangement (YAML or CSV text)", "calendar", params=[path_id("year")],
                   body={"type": "object", "properties": {"content": {"type": "string"},
                                                          "format": {"type": "string"}}}),
    },
}
