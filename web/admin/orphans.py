"""无人可办 (work nobody could do): the administrators' report and the hand-back, as a page and in the JSON API.

- `GET /admin/orphans` (page) and `GET /api/admin/orphans` (JSON): every work item placed with a petition office
  because nobody held its role in its unit (services/work_placement.py), with case, step, the unit and role it was
  meant for, where it went, since when and its status; it stays listed after it is done or handed back.
- `POST /admin/orphans/{id}/hand-back` (page form) and `POST /api/admin/orphans/{id}/hand-back`: give an open item
  back to its unit and role once the organisation has someone for it (409 while it still has nobody);
  journaled on the case (`work_item.handed_back`).

Administrators only: the report names cases of every unit. Imports no other area."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from engine.errors import Conflict, NotFound
from engine.store import WorkItem
from services import orphan_work

from .. import visibility
from ..auth import ApiError, current_principal, roles_required
from ..http import api_part, container, ok
from ..ui import page_principal

bp = Blueprint("orphans", __name__)
api = api_part(__name__)


def _rows() -> list[dict]:
    p = current_principal()
    with container().extras["read_sessions"]() as s:  # an accusation's work stays on the discipline track
        return orphan_work.report(s, visibility.outside_discipline_track(p, WorkItem.case_id))


def _hand_back(item_id: int, actor: str):
    c = container()
    with c.extras["read_sessions"]() as s:
        item = s.get(WorkItem, item_id)
        if item is None or item.orphan_since is None:
            raise NotFound(f"没有无人可办的任务 {item_id}（no such orphaned task）")
        visibility.work_item_for_action(s, current_principal(), item_id)  # 403 on the discipline track
        status = orphan_work.status_of(s, item)
    if status == "open":
        raise Conflict(f"单位 {item.intended_unit} 仍没有人担任角色 {item.intended_role}：请先在组织机构中为该单位指定"
                       f"人员，再交回（nobody holds the role there yet）")
    return c.runtime.hand_back_orphan(item_id, actor)


@api.get("/admin/orphans")
@roles_required("admin")
def orphans_json():
    rows = _rows()
    return ok({"orphans": rows, "open": sum(1 for r in rows if r["status"] in ("open", "returnable"))})


@api.post("/admin/orphans/<int:item_id>/hand-back")
@roles_required("admin")
def hand_back_json(item_id: int):
    return ok(_hand_back(item_id, current_principal().username).__dict__)


@bp.get("/admin/orphans")
def page():
    page_principal("admin")
    return render_template("admin/orphans.html", rows=_rows())


@bp.post("/admin/orphans/<int:item_id>/hand-back")
def hand_back_page(item_id: int):
    p = page_principal("admin")
    try:
        view = _hand_back(item_id, p.username)
    except (Conflict, NotFound) as err:
        flash(str(err), "error")
    except ApiError as err:
        flash(err.message, "error")
    else:
        flash(_("“%(name)s”已交回 %(unit)s。", name=view.name, unit=view.unit), "success")
    return redirect(url_for("orphans.page"))
