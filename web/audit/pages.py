"""The auditor's pages under /audit, and two app-wide rules this area owns.

App-wide (registered once when the blueprint is registered, so other areas need no change):
- read-only roles: a signed-in user whose roles are all read-only (the auditor) is refused every unsafe request
  (POST, PUT, PATCH, DELETE) with 403, except signing in and out and asking for a verification run;
- the access log: every GET of a URL that names a case (any endpoint with a `case_id` argument: the JSON API
  `/api/cases/{id}...`, the case page `/cases/{id}`, the audit pages, the exports) is recorded with who, when,
  which case, what, from where and the answer's status. A failure to record is logged as an error; an export is
  refused (503) if its access cannot be recorded.

Pages: /audit (find a case, recent access), /audit/cases/{id} (verification, history with filters, exports),
/audit/cases/{id}/replay (the diagram step by step), /audit/cases/{id}/access (who looked at the case),
/audit/verify (verify every case in the background: engine.verification_runs, progress and failures).
"""
from __future__ import annotations

import json
import logging
import re

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from engine import verification_runs
from engine.store import Case, ProcessDefinition
from infra import access_log
from services import audit_export, case_lookup, case_numbers as numbering
from services.case_lookup import case_numbers

from .. import personal_data, visibility
from ..auth import ApiError, Principal, current_principal
from ..http import container
from ..labels import names_for_scripts
from ..security_headers import DOCUMENT_POLICY
from ..ui import page_principal

bp = Blueprint("audit", __name__)
log = logging.getLogger("lianxin.audit")

# Sign-in and sign-out change no case: the only unsafe requests a read-only user may make.
ALWAYS_ALLOWED = {"api.create_session", "api.delete_session", "ui.login_page", "ui.logout", "public.query_page",
                  "api.change_password",  # the own password: auditors change theirs too
                  # and their own second factor (web/account/pages.py)
                  "totp.code_page", "totp.account_begin", "totp.account_confirm", "totp.api_begin", "totp.api_confirm"}
# Asking for a verification run of every journal changes no case either: it is what auditors are for.
READ_ONLY_MAY = {"audit.request_verification", "api.request_verification_run"}
AUDIT_ROLES = ("auditor", "admin")
EXPORT_FORMATS = tuple(audit_export.EXPORTERS)


def masked_for(p: Principal | None, case_id: int) -> bool:
    """Personal data is masked unless the one rule (`services.masking.sees_in_full`, applied by
    `web.personal_data`) shows it to `p` in full, which is then recorded; auditors always read it masked."""
    return not personal_data.shows_in_full(p, case_id)


# ---------------------------------------------------------------- app-wide rules

@bp.record_once
def _install(state) -> None:
    app = state.app
    app.before_request(refuse_read_only_changes)
    app.after_request(record_case_access)


def refuse_read_only_changes():
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if request.endpoint in ALWAYS_ALLOWED or request.endpoint in READ_ONLY_MAY or request.endpoint is None:
        return None
    try:
        p = current_principal()
    except ApiError:
        return None  # a bad token: the endpoint's own check answers 401
    if p is not None and visibility.only_reads(p):
        log.warning("refused %s %s to read-only user %s", request.method, request.path, p.username)
        raise ApiError(403, "read_only", _("审计员只能查看，不能修改任何内容（auditors read, they change nothing）。"))
    return None


_CASE_PATH = re.compile(r"^/(?:api/)?cases/(\d+)(?:/|$)")


def _case_of_request() -> int | None:
    args = request.view_args or {}
    if isinstance(args.get("case_id"), int):
        return args["case_id"]
    m = _CASE_PATH.match(request.path)
    return int(m.group(1)) if m else None


def _what() -> str:
    what = request.endpoint or "unknown"
    fmt = (request.view_args or {}).get("fmt") or request.args.get("format")
    if fmt and "export" in what:
        what = f"{what}.{fmt}"
    return what


