"""The JSON API under /api (see README and shared interfaces). Views parse, call the runtime, render."""
from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import false, func, select

from engine.calendar.display import due_day
from engine.clock import parse_instant
from engine.runtime import Conflict
from engine.store import WorkItem

from . import personal_data, security_events, visibility
from .auth import (
    MIN_PASSWORD,
    ApiError,
    change_own_password,
    csrf_token,
    current_principal,
    end_session,
    login_required,
    require_login,
    roles_required,
)
from .signin import login

bp = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger("lianxin.api")
MAX_UPLOAD_FILES = 50


def container():
    return current_app.extensions["lianxin"]


def body() -> dict:
    if not request.data:
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "malformed", "请求体必须是 JSON 对象（request body must be a JSON object）")
    return data


def to_jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def ok(payload, status: int = 200):
    return jsonify(to_jsonable(payload)), status


# ---------------------------------------------------------------- session

@bp.post("/session")
def create_session():
    data = body()
    username, password, otp = data.get("username"), data.get("password"), data.get("otp")
    if not isinstance(username, str) or not isinstance(password, str) or not isinstance(otp, str | None):
        raise ApiError(400, "malformed", "需要 username 和 password（username and password are required）")
    p = login(username, password, otp)  # privileged roles: and otp (web/signin.py)
    return ok({"username": p.username, "name": p.display_name, "roles": sorted(p.role_names),
               "csrf_token": csrf_token()}, 201)


@bp.get("/session")
@login_required
def get_session():
    p = current_principal()
    return ok({"username": p.username, "name": p.display_name, "roles": sorted(p.role_names),
               "units": sorted(p.units), "csrf_token": csrf_token()})


@bp.delete("/session")
def delete_session():
    end_session()  # the cookie is refused from now on, wherever a copy of it is
    return ok({"signed_out": True})


@bp.put("/session/password")
def change_password():
    """The signed-in user's new password (`{"password": current, "new_password"}`): every other session of the
    user ends; this one continues with a fresh cookie."""
    p = require_login()
    if p.via_token:
        raise ApiError(403, "forbidden", "请登录后修改密码，API 令牌不能修改密码（sign in with your password to change it）")
    data = body()
    current, new = data.get("password"), data.get("new_password")
    if not isinstance(current, str) or not isinstance(new, str):
        raise ApiError(400, "malformed", "需要 password 和 new_password（send password and new_password）")
    if len(new) < MIN_PASSWORD or len(new) > 256:
        raise ApiError(422, "invalid", f"新密码长度应为 {MIN_PASSWORD} 至 256 个字符，请换一个密码"
                                       f"（the new password needs {MIN_PASSWORD} to 256 characters）")
    change_own_password(p.id, current, new)
    security_events.record("password_change", actor=p.username)
    return ok({"changed": True, "csrf_token": csrf_token()})


# ---------------------------------------------------------------- definitions

@bp.get("/process-definitions")
@login_required
def list_definitions():
    return ok({"definitions": container().runtime.list_definitions()})


@bp.post("/process-definitions")
@roles_required("designer", "admin")
def deploy_definitions():
    from engine.definitions import DefinitionError, SourceFile

    files = request.files.getlist("files") or list(request.files.values())
    if not files:
        raise ApiError(400, "malformed", "请以 multipart 上传至少一个 BPMN/DMN/表单文件（upload files as multipart field 'files'）")
    if len(files) > MAX_UPLOAD_FILES:
        raise ApiError(400, "malformed", f"一次最多上传 {MAX_UPLOAD_FILES} 个文件（too many files）")
    sources = [SourceFile(f.filename or "upload.bpmn", f.read()) for f in files]
    p = current_principal()
    try:
        versions = container().runtime.deploy(sources, actor=p.username, comment=request.form.get("comment", ""))
    except DefinitionError as err:
        return jsonify({"error": {"code": "invalid_definition",
                                  "message": f"部署失败：{len(err.problems)} 个问题，未部署任何文件（nothing was deployed）",
                                  "details": None},
                        "errors": [{"file": pr.file, "line": pr.line, "element_id": pr.element_id,
                                    "message": pr.message} for pr in err.problems]}), 422
    return ok({"versions": [v.__dict__ for v in versions]}, 201)


@bp.post("/process-definitions/<key>/instances")
@roles_required("designer", "admin")
def start_instance(key: str):
    data = body().get("data", {})
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "data 必须是对象（data must be an object）")
    view = container().runtime.start(key, data, actor=current_principal().username)
    return ok({"id": view.id, "status": view.status, "version": view.version,
               "definition_version": view.definition_version}, 201)


# ---------------------------------------------------------------- cases

def _in_units(p):
    """Work items of the units the caller serves (none: matches nothing)."""
    return WorkItem.unit.in_(p.units) if p.units else false()


