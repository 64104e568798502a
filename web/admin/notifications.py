"""Notifications over HTTP: a user's in-app list, the admins' outbox, and the SMS gateway's delivery reports.

- `GET /api/notifications?unread=1&limit=&offset=`: the signed-in user's in-app notifications, newest first,
  with the `unread` count; `POST /api/notifications/{id}/read` marks one read (the older form of `/api/inbox`,
  same read state: services/inbox.py).
- `GET /api/admin/outbox?status=dead&channel=&case_id=&from=&to=` (admins, auditors): rows with masked recipients, the
  last error, the provider's id and delivery report, and who resent them; `counts` per status.
- `POST /api/admin/outbox/{id}/resend` (admins; optional `{"template_version": N}`): re-queue a dead letter or a
  failed row (security-logged); a sent row is refused with 409.
- `GET /api/admin/notification-templates` (admins, designers): template ids, names and versions.
- `POST /api/sms/status`: the gateway's per-message report, signed with the shared secret (see infra.channels);
  a bad signature is refused with 401 and logged.
"""
from __future__ import annotations

import logging

from flask import Blueprint, request

from infra.delivery import OutboxConflict, OutboxNotFound, record_delivery_status, resend
from services import inbox, masking
from services.outbox_queries import outbox_listing

from ..auth import ApiError, current_principal, login_required, roles_required
from ..http import container, error_json, ok
from ..notify_setup import templates_of
from ..sms_gateway import signed_gateway_json
from .outbox_page import outbox_filters

bp = Blueprint("notifications", __name__, url_prefix="/api")
log = logging.getLogger("lianxin.notifications")
MAX_PAGE = 200


@bp.errorhandler(OutboxNotFound)
def _not_found(err: OutboxNotFound):
    return error_json(404, "not_found", str(err))


@bp.errorhandler(OutboxConflict)
def _conflict(err: OutboxConflict):
    return error_json(409, "conflict", str(err))


def _page() -> tuple[int, int]:
    try:
        limit = int(request.args.get("limit", 50))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        raise ApiError(400, "malformed", "limit/offset 必须是整数（limit and offset must be integers）") from None
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise ApiError(400, "malformed", f"limit 须在 1–{MAX_PAGE} 之间，offset 不能为负（limit 1–{MAX_PAGE}, offset ≥ 0）")
    return limit, offset


def _read_sessions():
    c = container()
    return c.extras.get("read_sessions", c.session_factory)


# ---------------------------------------------------------------- in-app

@bp.get("/notifications")
@login_required
def my_notifications():
    limit, offset = _page()
    unread_only = request.args.get("unread", "") in ("1", "true", "yes")
    found = inbox.listing(_read_sessions(), current_principal().username,
                          inbox.Filters(unread_only=unread_only, limit=limit, offset=offset))
    return ok({k: found[k] for k in ("notifications", "unread", "total")})


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def read_notification(notification_id: int):
    c = container()
    try:
        return ok(inbox.mark(c.session_factory, notification_id, current_principal().username, c.clock.now()))
    except inbox.NotYours as exc:
        raise ApiError(404, "not_found", str(exc)) from None


# ---------------------------------------------------------------- admins

@bp.get("/admin/outbox")
@roles_required("admin", "auditor")
def admin_outbox():
    limit, offset = _page()
    return ok(outbox_listing(_read_sessions(), limit=limit, offset=offset, **outbox_filters()))


@bp.post("/admin/outbox/<int:notification_id>/resend")
@roles_required("admin")
def admin_resend(notification_id: int):
    data = request.get_json(silent=True) if request.data else {}
    if not isinstance(data, dict):
        raise ApiError(400, "malformed", "请求体必须是 JSON 对象（request body must be a JSON object）")
    version = data.get("template_version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise ApiError(400, "malformed", "template_version 必须是整数（template_version must be an integer）")
    c = container()
    return ok(resend(c.session_factory, templates_of(c), notification_id, current_principal().username,
                     c.clock.now(), template_version=version, redact=masking.mask_contact_text))


@bp.get("/admin/notification-templates")
@roles_required("admin", "designer")
def admin_templates():
    return ok({"templates": templates_of(container()).describe()})


# ---------------------------------------------------------------- the SMS gateway's reports

@bp.post("/sms/status")
def sms_status():
    c = container()
    report = signed_gateway_json("status report")
    if not isinstance(report, dict) or not isinstance(report.get("status"), str) \
            or not (report.get("idempotency_key") or report.get("id")):
        raise ApiError(400, "malformed", "回执需要 status 以及 idempotency_key 或 id（a report needs status and "
                                         "idempotency_key or id）")
    try:
        outcome = record_delivery_status(
            c.session_factory, status=report["status"], now=c.clock.now(),
            idempotency_key=_text(report.get("idempotency_key")), provider_id=_text(report.get("id")),
            reported_at=_text(report.get("at")), error=_text(report.get("error")))
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    return ok(outcome)


def _text(value) -> str | None:
    return None if value is None else str(value)[:500]
