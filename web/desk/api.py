"""The desk's part of `/api`: the task list and its actions, the case registers (four lists), overdue work
per unit."""
from __future__ import annotations

import json

from flask import g, request
from sqlalchemy import select

from engine.calendar.display import due_day
from engine.clock import SHANGHAI
from engine.runtime import Conflict, task_view
from engine.store import Case, CaseRegister, WorkItem
from services import clock_governance, form_checks, overdue, registers, second_assignment
from services.four_lists import KIND_OF_REGISTER

from .. import personal_data, seen_case_data, visibility
from ..auth import ApiError, current_principal, login_required, require_login
from ..http import api_part, body, container, ok, org_chart
from . import forms, lists, task_list
from .handling import form_schema, registering_unit, submission_problems

bp = api_part(__name__)


@bp.get("/reports/overdue")
@login_required
def overdue_by_unit():
    """Overdue open work items per unit (the red list), limited to the caller's units unless they see all."""
    p = current_principal()
    c = container()
    now = c.clock.now()
    with c.extras["read_sessions"]() as s:
        units = overdue.overdue_by_unit(s, now, None if visibility.sees_all(p) else p.units)
    return ok({"now": now, "units": units})


@bp.get("/accountability/report")
@login_required
def accountability_report():
    """问责情况 for the annual assessment, per unit (`year`, default this year): counts per kind, written feedback
    on time / late / missing / pending, the cases concerned; limited to the caller's units unless they see all."""
    p = current_principal()
    if not visibility.may_read_accountability(p):
        raise visibility.refuse(p, "accountability report", "问责情况由信访部门、联席会议、领导、审计员查阅。")
    return ok(accountability_report_for(p, request.args.get("year")))


def accountability_report_for(p, year_text: str | None) -> dict:
    year = container().clock.now().astimezone(SHANGHAI).year if not year_text else _year(year_text)
    return lists.accountability_report(p, year)


def _year(text: str) -> int:
    if not text.isdigit() or not 2000 <= int(text) <= 2100:
        raise ApiError(422, "invalid", f"year 应为四位年份，如 2026（year must be a year such as 2026），收到 {text!r}",
                       {"parameter": "year"})
    return int(text)


@bp.get("/registers/<register>")
@login_required
def list_register(register: str):
    """The four lists (and other case registers), per unit and leader: leader_case, stabilisation, resolution,
    supervision. Limited to the caller's units unless their role sees all."""
    if register not in KIND_OF_REGISTER:
        raise ApiError(404, "not_found", f"没有登记簿 {register}（known: {', '.join(sorted(KIND_OF_REGISTER))}）")
    check_register_filters(request.args)
    p = current_principal()
    c = container()
    unit = request.args.get("unit")
    # a county joint meeting sees its units, not every county
    served = visibility.units_scope(p)
    with c.extras["read_sessions"]() as s:
        rows = registers.register_rows(
            s, register, units=[unit] if unit else None, person=request.args.get("person") or "",
            status=request.args.get("status") or "", served=served,
            case_condition=visibility.outside_discipline_track(p, CaseRegister.case_id), limit=500)
    return ok({"register": register, "title": KIND_OF_REGISTER[register], "rows": rows})


def check_register_filters(args) -> None:
    """A status or unit no row can have is the caller's mistake (a 422 saying what is allowed), not an empty list."""
    status = args.get("status")
    if status and status not in REGISTER_STATUSES:
        raise ApiError(422, "invalid", f"status 只能是 {' 或 '.join(REGISTER_STATUSES)}（在办 / 已销号），请改正后重试"
                                       f"（status must be one of {', '.join(REGISTER_STATUSES)}）",
                       {"parameter": "status", "allowed": list(REGISTER_STATUSES)})
    unit = args.get("unit")
    if unit and not org_chart().has(unit):
        raise ApiError(422, "invalid", f"单位“{unit}”不在组织机构中，请使用组织机构中的单位代码"
                                       f"（unit {unit!r} is not in the organisation: use a unit code from it）",
                       {"parameter": "unit"})


REGISTER_STATUSES = ("open", "closed")


@bp.get("/tasks")
def list_tasks():
    """The same list as the page `/tasks` (one query builder, web/desk/task_list.py): filters, sort, paging, total."""
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
        found = task_list.fetch(s, p, f, now, limit, offset)
    rows = found.rows
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
    return ok({"tasks": out, "total": found.total, "more": found.more, "limit": limit, "offset": offset, "filters": f.params(), "now": now})


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
    data = _check_task_form(item, data, expected)
    runtime = container().runtime
    # Whether the answer shows the personal data in full is asked, and a full view recorded, in the completion's
    # transaction (web/personal_data.py `shows_in_full_in`): one commit for both.
    with runtime.session_factory() as s, s.begin():
        view = runtime.complete(task_id, data, actor=p.username, expected_version=expected, session=s)
        full = personal_data.shows_in_full_in(s, p, view.id)
    return ok(personal_data.case_view(p, personal_data.view_dict(view), full))


