"""Cases in incident (故障案件), for admins: the list, a case's failing steps, and the ways out, on pages and in JSON.

Pages (admins only; others get the 403 page):
- `GET /admin/incidents`: every case in incident: case number, process and version, failing step by name, since
  when, the error in plain words and what to do, a link to the case.
- `GET /admin/incidents/{case_id}`: the failing steps with their data, and three forms (CSRF-protected):
  `POST .../repair` (one data item, new JSON value, reason, "retry after saving"), `POST .../retry`,
  `POST .../move` (a step of the process, by name, and a reason).

JSON (`web/admin/api.py` routes here): `GET /api/admin/incidents`, `GET /api/admin/incidents/{id}`,
`POST /api/admin/incidents/{id}/repair` `{key, value, reason, retry?, version?}`,
`POST /api/admin/incidents/{id}/move` `{element_id, reason, version?}`. Retry stays
`POST /api/cases/{id}/incidents/retry` (admins and the city bureau).

Who may: repairing data and moving a case change what the case decides on, so only admins (系统管理员) may, each
with a reason that goes into the case's journal and timeline. Retrying changes nothing but runs the step again:
admins, and the city bureau (市信访局) that supervises the cases, may retry.
"""
from __future__ import annotations

import json
import logging

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.runtime import RuntimeError_
from services import incidents as incident_model

from .. import visibility
from ..auth import ApiError, Principal, csrf_ok
from ..http import container
from ..ui import page_principal

bp = Blueprint("incidents", __name__)
log = logging.getLogger("lianxin.incidents")

REPAIR_ROLES = visibility.REPAIR_ROLES
_HIDDEN = "（个人信息，不在此显示，请在案件页的当事人信息中更正）"


def _reads():
    c = container()
    return c.extras.get("read_sessions", c.session_factory)


def listing(p: Principal) -> list[dict]:
    """The cases in incident `p` may see (never a confidential case's content: web/visibility.py)."""
    with _reads()() as s:
        rows = incident_model.open_incidents(s, container().runtime, case_filter=visibility.case_filter(p))
    for r in rows:
        r["since_text"] = incident_model.since_text(r["since"])
    return rows


def hidden_confidential(p: Principal) -> int:
    """How many cases in incident are confidential and hidden from `p`: counted, so none is forgotten."""
    with _reads()() as s:
        return incident_model.confidential_incident_count(s, visibility.case_filter(p))


def _visible(p: Principal, case_id: int) -> None:
    with _reads()() as s:
        visibility.visible_case(s, p, case_id)


def detail(case_id: int) -> dict:
    """The case's open incidents, failing steps with their data (personal items hidden) and the steps it may be
    moved to."""
    rt = container().runtime
    view = rt.get_case(case_id)
    with _reads()() as s:
        rows = incident_model.case_incidents(s, rt, case_id)
    for r in rows:
        r["since_text"] = incident_model.since_text(r["since"])
    steps = rt.failing_steps(case_id) if view.status == "incident" else {"failing": [], "steps": []}
    failing = []
    for f in steps["failing"]:
        items = []
        for key in sorted(f["data"]):
            hidden = key in incident_model.PROTECTED_KEYS or incident_model._names_person(f["data"][key])
            items.append({"key": key, "editable": not hidden,
                          "json": _HIDDEN if hidden else json.dumps(f["data"][key], ensure_ascii=False)})
        failing.append({"element_id": f["element_id"], "name": f["name"], "type": f["type"], "fields": items})
    return {"case_id": case_id, "case_no": rows[0]["case_no"] if rows else view.case_no, "status": view.status, "version": view.version,
            "process_key": view.process_key, "definition_version": view.definition_version,
            "incidents": rows, "failing": failing, "steps": steps["steps"]}


def repair(p: Principal, case_id: int, key: str, value, reason: str, *, retry: bool,
           version: int | None) -> dict:
    """Check the new value (services.incidents.check_repair), journal the repair, retry when asked."""
    rt = container().runtime
    info = rt.failing_steps(case_id)
    if not info["failing"]:
        raise ApiError(409, "conflict", "案件没有出错的环节可修正：请重试，或将案件移至其他环节（no failing step; retry or move the case）")
    with _reads()() as s:
        try:
            incident_model.check_repair(s, rt, case_id, key, value, reason, info["failing"][0]["data"])
        except incident_model.RepairRefused as err:
            raise ApiError(422, "invalid", str(err)) from None
    view = rt.repair_data(case_id, key, value, p.username, reason.strip(), expected_version=version)
    log.info("%s repaired %s of case %s", p.username, key, case_id)
    if retry:
        view = rt.retry_incidents(case_id, p.username)
    return {"id": view.id, "status": view.status, "version": view.version,
            "incidents": [i.__dict__ for i in view.incidents], "tasks": [t.name for t in view.tasks]}


