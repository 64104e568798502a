"""The case area's part of `/api`: a case's state, messages, incident retry, and the governed clock acts:
pausing (复核 hearings only), resuming, extending (never a statutory limit, never by the assessed unit) and the
administrator's correction of a wrong deadline."""
from __future__ import annotations

from services import (
    accountability,
    clock_governance,
    linked_cases,
    manual_supervision,
    petitioner_rights,
    repeat_originals,
    retention,
    second_assignment,
    withdrawal,
)

from .. import personal_data, seen_case_data, visibility
from ..auth import ApiError, current_principal, login_required, roles_required
from ..guards import visible_case_or_404
from ..http import api_part, body, container, ok

bp = api_part(__name__)


@bp.get("/cases/<int:case_id>")
def get_case(case_id: int):
    visible_case_or_404(case_id)
    read = container().runtime.get_case(case_id)
    seen_case_data.keep_view(read)  # for the form checks of a submission that may follow (web/desk/api.py)
    view = personal_data.case_view(current_principal(), personal_data.view_dict(read))
    with container().extras["read_sessions"]() as s:  # erased under the retention rule: say so (rule, date)
        view["erasure"] = retention.erasure_of(s, case_id)
        # 交办链: every hand the matter passed through (转送, 交办, 二次交办), oldest first
        view["assignment_chain"] = second_assignment.chain(s, case_id, view.get("data") or {})
        # 重复信访 both ways: the original this case repeats, and the repeats of this case (those the caller may
        # not see are counted, not named)
        view["repeat_of"], view["repeats"] = repeat_originals.both_ways(
            s, case_id, lambda: visibility.case_filter(current_principal()))
        # the supervision-feedback cases its 督办 steps started, and the case a feedback case belongs to
        view["linked_cases"], view["parent_case"] = linked_cases.both_ways(s, case_id)
    return ok(view)


@bp.post("/cases/<int:case_id>/messages/<name>")
@roles_required("admin", "bureau", "jointmeeting", "registrar", "review_body")
def deliver_message(case_id: int, name: str):
    visible_case_or_404(case_id)  # the role alone would reach any county's case and return its data
    payload = body().get("payload", {})
    if name == withdrawal.MESSAGE:  # 撤回 ends the case: only the registering office's confirmation sends it
        raise ApiError(409, "conflict", "撤回须由登记本件的信访工作机构在案件页面确认（use the case page's withdrawal "
                                        "confirmation）")
    if petitioner_rights.is_request(name):  # 复查/复核: taken from service on, judged against its window now
        view = petitioner_rights.take_request(container().runtime, case_id, name, payload,
                                              actor=current_principal().username)
    else:
        view = container().runtime.deliver_message(case_id, name, payload, actor=current_principal().username)
    return ok(personal_data.case_view(current_principal(), view.to_dict()))


@bp.post("/cases/<int:case_id>/incidents/retry")
@login_required
def retry_incidents(case_id: int):
    """Run the failing steps again (web/visibility.py `may_retry_incidents`: admins and the city bureau; on a
    confidential case the people of the unit that holds it)."""
    visible_case_or_404(case_id)
    p = current_principal()
    with container().extras["read_sessions"]() as s:
        if not visibility.may_retry_incidents(s, p, case_id):
            raise visibility.refuse(p, f"retry of case {case_id}", "重试故障由系统管理员或信访局操作；保密案件由受理的纪检监察机关人员操作（you may not retry this case）")
    view = container().runtime.retry_incidents(case_id, actor=current_principal().username)
    return ok(personal_data.case_view(current_principal(), view.to_dict()))


def _caller() -> clock_governance.Caller:
    p = current_principal()
    return clock_governance.Caller(visibility.may_extend_clocks(p), visibility.may_stop_clocks(p), p.holds)


def _open_tasks(view) -> list[clock_governance.OpenTask]:
    return [clock_governance.OpenTask(t.element_id, t.role, t.unit) for t in view.tasks]


def _governed(check):
    """Run a clock_governance check; its refusal is a 403 naming the proper path (services/clock_governance.py)."""
    try:
        return check()
    except clock_governance.ClockRefused as refused:
        raise ApiError(403, "clock_governed", refused.message, refused.details) from None


@bp.post("/cases/<int:case_id>/pause")
@login_required
def pause_case(case_id: int):
    """Stop the clock: only during a 复核, for its hearing (条例第三十六条), journaled with that basis."""
    visible_case_or_404(case_id)
    reason = str(body().get("reason", ""))
    view = container().runtime.get_case(case_id)
    basis = _governed(lambda: clock_governance.check_pause(view.process_key, _caller(), _open_tasks(view)))
    view = container().runtime.pause_deadlines(case_id, current_principal().username, reason, basis=basis)
    return ok(personal_data.case_view(current_principal(), view.to_dict()))


@bp.post("/cases/<int:case_id>/resume")
@roles_required(*visibility.CLOCK_STOPPING_ROLES)
def resume_case(case_id: int):
    visible_case_or_404(case_id)
    view = container().runtime.resume_deadlines(case_id, current_principal().username,
                                                str(body().get("reason", "")))
    return ok(personal_data.case_view(current_principal(), view.to_dict()))