def visible_case_or_404(case_id: int):
    """The case if the caller may see it (rules in web/visibility.py): 404 unknown, 403 not theirs (logged)."""
    p = require_login()
    with container().extras["read_sessions"]() as s:
        return visibility.visible_case(s, p, case_id)


@bp.get("/cases/<int:case_id>")
def get_case(case_id: int):
    visible_case_or_404(case_id)
    return ok(personal_data.case_view(current_principal(), container().runtime.get_case(case_id).to_dict()))


@bp.get("/cases/<int:case_id>/history")
def case_history(case_id: int):
    """The journal, filtered by ?actor=&type=&element=&from=&to=; each event with `changes` (before/after) and
    personal data masked unless the caller's role needs it (see web/audit_web.py)."""
    from .audit_web import history_entries, masked_for, parse_filters

    visible_case_or_404(case_id)
    p = current_principal()
    filters = parse_filters(request.args)
    return ok({"masked": masked_for(p, case_id), "events": [
        {k: e[k] for k in ("seq", "at", "actor", "type", "type_label", "element_id", "element_name", "data",
                           "changes", "changes_source", "changes_label")}
        for e in history_entries(case_id, filters, p)]})


@bp.get("/cases/<int:case_id>/access-log")
@roles_required("auditor", "admin")
def case_access_log(case_id: int):
    from .audit_web import case_access_log as rows

    visible_case_or_404(case_id)

    return ok({"entries": rows(case_id)})


@bp.get("/cases/<int:case_id>/export")
def export_case(case_id: int):
    """The history as ?format=csv|json|html|pdf (masked), recorded in the access log."""
    from .audit_web import export_response

    visible_case_or_404(case_id)
    return export_response(case_id, request.args.get("format", "json"), current_principal(), request.args)


@bp.get("/cases/<int:case_id>/verify")
@roles_required("auditor", "admin")
def verify_case(case_id: int):
    visible_case_or_404(case_id)  # an admin does not see the discipline track
    result = container().runtime.verify(case_id)
    return ok({"ok": result.ok, "events": result.events, "first_bad_seq": result.first_bad_seq,
               "reason": result.reason})


@bp.get("/audit/verify-runs")
@roles_required("auditor", "admin")
def list_verification_runs():
    from .audit_web import recent_verification_runs

    return ok({"runs": recent_verification_runs(current_principal())})


@bp.post("/audit/verify-runs")
@roles_required("auditor", "admin")
def request_verification_run():
    """Verify every case's journal in the background (the worker); 202 with the run, or 200 with the run already
    in progress."""
    from .audit_web import start_verification_run, verification_run_view

    p = current_principal()
    run, created = start_verification_run(p)
    return ok(verification_run_view(p, run), 202 if created else 200)


@bp.get("/audit/verify-runs/<int:run_id>")
@roles_required("auditor", "admin")
def get_verification_run(run_id: int):
    from engine.verification_runs import VerificationRun

    from .audit_web import verification_run_view

    with container().extras["read_sessions"]() as s:
        run = s.get(VerificationRun, run_id)
        if run is None:
            raise ApiError(404, "not_found", f"校验任务 {run_id} 不存在（no such verification run）")
        return ok(verification_run_view(current_principal(), run, s))


@bp.get("/cases/<int:case_id>/replay")
@roles_required("auditor", "admin")
def replay_case(case_id: int):
    visible_case_or_404(case_id)
    seq = request.args.get("seq")
    try:
        seq = int(seq) if seq is not None else None
    except ValueError:
        raise ApiError(400, "malformed", "seq 必须是整数（seq must be an event number）") from None
    from engine.replay import ReplayError

    try:
        snap = container().runtime.replay(case_id, seq).to_dict()
    except ReplayError as err:  # a journal that no longer replays (changed behind the engine's back)
        raise ApiError(409, "replay_failed", f"日志在第 {err.seq} 号事件处无法重放：{err.message}"
                                             f"（the journal cannot be replayed at event {err.seq}）",
                       {"seq": err.seq}) from None
    snap["data"] = personal_data.case_data(current_principal(), case_id, snap["data"])
    return ok(snap)


@bp.post("/cases/<int:case_id>/messages/<name>")
@roles_required("admin", "bureau", "jointmeeting", "registrar", "review_body")
def deliver_message(case_id: int, name: str):
    visible_case_or_404(case_id)  # the role alone would reach any county's case and return its data
    view = container().runtime.deliver_message(case_id, name, body().get("payload", {}),
                                               actor=current_principal().username)
    return ok(personal_data.case_view(current_principal(), view.to_dict()))


@bp.post("/cases/<int:case_id>/incidents/retry")
@roles_required("admin")
def retry_incidents(case_id: int):
    visible_case_or_404(case_id)
    view = container().runtime.retry_incidents(case_id, actor=current_principal().username)
    return ok(personal_data.case_view(current_principal(), view.to_dict()))


