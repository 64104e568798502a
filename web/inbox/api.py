"""The inbox's part of `/api` (each signed-in user's own notices; another user's notice answers 404):

- `GET /api/inbox?unread=1&kind=reminder&from=2026-03-01&to=2026-03-31&limit=&offset=`: notices newest first,
  each with its kind, case and `link` (the user's open task of the case, else the case page), the `unread`
  count, `unread_by_kind` and `total`.
- `POST /api/inbox/{id}/read`, `POST /api/inbox/{id}/unread`: mark one read or unread again.
- `POST /api/inbox/read-all`: mark every unread notice read.
Reading is the user's own affair: it is stored per user (services/store/inbox.py) and journaled nowhere.
"""
from __future__ import annotations

from services import inbox

from ..auth import ApiError, current_principal, login_required
from ..http import api_part, container, ok
from .common import filters, read_sessions, with_links

bp = api_part(__name__)


@bp.get("/inbox")
@login_required
def inbox_list():
    p = current_principal()
    found = inbox.listing(read_sessions(), p.username, filters())
    with_links(found["notifications"], p)
    return ok(dict(found, kinds=inbox.KINDS))


def _mark(notification_id: int, read: bool):
    c = container()
    try:
        return ok(inbox.mark(c.session_factory, notification_id, current_principal().username, c.clock.now(),
                             read=read))
    except inbox.NotYours as exc:
        raise ApiError(404, "not_found", str(exc)) from None


@bp.post("/inbox/<int:notification_id>/read")
@login_required
def inbox_read(notification_id: int):
    return _mark(notification_id, True)


@bp.post("/inbox/<int:notification_id>/unread")
@login_required
def inbox_unread(notification_id: int):
    return _mark(notification_id, False)


@bp.post("/inbox/read-all")
@login_required
def inbox_read_all():
    c = container()
    return ok(inbox.mark_all_read(c.session_factory, current_principal().username, c.clock.now()))
