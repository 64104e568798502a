"""The inbox's paths in `/api/openapi.json`."""
from __future__ import annotations

from services.inbox import KINDS

from ..http import op

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _query(name: str, kind: str = "string", description: str = "", enum: list | None = None) -> dict:
    schema: dict = {"type": kind}
    if enum:
        schema["enum"] = enum
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_LIST = op("我的收件箱：站内通知，最新在前，含未读数和链接（my inbox: notices newest first, unread count, links）",
           "inbox", params=[
               _query("unread", "integer", "1: unread only"),
               _query("kind", description="kind of notice", enum=list(KINDS)),
               _query("from", description="Beijing day YYYY-MM-DD, inclusive"),
               _query("to", description="Beijing day YYYY-MM-DD, inclusive"),
               _query("limit", "integer", "1-200, default 50"), _query("offset", "integer")])

OPENAPI_PATHS = {
    "/api/inbox": {"get": _LIST},
    "/api/inbox/{id}/read": {"post": op("标为已读（mark read; 404 for a notice that is not yours）", "inbox",
                                        params=[_ID])},
    "/api/inbox/{id}/unread": {"post": op("标为未读（mark unread again）", "inbox", params=[_ID])},
    "/api/inbox/read-all": {"post": op("全部标为已读（mark every notice read）", "inbox")},
}
