"""Signing in: the password, the lockout, demo accounts, and the second factor of privileged roles.

1. A locked account (infra/lockout.py) is refused before its password is looked at.
2. Wrong password: 401, counted towards the lockout (and by the rate limits of web/limits.py).
3. A demo account signs in only in demo mode (LIANXIN_DEMO=1): its password is the public `demo`.
4. Administrators, designers and auditors (PRIVILEGED_ROLES), and anyone who has enrolled one, give a second
   factor: a TOTP code or a recovery code (infra/second_factor.py). Without one the answer is 401
   `second_factor_required` (not counted as a failure: the password was right); a wrong one is a failure.
   A privileged account with none enrolled is refused with how to get one, except a demo account in demo mode
   (so that the public demo and its documented logins keep working).
Every outcome goes to the security log. The sign-in page asks for the code on a page of its own: between the two
steps the session holds only which user passed the password (PENDING_KEY), for PENDING_SECONDS.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime

from flask import g, request, session
from sqlalchemy import select

from infra import lockout, second_factor
from infra.accounts import User, check_password

from . import security_events
from .auth import PRIVILEGED_ROLES, ApiError, Principal, load_principal, start_session
from .http import container

log = logging.getLogger("lianxin.access")
PENDING_KEY = "pending_second_factor"
PENDING_SECONDS = 300
WRONG_PASSWORD = "用户名或密码错误，请核对后重试（wrong username or password）"


def secret_box(c) -> second_factor.SecretBox:
    return second_factor.SecretBox(c.settings.secret_key, c.settings.previous_secret_keys)


def lockout_rule(c) -> lockout.LockoutRule:
    return lockout.LockoutRule(c.settings.lockout_failures, c.settings.lockout_minutes)


@dataclass
class Attempt:
    actor: str
    user: User | None = None
    principal: Principal | None = None
    error: ApiError | None = None
    events: list[tuple[str, dict]] = field(default_factory=list)

    def fail(self, error: ApiError, reason: str) -> Attempt:
        self.error = error
        self.events.append(("sign_in_failed", {"reason": reason}))
        return self


def login(username: str, password: str, otp: str | None = None, *, two_pages: bool = False) -> Principal:
    """Signs in with password (and second factor), or raises ApiError after recording why. With `two_pages`
    (the sign-in page) a missing code leaves the user pending for the code page instead."""
    c = container()
    now = c.clock.now()
    with c.session_factory() as s, s.begin():
        attempt = _password_step(s, c, username, password, now)
        if attempt.error is None:
            _second_step(s, c, attempt, otp, now)
    if two_pages and attempt.error is not None and attempt.error.code == "second_factor_required":
        lang = session.get("lang")
        session.clear()  # whoever was signed in here is not any more: only the pending step remains
        session[PENDING_KEY] = {"user": attempt.user.id, "version": attempt.user.session_version or 0,
                                "at": now.timestamp()}
        if lang:
            session["lang"] = lang
    return _finish(attempt)


def login_pending(otp: str) -> Principal:
    """The code page's step: the user who passed the password on the sign-in page gives the second factor."""
    c = container()
    now = c.clock.now()
    pending = session.get(PENDING_KEY) or {}
    if not pending or now.timestamp() - pending.get("at", 0) > PENDING_SECONDS:
        session.pop(PENDING_KEY, None)
        raise ApiError(401, "sign_in_expired", "登录已超时，请重新输入用户名和密码（sign in again）")
    with c.session_factory() as s, s.begin():
        user = s.get(User, pending["user"])
        if user is None or not user.active or (user.session_version or 0) != pending.get("version"):
            session.pop(PENDING_KEY, None)
            raise ApiError(401, "sign_in_expired", "登录已失效，请重新登录（sign in again）")
        attempt = Attempt(actor=user.username, user=user, principal=load_principal(s, user))
        until = lockout.locked_until(s, user.id, now)
        if until is not None:
            attempt.fail(_locked(until, now), "locked")
        else:
            _second_step(s, c, attempt, otp, now)
    return _finish(attempt)