def record_case_access(response):
    if request.method not in ("GET", "HEAD") or g.get("access_recorded"):
        return response
    case_id = _case_of_request()
    if case_id is None:
        return response
    try:
        write_access(case_id, _what(), response.status_code)
    except Exception:
        log.exception("access log: could not record %s %s (status %s)", request.method, request.path,
                      response.status_code)
    return response


def write_access(case_id: int, what: str, status: int) -> None:
    """Record one access now (raises if it cannot be recorded)."""
    try:
        p = current_principal()
    except ApiError:
        p = None
    c = container()
    with c.session_factory() as s, s.begin():
        access_log.record(s, at=c.clock.now(), username=p.username if p else "-", case_id=case_id, what=what,
                          method=request.method, path=request.full_path.rstrip("?"), status=status,
                          remote_addr=request.remote_addr or "-")
    g.access_recorded = True


# ---------------------------------------------------------------- shared with the JSON API

def case_facts(case_id: int) -> dict:
    c = container()
    with c.extras["read_sessions"]() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise ApiError(404, "not_found", _("案件 %(id)s 不存在。", id=case_id))
        definition = s.get(ProcessDefinition, case.definition_id)
        return {"id": case.id, "case_no": case_numbers(s, [case.id]).get(case.id), "process_key": case.process_key,
                "status": case.status, "definition_version": definition.version if definition else None,
                "created_at": case.created_at, "updated_at": case.updated_at, "started_by": case.started_by,
                "last_seq": case.last_seq}


def parse_filters(args) -> audit_export.Filters:
    try:
        return audit_export.Filters.parse(args)
    except ValueError as err:
        raise ApiError(400, "malformed", str(err)) from None


def history_entries(case_id: int, filters: audit_export.Filters | None, p: Principal | None) -> list[dict]:
    events = container().runtime.history(case_id)
    return audit_export.entries(events, filters, masked=masked_for(p, case_id))


def verification(case_id: int) -> dict:
    result = container().runtime.verify(case_id)
    return {"ok": result.ok, "events": result.events, "first_bad_seq": result.first_bad_seq, "reason": result.reason}


def export_response(case_id: int, fmt: str, p: Principal, args) -> Response:
    """The export of a case's history in `fmt`, recorded in the access log before it is produced."""
    if fmt not in audit_export.EXPORTERS:
        raise ApiError(400, "malformed", _("导出格式应为 %(formats)s 之一。", formats="、".join(EXPORT_FORMATS)))
    filters = parse_filters(args)
    facts = case_facts(case_id)
    try:
        write_access(case_id, f"{request.endpoint}.{fmt}", 200)
    except Exception:
        log.exception("access log: export of case %s refused, the access could not be recorded", case_id)
        raise ApiError(503, "access_log_unavailable",
                       _("无法记录本次导出，导出已取消，请稍后重试或联系系统管理员。")) from None
    masked = masked_for(p, case_id)
    report = audit_export.Report(
        case=facts, entries=history_entries(case_id, filters, p), exported_by=p.username,
        exported_at=container().clock.now(), masked=masked, verification=verification(case_id),
        filters={"actor": filters.actor, "type": filters.type, "element": filters.element,
                 "from": args.get("from") or "", "to": args.get("to") or ""} if filters.active() else None)
    produce, mimetype = audit_export.EXPORTERS[fmt]
    name = f"case-{facts['case_no'] or facts['id']}-history.{fmt}"
    disposition = "inline" if fmt == "html" else "attachment"
    headers = {"Content-Disposition": f"{disposition}; filename=\"{name}\"", "Cache-Control": "no-store"}
    if fmt == "html":  # shown in the browser: no script at all, its own inline style
        headers["Content-Security-Policy"] = DOCUMENT_POLICY
    return Response(produce(report), mimetype=mimetype, headers=headers)


def case_access_log(case_id: int) -> list[dict]:
    with container().extras["read_sessions"]() as s:
        return access_log.for_case(s, case_id)


