"""The outbox page /admin/outbox (admins): what was sent by SMS, e-mail and in-app, to whom (petitioners' phones
and addresses masked), with which template, its status, attempts, last error (and what it means in plain words)
and times; filters by status (pending, failed, sending, sent, dead), channel, period and case; and resend of a
failed or dead row (`POST /admin/outbox/{id}/resend`, a form with the session's CSRF token), recorded with the
admin's name in the row's history and in the security log. A sent row is refused."""
from __future__ import annotations

import math
from datetime import datetime, time, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.clock import SHANGHAI
from engine.effects import CHANNELS
from infra.delivery import OutboxConflict, OutboxNotFound, resend
from services import masking
from services.outbox_queries import FILTER_STATUSES, outbox_listing

from ..auth import ApiError
from ..http import container, query_day
from ..notify_setup import templates_of
from ..ui import page_principal, safe_next

bp = Blueprint("outbox", __name__)
ADMINS = ("admin",)
PER_PAGE = 50
STATUS_LABELS = {"pending": "待发送", "failed": "失败待重试", "sending": "发送中", "sent": "已发送", "dead": "投递失败"}
CHANNEL_LABELS = {"inapp": "站内", "sms": "短信", "email": "电子邮件", "upstream": "上级信访信息系统"}



def outbox_filters() -> dict:
    """status, channel, case_id, from and to (Beijing days, both included) from the query string."""
    status, channel = request.args.get("status") or None, request.args.get("channel") or None
    if status and status not in FILTER_STATUSES:
        raise ApiError(400, "malformed", f"status 只能是 {'、'.join(FILTER_STATUSES)}（unknown status）")
    if channel and channel not in CHANNELS:
        raise ApiError(400, "malformed", f"channel 只能是 {'、'.join(CHANNELS)}（unknown channel）")
    case_id = (request.args.get("case_id") or "").strip()
    if case_id and not case_id.isdigit():
        raise ApiError(400, "malformed", "案件编号（case_id）必须是整数（case_id must be an integer）")
    since, until = query_day("from"), query_day("to")
    return {"status": status, "channel": channel, "case_id": int(case_id) if case_id else None,
            "since": datetime.combine(since, time(), SHANGHAI) if since else None,
            "until": datetime.combine(until + timedelta(days=1), time(), SHANGHAI) if until else None}


def _read_sessions():
    c = container()
    return c.extras.get("read_sessions", c.session_factory)


@bp.get("/admin/outbox")
def page():
    page_principal(*ADMINS)
    f = outbox_filters()
    page_text = request.args.get("page", "1")
    page_no = int(page_text) if page_text.isdigit() and int(page_text) >= 1 else 1
    found = outbox_listing(_read_sessions(), limit=PER_PAGE, offset=(page_no - 1) * PER_PAGE, **f)
    names = {t["template"]: t["name"] for t in templates_of(container()).describe()}
    return render_template("outbox/index.html", found=found, f=f, args=request.args, statuses=FILTER_STATUSES,
                           template_names=names,
                           status_labels=STATUS_LABELS, channels=CHANNELS, channel_labels=CHANNEL_LABELS,
                           page_no=page_no, pages=max(1, math.ceil(found["total"] / PER_PAGE)))


@bp.post("/admin/outbox/<int:notification_id>/resend")
def resend_row(notification_id: int):
    p = page_principal(*ADMINS)
    c = container()
    try:
        resend(c.session_factory, templates_of(c), notification_id, p.username, c.clock.now(),
               redact=masking.mask_contact_text)
    except OutboxNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except OutboxConflict as exc:
        raise ApiError(409, "conflict", _("这条通知不能重发：只有投递失败或失败待重试的通知可以重发，已发送的不能重发。")) \
            from exc
    flash(_("通知 %(id)s 已重新排队，稍后由投递进程发送。", id=notification_id), "success")
    return redirect(safe_next(request.form.get("next") or url_for("outbox.page")))