@bp.post("/cases/<int:case_id>/deadlines/<key>/extend")
@login_required
def extend_deadline(case_id: int, key: str):
    """A deadline of a process without statutory limits, by a supervising office; never a statutory limit and
    never by the assessed unit (services/clock_governance.py)."""
    visible_case_or_404(case_id)
    data = body()
    days = data.get("days")
    view = container().runtime.get_case(case_id)
    _governed(lambda: clock_governance.check_extend(view.process_key, key, _caller(), _open_tasks(view)))
    if not isinstance(days, int) or isinstance(days, bool):
        raise ApiError(400, "malformed", "days 必须是整数（days must be a whole number）")
    view = container().runtime.extend_deadline(case_id, key, days, current_principal().username,
                                               str(data.get("reason", "")))
    return ok(personal_data.case_view(current_principal(), view.to_dict()))


@bp.post("/cases/<int:case_id>/deadlines/<key>/correct")
@roles_required(*visibility.REPAIR_ROLES)
def correct_deadline(case_id: int, key: str):
    """An administrator corrects a wrongly computed deadline (更正时限), with the reason; journaled on its own."""
    visible_case_or_404(case_id)
    data = body()
    due_date = data.get("due_date")
    if not isinstance(due_date, str):
        raise ApiError(400, "malformed", "due_date 必须是日期字符串，如 2026-05-06（due_date must be an ISO date）")
    view = container().runtime.correct_deadline(case_id, key, due_date, current_principal().username,
                                                str(data.get("reason", "")))
    return ok(personal_data.case_view(current_principal(), view.to_dict()))


@bp.post("/cases/<int:case_id>/supervise")
@login_required
def supervise_case(case_id: int):
    """A 督办 issued by hand (services/manual_supervision.py): by the petition office one level up of the unit
    holding the case's open task, with a reason; the same 督办 as the automatic one (notice, supervision list row,
    the supervision-feedback linked case), journaled as `case.supervised`."""
    visible_case_or_404(case_id)
    reason = body().get("reason", "")
    if not isinstance(reason, str):
        raise ApiError(400, "malformed", "reason 必须是文字（reason must be a string）")
    c = container()
    p = current_principal()
    try:
        with c.session_factory() as s, s.begin():
            done = manual_supervision.issue(c.runtime, s, case_id, p.username, p.holds, reason, c.clock.now(),
                                            supervises=visibility.issues_supervision(p))
    except manual_supervision.SupervisionRefused as refused:
        code = {403: "forbidden", 409: "conflict", 422: "invalid"}[refused.status]
        raise ApiError(refused.status, code, refused.text()) from None
    return ok(done, 201)


def accountability_offices(p, view):
    """The access policy's answer per unit for this case (web/visibility.py)."""
    chart = accountability.chart_of(container().runtime)
    assigning = accountability.assigning_unit(view.data)
    return chart, (lambda unit: visibility.accountability_office(p, chart, unit, assigning))


@bp.get("/cases/<int:case_id>/accountability")
@login_required
def case_accountability(case_id: int):
    """The case's accountability records (问责), and the units of the case the caller may record against (with the
    office in whose name, the unit's people), the kinds and their limit bounds."""
    visible_case_or_404(case_id)
    c = container()
    p = current_principal()
    view = c.runtime.get_case(case_id)
    chart, office_for = accountability_offices(p, view)
    with c.extras["read_sessions"]() as s:
        rows = accountability.case_rows(s, case_id)
        units = accountability.targets(s, case_id, chart, office_for) if visibility.may_write(p) else []
    kinds = [{"kind": k, "setting": v, "min_days": accountability.limit_bounds(k)[0],
              "max_days": accountability.limit_bounds(k)[1]} for k, v in accountability.KINDS.items()]
    return ok({"records": rows, "may_record": units, "kinds": kinds})


@bp.post("/cases/<int:case_id>/accountability")
@login_required
def record_accountability(case_id: int):
    """Record 约谈、通报、限期整改 or 追责建议 against a unit of the case (or one of its people): by the office that
    supervises the unit, never by the unit itself (services/accountability.py); journaled as
    `case.accountability_recorded`; the unit's written feedback is a linked case."""
    visible_case_or_404(case_id)
    data = body()
    req = accountability_request(data)
    c = container()
    p = current_principal()
    view = c.runtime.get_case(case_id)
    _, office_for = accountability_offices(p, view)
    try:
        with c.session_factory() as s, s.begin():
            done = accountability.record(c.runtime, s, case_id, p.username, req, office_for, c.clock.now())
    except accountability.AccountabilityRefused as refused:
        code = {403: "forbidden", 409: "conflict", 422: "invalid"}[refused.status]
        raise ApiError(refused.status, code, refused.message) from None
    return ok(done, 201)


def accountability_request(data: dict) -> accountability.Request:
    for name in ("unit", "kind", "reason", "person"):
        if not isinstance(data.get(name, ""), str):
            raise ApiError(400, "malformed", f"{name} 必须是文字（{name} must be a string）")
    limit = data.get("limit_days")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise ApiError(400, "malformed", "limit_days 必须是整数天数或不填（limit_days must be a whole number）")
    return accountability.Request(unit=data.get("unit", ""), kind=data.get("kind", ""), reason=data.get("reason", ""),
                                  person=data.get("person", ""), limit_days=limit)