def main_diagram(case_id: int) -> str | None:
    """The BPMN XML of the case's process, from the sources of its definition version."""
    c = container()
    with c.extras["read_sessions"]() as s:
        case = s.get(Case, case_id)
        definition = s.get(ProcessDefinition, case.definition_id) if case else None
        if definition is None:
            return None
        sources = json.loads(definition.sources_json)
    marker = re.compile(rf"<(?:\w+:)?process\b[^>]*\bid=\"{re.escape(case.process_key)}\"")
    for name, text in sources.items():
        if name.endswith(".bpmn") and marker.search(text):
            return text
    return None


# ---------------------------------------------------------------- pages

STATUS_LABELS = audit_export.STATUS_LABELS
WHAT_LABELS = {
    "api.get_case": "接口：案件详情", "api.case_history": "接口：办理日志", "api.replay_case": "接口：回放",
    "api.verify_case": "接口：校验", "api.case_access_log": "接口：查阅记录", "api.export_case": "接口：导出",
    "audit.history": "审计：校验与办理日志", "audit.replay": "审计：流程回放", "audit.access": "审计：查阅记录",
    "audit.export": "审计：导出", "casepage.case_page": "案件页面",
}


def what_label(what: str) -> str:
    """`audit.export.pdf` → 审计：导出 PDF; unknown endpoints of other areas keep their name."""
    base, _dot, fmt = what.rpartition(".") if what.count(".") >= 2 else (what, "", "")
    label = WHAT_LABELS.get(base)
    if label is None:
        return _("案件页面") + f"（{what.split('.', 1)[1]}）" if what.startswith("casepage.") else what
    return _(label) + (f" {fmt.upper()}" if fmt else "")


@bp.context_processor
def audit_context():
    return {"status_label": lambda st: _(STATUS_LABELS[st]) if st in STATUS_LABELS else st,
            "what_label": what_label,
            "run_status_label": lambda st: _(RUN_STATUS_LABELS[st]) if st in RUN_STATUS_LABELS else st}


RUN_STATUS_LABELS = {"queued": "等待后台任务", "running": "正在校验", "done": "已完成"}


def _page_principal():
    return page_principal(*AUDIT_ROLES)


def _visible(p: Principal, case_id: int) -> None:
    """The audit role does not widen what a person sees: an admin auditing still does not see the discipline
    track (web/visibility.py)."""
    with container().extras["read_sessions"]() as s:
        visibility.visible_case(s, p, case_id)


@bp.get("/audit")
def index():
    p = _page_principal()
    q = (request.args.get("q") or "").strip()
    c = container()
    keys = numbering.keys_for(c.settings.secret_key, c.settings.previous_secret_keys) if q else ()
    with c.extras["read_sessions"]() as s:
        cases = case_lookup.audit_cases(s, q, visibility.case_filter(p), keys)
        recent = access_log.recent(s, limit=30)
    return render_template("audit/index.html", cases=cases, q=q, recent=recent)


def _case_page(case_id: int) -> dict:
    p = _page_principal()
    _visible(p, case_id)
    return {"me_principal": p, "case": case_facts(case_id)}


@bp.get("/audit/cases/<int:case_id>")
def history(case_id: int):
    ctx = _case_page(case_id)
    filter_error = None
    try:
        filters = audit_export.Filters.parse(request.args)
    except ValueError as err:
        filter_error, filters = str(err), None
    events = container().runtime.history(case_id)
    masked = masked_for(ctx["me_principal"], case_id)
    shown = audit_export.entries(events, filters, masked=masked)
    actors = sorted({e["actor"] for e in events})
    types = sorted({e["type"] for e in events})
    names = audit_export.element_names(events)
    elements = sorted({e["element_id"] for e in events if e["element_id"]})
    return render_template("audit/history.html", entries=shown, total=len(events), actors=actors, types=types,
                           elements=[(e, names.get(e, "")) for e in elements], args=request.args,
                           filter_error=filter_error, masked=masked, type_labels=audit_export.TYPE_LABELS,
                           formats=EXPORT_FORMATS, show=audit_export.show, element_names=names, result=verification(case_id), **ctx)