@bp.post("/cases/<int:case_id>/pause")
@roles_required("county_office", "bureau", "leader", "admin")
def pause_case(case_id: int):
    visible_case_or_404(case_id)
    reason = body().get("reason", "")
    view = container().runtime.pause_deadlines(case_id, current_principal().username, str(reason))
    return ok(personal_data.case_view(current_principal(), view.to_dict()))


@bp.post("/cases/<int:case_id>/resume")
@roles_required("county_office", "bureau", "leader", "admin")
def resume_case(case_id: int):
    visible_case_or_404(case_id)
    view = container().runtime.resume_deadlines(case_id, current_principal().username,
                                                str(body().get("reason", "")))
    return ok(personal_data.case_view(current_principal(), view.to_dict()))


@bp.post("/cases/<int:case_id>/deadlines/<key>/extend")
@roles_required("leader", "bureau", "admin")
def extend_deadline(case_id: int, key: str):
    visible_case_or_404(case_id)
    data = body()
    days = data.get("days")
    if not isinstance(days, int) or isinstance(days, bool):
        raise ApiError(400, "malformed", "days 必须是整数（days must be a whole number）")
    view = container().runtime.extend_deadline(case_id, key, days, current_principal().username,
                                               str(data.get("reason", "")))
    return ok(personal_data.case_view(current_principal(), view.to_dict()))


@bp.get("/reports/overdue")
@login_required
def overdue_by_unit():
    """Overdue open work items per unit (the red list), limited to the caller's units unless they see all."""
    p = current_principal()
    c = container()
    now = c.clock.now()
    with c.extras["read_sessions"]() as s:
        q = select(WorkItem.unit, func.count()).where(WorkItem.state == "open", WorkItem.due_at.is_not(None),
                                                      WorkItem.due_at < now)
        if not visibility.sees_all(p):
            q = q.where(_in_units(p))
        rows = s.execute(q.group_by(WorkItem.unit).order_by(func.count().desc())).all()
    return ok({"now": now, "units": [{"unit": u, "overdue": n} for u, n in rows]})


@bp.get("/registers/<register>")
@login_required
def list_register(register: str):
    """The four lists (and other case registers), per unit and leader: leader_case, stabilisation, resolution,
    supervision. Limited to the caller's units unless their role sees all."""
    from engine.store import CaseRegister
    from services.four_lists import KIND_OF_REGISTER

    if register not in KIND_OF_REGISTER:
        raise ApiError(404, "not_found", f"没有登记簿 {register}（known: {', '.join(sorted(KIND_OF_REGISTER))}）")
    check_register_filters(request.args)
    p = current_principal()
    c = container()
    with c.extras["read_sessions"]() as s:
        q = select(CaseRegister).where(CaseRegister.register == register)
        for field_name in ("unit", "person", "status"):
            value = request.args.get(field_name)
            if value:
                q = q.where(getattr(CaseRegister, field_name) == value)
        scope = visibility.units_scope(p)  # a county joint meeting sees its units, not every county
        if scope is not None:
            q = q.where(CaseRegister.unit.in_(sorted(scope)) if scope else false())
        q = q.where(visibility.outside_discipline_track(p, CaseRegister.case_id))
        rows = list(s.scalars(q.order_by(CaseRegister.updated_at.desc()).limit(500)))
    return ok({"register": register, "title": KIND_OF_REGISTER[register],
               "rows": [{"case_id": r.case_id, "key": r.key, "unit": r.unit, "person": r.person,
                         "status": r.status, "data": json.loads(r.data or "{}"), "opened_at": r.opened_at,
                         "updated_at": r.updated_at, "closed_at": r.closed_at} for r in rows]})


def check_register_filters(args) -> None:
    """A status or unit no row can have is the caller's mistake (a 422 saying what is allowed), not an empty list."""
    from services.orgchart import default_chart

    status = args.get("status")
    if status and status not in REGISTER_STATUSES:
        raise ApiError(422, "invalid", f"status 只能是 {' 或 '.join(REGISTER_STATUSES)}（在办 / 已销号），请改正后重试"
                                       f"（status must be one of {', '.join(REGISTER_STATUSES)}）",
                       {"parameter": "status", "allowed": list(REGISTER_STATUSES)})
    unit = args.get("unit")
    if unit and not default_chart().has(unit):
        raise ApiError(422, "invalid", f"单位“{unit}”不在组织机构中，请使用组织机构中的单位代码"
                                       f"（unit {unit!r} is not in the organisation: use a unit code from it）",
                       {"parameter": "unit"})


REGISTER_STATUSES = ("open", "closed")


# ---------------------------------------------------------------- tasks

