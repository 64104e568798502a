"""`/api/openapi.json`: the API description, assembled from the parts each area keeps beside its routes
(`web/<area>/openapi.py`, `web/session_api.py`)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from .account.pages import OPENAPI_PATHS as ACCOUNT_PATHS
from .admin import openapi as admin
from .audit import openapi as audit
from .audit.security_log import OPENAPI_PATHS as SECURITY_LOG_PATHS
from .calendar import openapi as calendar
from .casepage import openapi as casepage
from .designer import openapi as designer
from .desk import openapi as desk
from .exchange import openapi as exchange
from .inbox import openapi as inbox
from .public import openapi as public
from .session_api import OPENAPI_PATHS as SESSION_PATHS
from .stats import openapi as stats
from .urgent import openapi as urgent

bp = Blueprint("openapi", __name__)

PARTS = [SESSION_PATHS, designer.OPENAPI_PATHS, desk.OPENAPI_PATHS, casepage.OPENAPI_PATHS, audit.OPENAPI_PATHS,
         admin.OPENAPI_PATHS, calendar.OPENAPI_PATHS, public.OPENAPI_PATHS, stats.OPENAPI_PATHS,
         ACCOUNT_PATHS, SECURITY_LOG_PATHS, inbox.OPENAPI_PATHS, exchange.OPENAPI_PATHS,
         urgent.OPENAPI_PATHS]

BASE = {
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
}


def document() -> dict:
    """The whole description; an area declaring a path another area declares is a mistake, found here."""
    paths: dict = {}
    for part in PARTS:
        twice = paths.keys() & part.keys()
        if twice:
            raise ValueError(f"OpenAPI paths declared twice: {sorted(twice)}")
        paths.update(part)
    return dict(BASE, paths=paths)


@bp.get("/api/openapi.json")
def openapi():
    return jsonify(document())