@bp.get("/audit/cases/<int:case_id>/replay")
def replay(case_id: int):
    ctx = _case_page(case_id)
    events = container().runtime.history(case_id)
    steps = [{"seq": e["seq"], "type": e["type"], "label": audit_export.TYPE_LABELS.get(e["type"], e["type"]),
              "element_id": e["element_id"], "actor": e["actor"],
              "at": audit_export.beijing(e["at"])} for e in events]
    diagram = main_diagram(case_id)
    names = names_for_scripts(diagram)  # the data panel shows names, not codes (web/labels.py)
    for step in steps:
        step["element_name"] = names["elements"].get(step["element_id"] or "", "")
    config = {"case_id": case_id, "steps": steps, "api": f"/api/cases/{case_id}/replay",
              "masked": masked_for(ctx["me_principal"], case_id), "names": names}
    return render_template("audit/replay.html", config=config, diagram=diagram, **ctx)


@bp.get("/audit/cases/<int:case_id>/access")
def access(case_id: int):
    ctx = _case_page(case_id)
    write_access(case_id, "audit.access", 200)  # before reading, so that this visit is listed too
    return render_template("audit/access.html", rows=case_access_log(case_id), **ctx)


@bp.get("/audit/cases/<int:case_id>/export/<fmt>")
def export(case_id: int, fmt: str):
    p = _page_principal()
    _visible(p, case_id)
    return export_response(case_id, fmt, p, request.args)


# ---------------------------------------------------------------- verification runs (every case)

def verification_run_view(p: Principal, run, session=None) -> dict:
    """A run as `p` may see it: failures only of cases `p` sees (an admin does not see the discipline track),
    with how many others there are. `session`: the caller's read session, if it has one."""
    if session is None:
        with container().extras["read_sessions"]() as s:
            return verification_run_view(p, run, s)
    data = verification_runs.as_dict(run)
    failures = data.pop("failures")
    ids = [f["case_id"] for f in failures]
    seen = set(session.scalars(select(Case.id).where(Case.id.in_(ids), visibility.case_filter(p)))) if ids else set()
    numbers = case_numbers(session, list(seen))
    data["failures"] = [dict(f, case_no=numbers.get(f["case_id"])) for f in failures if f["case_id"] in seen]
    data["failures_not_shown"] = len(failures) - len(data["failures"])
    data["percent"] = round(100 * data["checked"] / data["total"]) if data["total"] else 100
    return data


def recent_verification_runs(p: Principal, limit: int = 10) -> list[dict]:
    with container().extras["read_sessions"]() as s:  # one session for the whole list
        runs = s.scalars(select(verification_runs.VerificationRun)
                         .order_by(verification_runs.VerificationRun.id.desc()).limit(limit))
        return [verification_run_view(p, r, s) for r in runs]


def start_verification_run(p: Principal):
    """Queue a run; (run, created). One run at a time: asking again while one is active gives that one."""
    c = container()
    with c.session_factory() as s, s.begin():
        try:
            run = verification_runs.request_run(s, p.username, c.clock.now())
            created = True
        except verification_runs.RunInProgress as busy:
            run, created = busy.run, False
    if created:
        log.info("verification run %s of %s cases requested by %s", run.id, run.total, p.username)
    return run, created


@bp.get("/audit/verify")
def verification_page():
    p = _page_principal()
    runs = recent_verification_runs(p)
    active = any(r["status"] in verification_runs.ACTIVE for r in runs)
    return render_template("audit/verify.html", runs=runs, active=active)


@bp.post("/audit/verify")
def request_verification():
    p = _page_principal()
    run, created = start_verification_run(p)
    if created:
        flash(_("已开始校验全部 %(n)s 个案件，由后台任务执行；本页会自动刷新进度。", n=run.total), "success")
    else:
        flash(_("已有一次校验正在进行（第 %(id)s 次），请等它完成。", id=run.id), "info")
    return redirect(url_for("audit.verification_page"))