@bp.get("/tasks")
def list_tasks():
    """The same list as the page `/tasks` (one query builder, web/task_list.py): filters, sort, paging, total."""
    from engine.runtime import task_view

    from . import task_list

    p = require_login()
    f = task_list.TaskFilters.parse(request.args, strict=True)
    try:
        limit = min(max(int(request.args.get("limit", 50)), 1), 500)
        offset = max(int(request.args.get("offset", 0)), 0)
    except ValueError:
        raise ApiError(400, "malformed", "limit/offset 必须是整数（limit and offset must be integers）") from None
    c = container()
    now = c.clock.now()
    with c.extras["read_sessions"]() as s:
        total, rows = task_list.fetch(s, p, f, now, limit, offset)
    out = []
    cal = c.runtime.calendar.calendar() if any(w.due_at for w, *_ in rows) else None  # one snapshot per list
    for w, summary, petitioner, case_no in rows:
        alert, left = c.runtime.alert(w.due_at, now, cal)
        overdue = c.runtime.overdue_workdays(w.due_at, now, cal) if alert == "red" else 0
        channel = json.loads(summary or "{}").get("channel")
        day = due_day(w.due_at)
        out.append(dict(task_view(w).__dict__, overdue=alert == "red", alert=alert, workdays_left=left,
                        overdue_workdays=overdue, due_date=day.isoformat() if day else None,
                        case_no=case_no, channel=channel, petitioner=petitioner or ""))
    return ok({"tasks": out, "total": total, "limit": limit, "offset": offset, "filters": f.params(), "now": now})


def _task_for_action(task_id: int) -> WorkItem:
    p = require_login()
    with container().extras["read_sessions"]() as s:
        return visibility.work_item_for_action(s, p, task_id)


@bp.post("/tasks/<int:task_id>/claim")
def claim_task(task_id: int):
    _task_for_action(task_id)
    return ok(container().runtime.claim(task_id, current_principal().username).__dict__)


@bp.post("/tasks/<int:task_id>/unclaim")
def unclaim_task(task_id: int):
    _task_for_action(task_id)
    return ok(container().runtime.claim(task_id, current_principal().username, unclaim=True).__dict__)


@bp.post("/tasks/<int:task_id>/complete")
def complete_task(task_id: int):
    item = _task_for_action(task_id)
    p = current_principal()
    if item.assignee not in (None, p.username):
        raise Conflict(f"任务已由 {item.assignee} 认领（task is claimed by someone else）")
    payload = body()
    data = payload.get("data", {})
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "data 必须是对象（data must be an object）")
    expected = payload.get("version")
    if expected is not None and not isinstance(expected, int):
        raise ApiError(400, "malformed", "version 必须是整数（version must be an integer）")
    _check_task_form(item, data)
    view = container().runtime.complete(task_id, data, actor=p.username, expected_version=expected)
    return ok(personal_data.case_view(current_principal(), view.to_dict()))


def _check_task_form(item: WorkItem, data: dict) -> None:
    """The API accepts what the task's form page accepts: data is validated against the task's JSON Schema."""
    from . import forms
    from .handling_web import form_schema

    schema = form_schema(item)
    errors = forms.validate(schema, data) if schema else {}
    if errors:
        raise ApiError(422, "invalid", "表单内容有误，未保存，请按提示修改（invalid form data, nothing was saved）",
                       forms.error_list(schema, errors))


# ---------------------------------------------------------------- clock (demo and tests)

@bp.get("/clock")
def get_clock():
    c = container()
    return ok({"now": c.clock.now(), "control": c.settings.allow_clock_control})


@bp.post("/clock")
@roles_required("admin", "designer")
def set_clock():
    c = container()
    if not c.settings.allow_clock_control:
        raise ApiError(403, "forbidden", "时钟控制未启用（set LIANXIN_ALLOW_CLOCK_CONTROL=1 for demos and tests only）")
    data = body()
    if "now" in data:
        try:
            when = parse_instant(str(data["now"]))
        except ValueError:
            raise ApiError(400, "malformed", "now 必须是 ISO-8601 时间（now must be ISO-8601）") from None
    elif "advance" in data:
        when = c.clock.now() + _parse_duration(str(data["advance"]))
    else:
        raise ApiError(400, "malformed", "需要 now 或 advance（send now or advance）")
    return ok({"now": c.set_clock(when)})


def _parse_duration(text: str) -> timedelta:
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    try:
        parts = TimerEventDefinition.parse_iso_duration(text)
    except Exception:
        raise ApiError(400, "malformed", "advance 必须是 ISO-8601 时长，如 P3D 或 PT4H（advance must be an ISO-8601 duration）") from None
    return timedelta(days=parts.get("days", 0) + 7 * parts.get("weeks", 0), hours=parts.get("hours", 0),
                     minutes=parts.get("minutes", 0), seconds=parts.get("seconds", 0))
