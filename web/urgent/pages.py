"""The urgent area's pages: the flag form of a case (`/cases/{id}/urgent`, reached from the case page) and the
live board `/urgent` of the open urgent matters, with the hours left of the step due (red once missed)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.runtime import NotFound
from services import urgent

from .. import visibility
from ..auth import ApiError, Principal
from ..http import container
from ..ui import page_principal
from .common import board_rows, flag

bp = Blueprint("urgent", __name__)


def _visible(p: Principal, case_id: int):
    """The case if `p` may see it (web/visibility.py); the page's form carries its CSRF token in the form."""
    try:
        with container().extras["read_sessions"]() as s:
            return visibility.visible_case(s, p, case_id)
    except NotFound as err:
        raise ApiError(404, "not_found", err.message) from None


@bp.app_context_processor
def _may_flag():
    """`may_flag_urgent()` for the case page's link to the flag form."""
    def may_flag_urgent() -> bool:
        try:
            return visibility.urgent_flagging_unit(page_principal()) is not None
        except Exception:  # noqa: BLE001 - signed out: no link
            return False
    return {"may_flag_urgent": may_flag_urgent}


@bp.get("/urgent")
def board():
    p = page_principal()
    return render_template("urgent/board.html", rows=board_rows(p))


@bp.get("/cases/<int:case_id>/urgent")
def flag_form(case_id: int):
    p = page_principal()
    case = _visible(p, case_id)
    if visibility.urgent_flagging_unit(p) is None:
        raise visibility.refuse(p, f"urgent flag of case {case_id}",
                                _("标记重大紧急事项由登记员或承办单位的承办人提出；您可以请他们标记，或直接联系本级信访部门。"))
    return render_template("urgent/flag.html", case_id=case_id, case_no=case.case_no or "", kinds=urgent.KINDS,
                           back=f"/cases/{case_id}")


@bp.post("/cases/<int:case_id>/urgent")
def flag_submit(case_id: int):
    p = page_principal()
    _visible(p, case_id)
    try:
        done = flag(p, case_id, request.form.get("kind", ""), request.form.get("reason", ""))
    except ApiError as refused:
        if refused.status == 403:
            raise
        flash(_(refused.message), "error")
        return redirect(url_for("urgent.flag_form", case_id=case_id))
    flash(_("已标记为重大紧急事项，%(office)s须在时限内首报本级党委、政府和上一级信访部门。",
            office=done["office_name"]), "success")
    return redirect(f"/cases/{case_id}#timeline")
