"""The inbox page /inbox: the signed-in user's notices with filters (unread or all, kind, period), each leading to
its task or case; mark read or unread one by one or all at once (forms with the session's CSRF token). Opening a
notice (`/inbox/{id}/open`) marks it read and goes to its task or case. Another user's notice is 404."""
from __future__ import annotations

import math

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from services import inbox

from ..auth import ApiError
from ..http import container
from ..ui import page_principal, safe_next
from .common import PER_PAGE, filters, read_sessions, with_links

bp = Blueprint("inbox", __name__)


@bp.get("/inbox")
def page():
    p = page_principal()
    f = filters(per_page=PER_PAGE)
    found = inbox.listing(read_sessions(), p.username, f)
    with_links(found["notifications"], p)
    page_no = f.offset // PER_PAGE + 1
    return render_template("inbox/index.html", found=found, f=f, kinds=inbox.KINDS, args=request.args,
                           page_no=page_no, pages=max(1, math.ceil(found["total"] / PER_PAGE)))


def _mark(notification_id: int, read: bool) -> None:
    p = page_principal()
    c = container()
    try:
        inbox.mark(c.session_factory, notification_id, p.username, c.clock.now(), read=read)
    except inbox.NotYours as exc:
        raise ApiError(404, "not_found", _("没有这条通知，或它不是发给您的。")) from exc


def _back():
    return redirect(safe_next(request.form.get("next") or url_for("inbox.page")))


@bp.post("/inbox/<int:notification_id>/read")
def mark_read(notification_id: int):
    _mark(notification_id, True)
    return _back()


@bp.post("/inbox/<int:notification_id>/unread")
def mark_unread(notification_id: int):
    _mark(notification_id, False)
    return _back()


@bp.post("/inbox/read-all")
def mark_all_read():
    p = page_principal()
    c = container()
    inbox.mark_all_read(c.session_factory, p.username, c.clock.now())
    return _back()


@bp.get("/inbox/<int:notification_id>/open")
def open_notice(notification_id: int):
    """Read it and go where it leads; a notice without a case (or whose case the user no longer sees) stays on
    the inbox."""
    p = page_principal()
    c = container()
    try:
        inbox.mark(c.session_factory, notification_id, p.username, c.clock.now(), read=True)
    except inbox.NotYours as exc:
        raise ApiError(404, "not_found", _("没有这条通知，或它不是发给您的。")) from exc
    found = inbox.one(read_sessions(), notification_id, p.username)
    with_links([found], p)
    return redirect(found["link"] or url_for("inbox.page"))
