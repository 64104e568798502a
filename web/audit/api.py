"""The audit area's part of `/api`: a case's history, access log, export, verification and replay; the
verification runs of every journal."""
from __future__ import annotations

from flask import request

from engine.replay import ReplayError
from engine.verification_runs import VerificationRun

from .. import personal_data
from ..auth import ApiError, current_principal, roles_required
from ..guards import visible_case_or_404
from ..http import api_part, container, ok
from . import pages

bp = api_part(__name__)


@bp.get("/cases/<int:case_id>/history")
def case_history(case_id: int):
    """The journal, filtered by ?actor=&type=&element=&from=&to=; each event with `changes` (before/after) and
    personal data masked unless the caller's role needs it (see web/audit/)."""
    visible_case_or_404(case_id)
    p = current_principal()
    filters = pages.parse_filters(request.args)
    return ok({"masked": pages.masked_for(p, case_id), "events": [
        {k: e[k] for k in ("seq", "at", "actor", "type", "type_label", "element_id", "element_name", "data",
                           "changes", "changes_source", "changes_label")}
        for e in pages.history_entries(case_id, filters, p)]})


@bp.get("/cases/<int:case_id>/access-log")
@roles_required("auditor", "admin")
def case_access_log(case_id: int):
    visible_case_or_404(case_id)

    return ok({"entries": pages.case_access_log(case_id)})


@bp.get("/cases/<int:case_id>/export")
def export_case(case_id: int):
    """The history as ?format=csv|json|html|pdf (masked), recorded in the access log."""
    visible_case_or_404(case_id)
    return pages.export_response(case_id, request.args.get("format", "json"), current_principal(), request.args)


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
    return ok({"runs": pages.recent_verification_runs(current_principal())})


@bp.post("/audit/verify-runs")
@roles_required("auditor", "admin")
def request_verification_run():
    """Verify every case's journal in the background (the worker); 202 with the run, or 200 with the run already
    in progress."""
    p = current_principal()
    run, created = pages.start_verification_run(p)
    return ok(pages.verification_run_view(p, run), 202 if created else 200)


@bp.get("/audit/verify-runs/<int:run_id>")
@roles_required("auditor", "admin")
def get_verification_run(run_id: int):
    with container().extras["read_sessions"]() as s:
        run = s.get(VerificationRun, run_id)
        if run is None:
            raise ApiError(404, "not_found", f"校验任务 {run_id} 不存在（no such verification run）")
        return ok(pages.verification_run_view(current_principal(), run, s))


@bp.get("/cases/<int:case_id>/replay")
@roles_required("auditor", "admin")
def replay_case(case_id: int):
    visible_case_or_404(case_id)
    seq = request.args.get("seq")
    try:
        seq = int(seq) if seq is not None else None
    except ValueError:
        raise ApiError(400, "malformed", "seq 必须是整数（seq must be an event number）") from None
    try:
        snap = container().runtime.replay(case_id, seq).to_dict()
    except ReplayError as err:  # a journal that no longer replays (changed behind the engine's back)
        raise ApiError(409, "replay_failed", f"日志在第 {err.seq} 号事件处无法重放：{err.message}"
                                             f"（the journal cannot be replayed at event {err.seq}）",
                       {"seq": err.seq}) from None
    snap["data"] = personal_data.case_data(current_principal(), case_id, snap["data"])
    return ok(snap)
