"""The urgent area's part of `/api`:

- `POST /api/cases/{id}/urgent` `{"kind": "群体性"|"极端"|"重大紧急", "reason": "..."}`: flag the case as an urgent
  matter; 201 with the matter (reporting office, reporting case). 403 for who may not flag or see the case, 409 for a
  closed case or one already flagged and open, 422 without a reason or with another kind.
- `GET /api/urgent`: the live board, the open urgent matters the caller may see, most pressing first.
"""
from __future__ import annotations

from services import urgent

from ..auth import ApiError, current_principal, login_required
from ..guards import visible_case_or_404
from ..http import api_part, body, container, ok
from .common import board_rows, flag

bp = api_part(__name__)


@bp.post("/cases/<int:case_id>/urgent")
@login_required
def urgent_flag_case(case_id: int):
    visible_case_or_404(case_id)
    data = body()
    kind, reason = data.get("kind", ""), data.get("reason", "")
    if not isinstance(kind, str) or not isinstance(reason, str):
        raise ApiError(400, "malformed", "kind 和 reason 必须是文字（kind and reason must be strings）")
    return ok(flag(current_principal(), case_id, kind, reason), 201)


@bp.get("/urgent")
@login_required
def urgent_board():
    rows = board_rows(current_principal())
    return ok({"matters": rows, "kinds": list(urgent.KINDS), "now": container().clock.now()})