def _finish(attempt: Attempt) -> Principal:
    for kind, detail in attempt.events:
        security_events.record(kind, actor=attempt.actor, detail=detail)
    if attempt.error is not None:
        raise attempt.error
    start_session(attempt.user.id, attempt.user.session_version or 0)  # also ends any pending step
    return attempt.principal


def _locked(until: datetime, now: datetime) -> ApiError:
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return ApiError(401, "account_locked", f"登录失败次数过多，账号已锁定，请 {minutes} 分钟后再试或联系系统管理员"
                                           f"（account locked after repeated failures: try again in {minutes} minutes）",
                    {"retry_after_minutes": minutes})


def _count_failure(s, c, attempt: Attempt, now: datetime) -> None:
    until = lockout.record_failure(s, attempt.user.id, now, lockout_rule(c))
    if until is not None:
        attempt.events.append(("lockout", {"until": until.isoformat(), "minutes": c.settings.lockout_minutes}))


def _password_step(s, c, username: str, password: str, now: datetime) -> Attempt:
    user = s.scalar(select(User).where(User.username == username))
    attempt = Attempt(actor=username[:64] or "-", user=user)
    if user is not None:
        until = lockout.locked_until(s, user.id, now)
        if until is not None:
            return attempt.fail(_locked(until, now), "locked")
    if not check_password(user, password):
        log.warning("failed sign-in for %r from %s", username, request.remote_addr)
        attempt.fail(ApiError(401, "unauthorized", WRONG_PASSWORD), "password")
        if user is not None:
            _count_failure(s, c, attempt, now)
        return attempt
    if user.demo and not c.settings.demo:
        return attempt.fail(ApiError(403, "demo_account", "演示账号仅在演示模式（LIANXIN_DEMO=1）下可用"
                                                          "（demo accounts sign in only in demo mode）"), "demo account")
    attempt.principal = load_principal(s, user)
    return attempt


def _second_step(s, c, attempt: Attempt, otp: str | None, now: datetime) -> None:
    user, principal = attempt.user, attempt.principal
    enrolled = second_factor.enrolled(s, user.id)
    method = "password"
    if enrolled or principal.has_role(*PRIVILEGED_ROLES):
        method = _check_factor(s, c, attempt, enrolled, otp, now)
        if attempt.error is not None:
            return
    lockout.record_success(s, user.id)
    attempt.events.append(("sign_in", {"method": method, "roles": sorted(principal.role_names)}))


def _check_factor(s, c, attempt: Attempt, enrolled: bool, otp: str | None, now: datetime) -> str:
    user = attempt.user
    if not enrolled:
        if c.settings.demo and user.demo:
            return "password (demo account, demo mode)"
        attempt.fail(ApiError(401, "second_factor_not_enrolled",
                              "此账号须使用二次验证（动态口令），但尚未绑定验证器：请系统管理员运行 "
                              f"`lianxin user enrol-totp {user.username}` 并将密钥交给您，绑定后再登录"
                              "（this account needs a second factor and has none: ask an administrator to run "
                              f"`lianxin user enrol-totp {user.username}`）"), "second factor not enrolled")
        return ""
    if not otp:
        g.second_factor_step = True  # the password was right: not a failure for the rate limits
        attempt.error = ApiError(401, "second_factor_required", "请输入验证器上的 6 位动态口令或一个恢复码"
                                                                "（send otp: the 6-digit code or a recovery code）")
        return ""
    used = second_factor.verify(s, user.id, otp, secret_box(c), now)
    if used is None:
        attempt.fail(ApiError(401, "second_factor_invalid", "动态口令或恢复码不正确或已使用过，请重试"
                                                            "（wrong or already used code）"), "second factor")
        _count_failure(s, c, attempt, now)
        return ""
    if used == "recovery":
        attempt.events.append(("second_factor", {"action": "recovery_code_used",
                                                 "left": second_factor.recovery_codes_left(s, user.id)}))
    return "password+" + used