def move(p: Principal, case_id: int, element_id: str, reason: str, version: int | None) -> dict:
    if not isinstance(reason, str) or not reason.strip():
        raise ApiError(422, "invalid", "移动案件环节必须说明理由（a reason is required）")
    if len(reason) > incident_model.MAX_REASON_CHARS:
        raise ApiError(422, "invalid", f"理由不能超过 {incident_model.MAX_REASON_CHARS} 字（reason too long）")
    view = container().runtime.move_to_step(case_id, str(element_id or ""), p.username, reason.strip(),
                                            expected_version=version)
    log.info("%s moved case %s to %s", p.username, case_id, element_id)
    return {"id": view.id, "status": view.status, "version": view.version, "tasks": [t.name for t in view.tasks]}


# ---------------------------------------------------------------- pages

def _check_csrf() -> None:
    if not csrf_ok(request.form.get("csrf_token", "")):
        raise ApiError(400, "csrf", "页面已过期，请刷新后重新提交（the form expired; reload the page）")


def _version() -> int | None:
    raw = request.form.get("version", "")
    return int(raw) if raw.isdigit() else None


@bp.get("/admin/incidents")
def index():
    p = page_principal(*REPAIR_ROLES)
    return render_template("admin/incidents.html", rows=listing(p), hidden=hidden_confidential(p))


@bp.get("/admin/incidents/<int:case_id>")
def case(case_id: int):
    _visible(page_principal(*REPAIR_ROLES), case_id)
    return render_template("admin/incident_case.html", d=detail(case_id), form=request.args)


@bp.post("/admin/incidents/<int:case_id>/repair")
def repair_form(case_id: int):
    p = page_principal(*REPAIR_ROLES)
    _visible(p, case_id)
    _check_csrf()
    key, text, reason = request.form.get("key", ""), request.form.get("value", ""), request.form.get("reason", "")
    try:
        value = incident_model.parse_value(text)
        done = repair(p, case_id, key, value, reason, retry=bool(request.form.get("retry")), version=_version())
    except incident_model.RepairRefused as err:
        return _again(case_id, str(err), key=key, value=text, reason=reason)
    except (ApiError, RuntimeError_) as err:
        return _again(case_id, err.message, key=key, value=text, reason=reason)
    if done["status"] == "incident":
        flash(_("已修正“%(key)s”，重试后仍有故障，请查看下方说明。", key=key) if request.form.get("retry")
              else _("已修正“%(key)s”，请重试。", key=key), "warning")
        return redirect(url_for("incidents.case", case_id=case_id))
    flash(_("已修正“%(key)s”并重试，案件已继续办理（当前：%(now)s）。", key=key,
            now="、".join(done["tasks"]) or done["status"]), "success")
    return redirect(url_for("incidents.index"))


@bp.post("/admin/incidents/<int:case_id>/retry")
def retry_form(case_id: int):
    p = page_principal(*REPAIR_ROLES)
    _visible(p, case_id)
    _check_csrf()
    try:
        view = container().runtime.retry_incidents(case_id, p.username)
    except RuntimeError_ as err:
        return _again(case_id, err.message)
    if view.status == "incident":
        flash(_("已重试，但环节仍然出错，请按说明修正数据或移动环节。"), "warning")
        return redirect(url_for("incidents.case", case_id=case_id))
    flash(_("已重试，案件已继续办理。"), "success")
    return redirect(url_for("incidents.index"))


@bp.post("/admin/incidents/<int:case_id>/move")
def move_form(case_id: int):
    p = page_principal(*REPAIR_ROLES)
    _visible(p, case_id)
    _check_csrf()
    target, reason = request.form.get("element_id", ""), request.form.get("reason", "")
    try:
        done = move(p, case_id, target, reason, _version())
    except (ApiError, RuntimeError_) as err:
        return _again(case_id, err.message, element_id=target, move_reason=reason)
    flash(_("案件已移至“%(step)s”。", step="、".join(done["tasks"]) or target), "success")
    return redirect(url_for("incidents.index"))


def _again(case_id: int, message: str, **kept):
    """The case's incident page again with the error and what was typed (nothing lost)."""
    flash(message, "error")
    return render_template("admin/incident_case.html", d=detail(case_id), form=kept), 422
