"""`/api/session`: sign in, who am I, sign out, the own password. Part of the JSON API beside the areas' parts
(web/http.py joins them into the blueprint `api`); the pages' sign-in is in web/ui.py."""
from __future__ import annotations

from . import security_events
from .auth import (
    MIN_PASSWORD,
    ApiError,
    change_own_password,
    csrf_token,
    current_principal,
    end_session,
    login_required,
    require_login,
)
from .http import api_part, body, limited, ok, op
from .signin import login

bp = api_part(__name__)


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


OPENAPI_PATHS = {
    "/api/session": {
        "post": limited(op("Sign in (wrong passwords limited per account and address: 429; admin, designer and "
                           "auditor also give otp, a TOTP or recovery code: 401 second_factor_required "
                           "without it; 401 account_locked after repeated failures)", "session", ok=201,
                           body={"type": "object", "required": ["username", "password"], "properties": {
                               "username": {"type": "string"}, "password": {"type": "string"},
                               "otp": {"type": "string"}}})),
        "get": op("Who am I", "session"),
        "delete": op("Sign out: this session and every other of the user's end", "session"),
    },
    "/api/session/password": {
        "put": op("Change the own password (ends the user's other sessions)", "session", body={
            "type": "object", "required": ["password", "new_password"], "properties": {
                "password": {"type": "string"}, "new_password": {"type": "string"}}}),
    },
}