def _check_task_form(item: WorkItem, data: dict, version: int | None = None) -> dict:
    """The API accepts what the task's form page accepts: the fields with a default (`x-default`) left empty are
    filled in, then data is validated against the task's JSON Schema (and the dates against their bounds), the
    case's own submission rules, the 二次交办 area, its units and the fields this case requires
    (services/form_checks.py). Returns the data with its defaults. `version`: the case version the caller saw
    (the command runs on that version or not at all), whose data the checks may then read (`_case_data`)."""
    schema = form_schema(item)
    if not schema:
        return data
    today = container().clock.now().astimezone(SHANGHAI).date()
    data = forms.with_defaults(schema, data, today)
    errors = forms.validate(schema, data, today)
    if not errors:
        errors = submission_problems(item, _case_data(item.case_id, version), data)
    if not errors and clock_governance.may_concern_extension(item.element_id, item.process_key):
        # an extension beyond the statutory maximum is refused here, with its reason
        errors = clock_governance.extension_form_errors(item.element_id, item.process_key,
                                                        _case_data(item.case_id, version), data)
    if errors:
        raise ApiError(422, "invalid", "表单内容有误，未保存，请按提示修改（invalid form data, nothing was saved）",
                       forms.error_list(schema, errors))
    scoped, units = second_assignment.scope_problems(schema, data, item.intended_unit or item.unit)
    if scoped:  # 二次交办 only within the office's own area: the valid units are listed
        raise ApiError(422, "invalid", "二次交办的单位不在本辖区内，未保存；请从本辖区的部门、乡镇中选择"
                                       "（the unit is outside the office's area, nothing was saved）",
                       [dict(e, units=units) for e in forms.error_list(schema, scoped)])
    if form_checks.has_checks(schema):
        refuse_problems(task_problems(item, schema, data, version))
    return data


def task_problems(item: WorkItem, schema: dict, data: dict, version: int | None = None) -> list:
    """Units unknown or outside the scope of the task's office, and fields the case requires, in `data`."""
    return form_checks.check(schema, data, org_chart(), item.unit, _case_data(item.case_id, version))


def _case_data(case_id: int, expected: int | None = None) -> dict:
    """The case's data, read once per request: the form checks of one completion asked for it up to three times,
    each time loading and deserializing the case's workflow (about a third of a completion's CPU). Data this
    process made at the case's current version (web/seen_case_data.py: the case read just before) is taken as it
    is; else the workflow is restored, and its data kept for the next request.

    `expected`: the version the completion names. The command runs on that version or is refused (409), so the
    data made at it, when kept, is the data the command will run on, without asking the database which version
    the case is at now."""
    kept = g.setdefault("case_data", {})
    if case_id not in kept and expected is not None:
        data = seen_case_data.seen().get(case_id, expected)
        if data is not None:
            kept[case_id] = data
    if case_id not in kept:  # the data alone: no work items, incidents, timers or deadlines as get_case reads
        c = container()
        with c.extras["read_sessions"]() as s:
            version = s.scalar(select(Case.version).where(Case.id == case_id))
            data = seen_case_data.seen().get(case_id, version) if version is not None else None
            if data is None:
                case = s.get(Case, case_id)  # the version and the state of one row: the data kept is of that version
                data = c.runtime.case_data(s, case)
                seen_case_data.seen().keep(case.id, case.version, data)
            kept[case_id] = data
    return kept[case_id]


def refuse_problems(problems: list) -> None:
    if problems:
        raise ApiError(422, "invalid", "表单内容有误，未保存，请按提示修改（单位见 valid_units）：" + "；".join(
            f"“{p.title}”{p.text()}" for p in problems) + "（invalid form data, nothing was saved）",
                       [p.json() for p in problems])


@bp.get("/units")
@login_required
def list_units():
    """Units to choose from by name (form fields `"format": "lianxin-unit"`): `q` part of the name, `scope`
    `all` or `routable`; the scope is the task's office (`task`), else the caller's registering office."""
    p = current_principal()
    scope = request.args.get("scope") or "all"
    if scope not in form_checks.SCOPES:
        raise ApiError(422, "invalid", f"scope 只能是 {' 或 '.join(form_checks.SCOPES)}（unknown scope）",
                       {"parameter": "scope", "allowed": list(form_checks.SCOPES)})
    task = request.args.get("task")
    if task:
        if not task.isdigit():
            raise ApiError(400, "malformed", "task 必须是任务 id（task must be a task id）")
        with container().extras["read_sessions"]() as s:
            office = visibility.work_item_for_action(s, p, int(task)).unit
    else:
        office = registering_unit(p)
    q = (request.args.get("q") or "")[:64]
    found = form_checks.search(org_chart(), scope, office, q)
    return ok({"scope": scope, "office": office, "units": [c.json() for c in found]})
