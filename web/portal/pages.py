"""The petitioners' portal `/portal` (docs/portal.md): no staff account; a one-time SMS code to the mobile number
signs in (web/portal_session.py, a cookie of its own). Submit a petition online, follow one's own cases, read and
download the notices and decisions served, rate within the rating window, request 复查/复核 within its window,
withdraw. The rules are services/portal.py; the rate limits web/limits.py.

Every POST is checked for the portal's CSRF token first (before the session): a forged post changes nothing.
A case that is not the signed-in number's is "not found", whatever its id.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from services import documents, incidents, portal, registration as reg, units as org_units
from services.index_key import IndexKey
from services.masking import mask_phone

from .. import portal_session
from ..http import container

bp = Blueprint("portal", __name__, url_prefix="/portal")
log = logging.getLogger("lianxin.portal")


@bp.before_request
def check_csrf():
    if request.method == "POST" and not portal_session.csrf_ok(request.form.get("csrf_token")):
        log.warning("portal CSRF token missing or wrong for %s from %s", request.path, request.remote_addr)
        return render_template("portal/message.html", title=_("页面已失效"),
                               message=_("页面已失效（CSRF 校验未通过），请返回网上信访首页重新操作。")), 403
    return None


@bp.after_request
def save_session(response):
    response.headers["Cache-Control"] = "no-store"  # personal pages: not kept by the browser or a proxy
    return portal_session.save(response)


@bp.context_processor
def portal_context():
    return {"portal_csrf": portal_session.csrf_token, "signed_in_phone": mask_phone(portal_session.phone() or "")}


def _key() -> IndexKey:
    settings = container().settings
    return IndexKey.from_secret_key(settings.secret_key, settings.crypto_suite)


def _signed_in() -> str:
    number = portal_session.phone()
    if number is None:
        abort(redirect(url_for("portal.index")))
    return number


def _unit_names():
    with container().extras["read_sessions"]() as s:
        names = org_units.unit_names(s)
    return lambda code: names.get(code, code)


def _message(title: str, message: str, status: int = 200):
    return render_template("portal/message.html", title=title, message=message), status


# ---------------------------------------------------------------- sign-in by SMS code

@bp.get("")
def index():
    number = portal_session.phone()
    if number is None:
        return render_template("portal/signin.html", pending=portal_session.pending(), error=None)
    return render_template("portal/cases.html", cases=portal.own_cases(container(), _key(), number))


@bp.post("/code")
def request_code():
    number = portal.normal_phone(request.form.get("phone"))
    if number is None:
        return render_template("portal/signin.html", pending="",
                               error=_("请输入11位手机号码")), 422
    c = container()
    portal.request_code(c, _key(), number, c.clock.now())
    portal_session.remember_pending(number)
    log.info("portal sign-in code sent to %s", mask_phone(number))
    return render_template("portal/signin.html", pending=number, sent=True, error=None)


@bp.post("/signin")
def sign_in():
    number = portal.normal_phone(request.form.get("phone") or portal_session.pending())
    if number is None:
        return render_template("portal/signin.html", pending="", error=_("请输入11位手机号码")), 422
    c = container()
    try:
        portal.check_code(c, _key(), number, request.form.get("code", ""), c.clock.now())
    except portal.PortalRefused as refused:
        g.portal_signin_failed = True
        return render_template("portal/signin.html", pending=number, sent=True, error=_(str(refused))), 401
    portal_session.sign_in(number)
    log.info("portal sign-in by %s", mask_phone(number))
    return redirect(url_for("portal.index"), 303)


@bp.post("/signout")
def sign_out():
    portal_session.sign_out()
    return redirect(url_for("portal.index"), 303)


# ---------------------------------------------------------------- submitting a petition

def _choices() -> tuple[list, list[tuple[str, str]]]:
    c = container()
    with c.extras["read_sessions"]() as s:
        places = org_units.locations(s)
    return reg.load_categories(c.settings.processes_dir / "categories.yaml"), places


def _uploads() -> list[portal.Upload]:
    return [portal.Upload(f.filename or "", f.mimetype or "", f.read())
            for f in request.files.getlist("files") if f and f.filename]


@bp.get("/submit")
def submit_form():
    _signed_in()
    categories, places = _choices()
    return render_template("portal/submit.html", categories=categories, places=places, form={}, problems={},
                           error=None)


@bp.post("/submit")
def submit():
    number = _signed_in()
    c = container()
    categories, places = _choices()
    form = {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}
    problems = portal.submission_problems(dict(form, phone=number), categories, dict(places),
                                          c.clock.now().date())
    uploads = _uploads()
    error = portal.check_uploads(uploads)
    if problems or error:
        return render_template("portal/submit.html", categories=categories, places=places, form=form,
                               problems={k: _(v) for k, v in problems.items()},
                               error=_(error) if error else _("请按提示修改后再提交")), 422
    with c.extras["read_sessions"]() as s:
        office = org_units.registering_office(s, set())
    try:
        done = portal.submit(c, _key(), number, form, uploads, office, incidents.refuse_failed_start)
    except incidents.StartFailed as err:
        log.warning("portal submission not saved: start failed at %s", err.step)
        return _message(_("提交未成功"), _("系统暂时无法登记，请稍后再试或到信访接待场所反映。"), 503)
    log.info("portal submission by %s: case %s", mask_phone(number), done["id"])
    return render_template("portal/submitted.html", done=done)


# ---------------------------------------------------------------- one's own case

def _own(case_id: int) -> tuple[str, dict]:
    number = _signed_in()
    try:
        return number, portal.own_case(container(), number, case_id)
    except LookupError:
        log.info("portal: case %s refused to %s", case_id, mask_phone(number))
        abort(404)


@bp.get("/cases/<int:case_id>")
def case(case_id: int):
    _, found = _own(case_id)
    return render_template("portal/case.html", case=found, documents=portal.ready_documents(found["data"],
                                                                                           _unit_names()),
                           ratings=portal.RATINGS, done=request.args.get("done"), error=None)


def _act(case_id: int, action, done: str):
    number, _found = _own(case_id)
    try:
        action(number)
    except portal.PortalRefused as refused:
        _n, found = _own(case_id)
        return render_template("portal/case.html", case=found,
                               documents=portal.ready_documents(found["data"], _unit_names()),
                               ratings=portal.RATINGS, done=None, error=_(str(refused))), 409
    return redirect(url_for("portal.case", case_id=case_id, done=done), 303)


@bp.post("/cases/<int:case_id>/rating")
def rate(case_id: int):
    return _act(case_id, lambda number: portal.rate(container(), number, case_id, request.form.get("rating", ""),
                                                    request.form.get("note", "")), "rated")


@bp.post("/cases/<int:case_id>/review")
def request_review(case_id: int):
    return _act(case_id, lambda number: portal.request_review(container(), number, case_id,
                                                              request.form.get("message", ""),
                                                              request.form.get("reason", "")), "review")


@bp.post("/cases/<int:case_id>/withdraw")
def withdraw(case_id: int):
    return _act(case_id, lambda number: portal.withdraw(container(), number, case_id,
                                                        request.form.get("reason", "")), "withdrawn")


def _document(case_id: int, kind: str) -> documents.Notice:
    number, _found = _own(case_id)
    if kind not in documents.kinds():
        abort(404)
    try:
        return portal.open_document(container(), number, case_id, kind, _unit_names())
    except documents.NoticeUnavailable:
        abort(404)


@bp.get("/cases/<int:case_id>/documents/<kind>")
def document(case_id: int, kind: str):
    return render_template("portal/document.html", notice=_document(case_id, kind), case_id=case_id, kind=kind)


@bp.get("/cases/<int:case_id>/documents/<kind>/pdf")
def document_pdf(case_id: int, kind: str):
    notice = _document(case_id, kind)
    return Response(documents.render_pdf(notice), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{kind}-{case_id}.pdf"'})
