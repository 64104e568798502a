"""The case area's part of `/api`: a case's state, messages, incident retry, pausing, resuming and extending
its deadlines."""
from __future__ import annotations

from services import retention

from .. import personal_data
from ..auth import ApiError, current_principal, roles_required
from ..guards import visible_case_or_404
from ..http import api_part, body, container, ok

bp = api_part(__name__)


@bp.get("/cases/<int:case_id>")
def get_case(case_id: int):
    visible_case_or_404(case_id)
    view = personal_data.case_view(current_principal(), container().runtime.get_case(case_id).to_dict())
    with container().extras["read_sessions"]() as s:  # erased under the retention rule: say so (rule, date)
        view["erasure"] = retention.erasure_of(s, case_id)
    return ok(view)


@bp.post("/cases/<int:case_id>/messages/<name>")
@roles_required("admin", "bureau", "jointmeeting", "registrar", "review_body")
def deliver_message(case_id: int, name: str):
    visible_case_or_404(case_id)  # the role alone would reach any county's case and return its data
    view = container().runtime.deliver_message(case_id, name, body().get("payload", {}),
                                               actor=current_principal().username)
    return ok(personal_data.case_view(current_principal(), view.to_dict()))


@bp.post("/cases/<int:case_id>/incidents/retry")
@roles_required("admin", "bureau")  # retrying changes no data: the city bureau, which supervises cases, may too
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
