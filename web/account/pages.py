"""The second factor's pages and API: the code page of the two-page sign-in, enrolment of one's own
authenticator (secret as text and as an otpauth URI, confirmed by a first code, then ten recovery codes shown
once), and an administrator's reset. The rules of signing in are web/signin.py; storage is
infra/second_factor.py. Every change is written to the security log.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, session
from flask_babel import gettext as _
from sqlalchemy import select

from infra import lockout, second_factor
from infra.accounts import User

from .. import security_events
from ..auth import ApiError, Principal, csrf_token, require_login, roles_required
from ..http import container
from ..signin import PENDING_KEY, login_pending, secret_box
from ..ui import page_principal, safe_next

bp = Blueprint("totp", __name__)


def _json_body() -> dict:
    data = request.get_json(silent=True) if request.data else {}
    if not isinstance(data, dict):
        raise ApiError(400, "malformed", "请求体必须是 JSON 对象（request body must be a JSON object）")
    return data


# ---------------------------------------------------------------- the code page of signing in

@bp.route("/login/second-factor", methods=["GET", "POST"])
def code_page():
    if PENDING_KEY not in session:
        return redirect("/login")
    error = None
    if request.method == "POST":
        try:
            login_pending(request.form.get("code", ""))
        except ApiError as err:
            if err.code == "sign_in_expired":
                return redirect("/login")
            error = err.message
        else:
            return redirect(safe_next(request.args.get("next")))
    return render_template("totp/code.html", error=error), 401 if error else 200


# ---------------------------------------------------------------- enrolment of one's own authenticator

def _begin(p: Principal, current_code: str) -> str:
    """A new pending secret for `p`; one who has a factor already proves it with a current code first."""
    if p.via_token:
        raise ApiError(403, "forbidden", "请登录后绑定验证器，API 令牌不能绑定（sign in with your password to enrol）")
    c = container()
    with c.session_factory() as s, s.begin():
        box = secret_box(c)
        if second_factor.enrolled(s, p.id) and not second_factor.verify(s, p.id, current_code, box, c.clock.now()):
            raise ApiError(403, "second_factor_invalid", "请先输入当前验证器的动态口令或一个恢复码"
                                                         "（give a code of your current authenticator first）")
        secret = second_factor.begin(s, p.id, box)
    security_events.record("second_factor", actor=p.username, detail={"action": "enrolment_started"})
    return secret


def _confirm(p: Principal, code: str) -> list[str]:
    c = container()
    with c.session_factory() as s, s.begin():
        codes = second_factor.confirm(s, p.id, code, secret_box(c), c.clock.now())
    if codes is None:
        raise ApiError(422, "second_factor_invalid", "动态口令不正确，请核对验证器上的时间和口令后重试"
                                                     "（the code does not match: check the authenticator's clock）")
    security_events.record("second_factor", actor=p.username, detail={"action": "enrolled"})
    return codes


@bp.get("/account/second-factor")
def account_page():
    p = page_principal()
    c = container()
    with c.extras["read_sessions"]() as s:
        enrolled = second_factor.enrolled(s, p.id)
        left = second_factor.recovery_codes_left(s, p.id) if enrolled else 0
    return render_template("totp/account.html", enrolled=enrolled, left=left, secret=None, uri=None, codes=None,
                           error=None)


@bp.post("/account/second-factor")
def account_begin():
    p = page_principal()
    try:
        secret = _begin(p, request.form.get("current_code", ""))
    except ApiError as err:
        return render_template("totp/account.html", enrolled=True, left=None, secret=None, uri=None, codes=None,
                               error=err.message), err.status
    return render_template("totp/account.html", enrolled=False, left=None, secret=secret,
                           uri=second_factor.provisioning_uri(secret, p.username), codes=None, error=None)


@bp.post("/account/second-factor/confirm")
def account_confirm():
    p = page_principal()
    try:
        codes = _confirm(p, request.form.get("code", ""))
    except ApiError as err:
        return render_template("totp/account.html", enrolled=False, left=None, secret=None, uri=None, codes=None,
                               error=err.message + " " + _("请重新开始绑定。")), err.status
    return render_template("totp/account.html", enrolled=True, left=len(codes), secret=None, uri=None, codes=codes,
                           error=None)


@bp.post("/api/account/second-factor")
def api_begin():
    """`{"otp": current code}` when a factor is enrolled already: 201 `{secret, otpauth_uri}`."""
    p = require_login()
    code = _json_body().get("otp") or ""
    secret = _begin(p, code if isinstance(code, str) else "")
    return jsonify({"secret": secret, "otpauth_uri": second_factor.provisioning_uri(secret, p.username),
                    "csrf_token": csrf_token()}), 201


@bp.post("/api/account/second-factor/confirm")
def api_confirm():
    """`{"otp": first code of the new secret}`: 200 `{recovery_codes}` (shown this once)."""
    p = require_login()
    if p.via_token:
        raise ApiError(403, "forbidden", "请登录后绑定验证器（sign in with your password to enrol）")
    code = _json_body().get("otp")
    if not isinstance(code, str):
        raise ApiError(400, "malformed", "需要 otp（send otp）")
    return jsonify({"recovery_codes": _confirm(p, code)})


# ---------------------------------------------------------------- an administrator's reset and unlock

def _user_id(s, username: str) -> int:
    user_id = s.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        raise ApiError(404, "not_found", f"没有用户 {username}（no such user）")
    return user_id


@bp.delete("/api/users/<username>/second-factor")
@roles_required("admin")
def api_reset(username: str):
    """The user's authenticator and recovery codes are removed (lost phone); they enrol again through
    `lianxin user enrol-totp`. Written to the security log."""
    c = container()
    with c.session_factory() as s, s.begin():
        removed = second_factor.reset(s, _user_id(s, username))
    security_events.record("second_factor", detail={"action": "reset", "user": username, "had_one": removed})
    return jsonify({"reset": removed})


@bp.post("/api/users/<username>/unlock")
@roles_required("admin")
def api_unlock(username: str):
    c = container()
    with c.session_factory() as s, s.begin():
        unlocked = lockout.unlock(s, _user_id(s, username))
    security_events.record("lockout", detail={"action": "unlocked", "user": username})
    return jsonify({"unlocked": unlocked})


def _op(summary: str, ok: int = 200, body: dict | None = None, username: bool = False) -> dict:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    op: dict = {"summary": summary, "tags": ["session"], "responses": {
        str(ok): {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
        **{code: {"description": text, "content": error} for code, text in (
            ("400", "malformed"), ("401", "sign in first"), ("403", "forbidden"), ("422", "wrong code"))}}}
    if body is not None:
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
    if username:
        op["parameters"] = [{"name": "username", "in": "path", "required": True, "schema": {"type": "string"}}]
    return op


_OTP = {"type": "object", "properties": {"otp": {"type": "string"}}}
OPENAPI_PATHS = {
    "/api/account/second-factor": {"post": _op(
        "Start enrolling an authenticator: {secret, otpauth_uri}; otp of the current one if enrolled", 201, _OTP)},
    "/api/account/second-factor/confirm": {"post": _op(
        "Confirm the new authenticator with its first code: {recovery_codes} (shown once)", body=_OTP)},
    "/api/users/{username}/second-factor": {"delete": _op("Reset a user's second factor (administrators)",
                                                          username=True)},
    "/api/users/{username}/unlock": {"post": _op("Lift a user's lockout (administrators)", username=True)},
}
