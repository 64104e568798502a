"""Writing to the security audit log (infra/security_log.py) from a request: who (the signed-in user unless
named), from where (the client address), when (the container's clock).

`AUDITED` names the endpoints whose every successful answer is a security event of a kind: exports,
deployments, case migrations and settings changes. It is the one list to keep in step with the web areas
(a test checks that each endpoint named here exists). Sign-ins, the second factor, password changes and
personal-data views record themselves where they happen.
"""
from __future__ import annotations

import logging

from flask import Flask, g, has_request_context, request
from sqlalchemy.exc import SQLAlchemyError

from infra import security_log

from .http import container

log = logging.getLogger("lianxin.security")

AUDITED = {
    "api.export_case": "export",
    "audit.export": "export",
    "stats.export": "export",
    "lists.export": "export",
    "casepage.document_pdf": "export",
    "security_log.export": "export",
    "api.deploy_definitions": "deployment",
    "designer.deploy": "deployment",
    "designer.migration_run": "deployment",
    "calendar_web.put_year": "settings_change",
    "calendar_web.admin_import": "settings_change",
    "api.set_clock": "settings_change",
    "designer.put_lane_roles": "settings_change",
    "designer.save_lane_roles_page": "settings_change",
    "notifications.admin_resend": "notification_resend",
    "outbox.resend_row": "notification_resend",
    "exchange.resend_report": "notification_resend",
}


def client_ip() -> str:
    return (request.remote_addr if has_request_context() else None) or "-"


def _signed_in_name() -> str:
    p = g.get("principal") if has_request_context() else None
    return p.username if p is not None else "-"


def record(kind: str, *, actor: str | None = None, detail: dict | None = None) -> None:
    """Appends one event; a failure to write is logged loudly but does not undo what was done."""
    try:
        with container().session_factory() as s, s.begin():
            record_in(s, kind, actor=actor, detail=detail)
    except SQLAlchemyError:
        log.exception("security log: %s by %s could not be recorded", kind, actor)


def record_in(s, kind: str, *, actor: str | None = None, detail: dict | None = None) -> None:
    """Appends one event in the caller's transaction (`s`), which then stands or falls with it: for an event that
    must be written with another row (a full view of personal data with its access-log row)."""
    security_log.append_in(s, at=container().clock.now(), actor=actor or _signed_in_name(), kind=kind,
                           ip=client_ip(), detail=detail)


def _after(response):
    kind = AUDITED.get(request.endpoint or "")
    if kind is not None and response.status_code < 400:
        detail = {"endpoint": request.endpoint, "method": request.method,
                  "path": request.full_path.rstrip("?"), "status": response.status_code}
        record(kind, detail=detail)
    return response


def install(app: Flask) -> None:
    app.after_request(_after)
