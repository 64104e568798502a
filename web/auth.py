"""Who is calling: session cookie (with a CSRF header for unsafe methods) or `Authorization: Bearer` token."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import wraps

from flask import g, request, session
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf, validate_csrf
from sqlalchemy import bindparam, null, select, true, union_all
from wtforms.validators import ValidationError

from infra import password_rules
from infra.accounts import (
    Membership,
    Unit,
    User,
    check_password,
    end_sessions,
    set_password,
    token_digest,
    token_holder_id,
    token_holder_query,
    token_live,
)
from infra.driver_reads import DriverSelect

from .http import ApiError, container

# Who must give a second factor at sign-in (MLPS level 3: privileged accounts; web/signin.py): the roles that change
# the processes, the organisation and the accounts, and the role that reads the security log.
PRIVILEGED_ROLES = ("admin", "designer", "auditor")

log = logging.getLogger("lianxin.access")


@dataclass
class Principal:
    id: int
    username: str
    display_name: str
    roles: list[tuple[str, str, bool]]  # (role, unit, include_subunits)
    units: set[str] = field(default_factory=set)  # units served, subunits expanded where allowed
    via_token: bool = False
    # (role, unit) pairs, subunits expanded where the role is held with include_subunits: a role counts only in
    # the units it is held for (unit_handler in A and registrar in B is no unit_handler in B)
    role_units: set[tuple[str, str]] = field(default_factory=set)

    def has_role(self, *names: str) -> bool:
        return any(r in names for r, _, _ in self.roles)

    def holds(self, role: str, unit: str | None) -> bool:
        """Whether the user holds `role` in `unit` (directly, or in a parent unit with include_subunits)."""
        return (role, unit) in self.role_units

    @property
    def role_names(self) -> set[str]:
        return {r for r, _, _ in self.roles}


def _roles_query(user_id):
    """The user's memberships, and the subunits (at any depth) of those held with include_subunits, walked by a
    recursive query in the database, each with its role: rows (role, unit, include_subunits), the walked ones with
    include_subunits NULL. `user_id`: a number or a scalar subquery."""
    mine = select(Membership.role, Membership.unit_code, Membership.include_subunits).where(
        Membership.user_id == user_id)
    served = (select(Membership.role.label("role"), Membership.unit_code.label("code"))
              .where(Membership.user_id == user_id, Membership.include_subunits.is_(True))
              .cte("served", recursive=True))
    served = served.union(select(served.c.role, Unit.code).join(served, Unit.parent_code == served.c.code))
    return union_all(select(mine.subquery()), select(served.c.role, served.c.code, null()))


def _principal(user, rows, via_token: bool) -> Principal:
    roles = [(role, unit, bool(subunits)) for role, unit, subunits in rows if subunits is not None]
    units = {unit for _, unit, _ in rows}
    role_units = {(role, unit) for role, unit, _ in rows}
    return Principal(user.id, user.username, user.display_name, roles, units, via_token, role_units)


# The two principal queries, built once (issue #21): building the recursive query, its union and subqueries cost
# more CPU than running it, on every request; one statement object also keeps its cache key, so SQLAlchemy finds
# the compiled SQL without walking the statement again. The values go in as parameters.
_USER_ROLES = _roles_query(bindparam("user_id"))
_DIGEST = bindparam("token_digest")
_TOKEN_ROLES = _roles_query(token_holder_id(_DIGEST)).subquery()
_TOKEN_HOLDER = token_holder_query(_DIGEST).subquery()
_TOKEN_PRINCIPAL = (select(_TOKEN_HOLDER, _TOKEN_ROLES.c.role, _TOKEN_ROLES.c.unit_code,
                           _TOKEN_ROLES.c.include_subunits)
                    .select_from(_TOKEN_HOLDER).outerjoin(_TOKEN_ROLES, true()))
_TOKEN_PRINCIPAL_READ = DriverSelect(_TOKEN_PRINCIPAL)  # every API request asks it (infra/driver_reads.py)


def load_principal(s, user: User, via_token: bool = False) -> Principal:
    """The user's roles and the units they serve, in one query (`_roles_query`)."""
    return _principal(user, s.execute(_USER_ROLES, {"user_id": user.id}).all(), via_token)


def token_principal(s, token: str, now) -> Principal | None:
    """The holder of a live API token (not revoked, not expired at `now`, account active) with their roles and
    units, in one query: the token and its holder, joined to every row of `_roles_query` (one row, the roles NULL,
    for a holder without memberships). None for any other token."""
    rows = _TOKEN_PRINCIPAL_READ.rows(s, {"token_digest": token_digest(token)})
    if not rows or not token_live(rows[0], now) or not rows[0].active:
        return None
    found = [(r.role, r.unit_code, r.include_subunits) for r in rows if r.role is not None]
    return _principal(rows[0], found, via_token=True)


class SessionUser(UserMixin):
    """What Flask-Login keeps in the session (and in a remember cookie): the user id and the user's session
    version when they signed in; roles are read afresh on every request. Signing out and a password change
    raise the version (infra.accounts), after which the cookie no longer names a valid session."""

    def __init__(self, user_id: int, version: int):
        self.id = user_id
        self.version = version

    def get_id(self) -> str:
        return f"{self.id}:{self.version}"


def load_session_user(user_id: str) -> SessionUser | None:
    """From the cookie's `id:version`; a cookie from before versions (the id alone) is no longer a session."""
    ident, _, version = user_id.partition(":")
    try:
        return SessionUser(int(ident), int(version))
    except ValueError:
        return None


def start_session(user_id: int, version: int) -> None:
    session.clear()  # no session fixation: a fresh session (and CSRF secret) for every sign-in
    login_user(SessionUser(user_id, version))
    generate_csrf()


def end_session() -> None:
    """Signs the caller out everywhere: every cookie of theirs (this one, other browsers', remember cookies) is
    refused from now on. A bearer token is left alone (revoke it with `lianxin token revoke`)."""
    c = container()
    if current_user.is_authenticated and not request.headers.get("Authorization", "").startswith("Bearer "):
        with c.session_factory() as s, s.begin():
            user = s.get(User, current_user.id)
            if user is not None and (user.session_version or 0) == current_user.version:
                end_sessions(user)
    session.clear()
    logout_user()  # after clear: it leaves the mark that deletes a remember cookie


MIN_PASSWORD = password_rules.MIN_LENGTH


def change_own_password(user_id: int, current: str, new: str) -> None:
    """A new password for the signed-in user, who proves the current one and whose new one keeps the rules
    (infra/password_rules.py); every session of theirs ends and this request carries on in a fresh one.
    Signing in (password, lockout, second factor) is web/signin.py."""
    c = container()
    with c.session_factory() as s, s.begin():
        user = s.get(User, user_id)
        if not check_password(user, current):
            raise ApiError(403, "wrong_password", "当前密码不正确，请重新输入（the current password is wrong）")
        try:
            password_rules.check(new, user.username)
        except password_rules.PasswordRuleError as err:
            raise ApiError(422, "weak_password", err.message, {"rule": err.rule}) from None
        set_password(user, new)
        version = user.session_version
    start_session(user_id, version)


def csrf_token() -> str:
    """The CSRF token for this session (Flask-WTF): form field `csrf_token` or header `X-CSRF-Token`."""
    return generate_csrf()


def current_principal() -> Principal | None:
    if "principal" in g:
        return g.principal
    c = container()
    principal = None
    header = request.headers.get("Authorization", "")
    reads = c.extras.get("read_sessions", c.session_factory)  # only reads: no write lock on SQLite
    if header.startswith("Bearer "):
        with reads() as s:
            principal = token_principal(s, header[7:].strip(), c.clock.now())
        if principal is None:
            raise ApiError(401, "unauthorized", "令牌无效、已过期或已吊销，请向管理员申请新令牌"
                                                "（invalid, expired or revoked API token: ask for a new one）")
    elif current_user.is_authenticated:
        with reads() as s:
            user = s.get(User, current_user.id)
            if user is not None and user.active and (user.session_version or 0) == current_user.version:
                principal = load_principal(s, user)
    g.principal = principal
    return principal


def require_login() -> Principal:
    p = current_principal()
    if p is None:
        raise ApiError(401, "unauthorized", "请先登录（sign in first: POST /api/session）")
    if (request.method not in ("GET", "HEAD", "OPTIONS") and not p.via_token
            and not csrf_ok(request.headers.get("X-CSRF-Token", ""))):
        log.warning("CSRF token missing or wrong for %s %s by %s", request.method, request.path, p.username)
        raise ApiError(403, "csrf", "缺少或错误的 CSRF 令牌（send the X-CSRF-Token header from POST /api/session）")
    return p


def csrf_ok(sent: str) -> bool:
    if not sent:
        return False
    try:
        validate_csrf(sent)
    except ValidationError:
        return False
    return True


def roles_required(*roles: str):
    def deco(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            p = require_login()
            if not p.has_role(*roles):
                log.warning("refused %s %s to %s (needs %s)", request.method, request.path, p.username, roles)
                raise ApiError(403, "forbidden", f"此操作需要以下角色之一：{'、'.join(roles)}（forbidden for your roles）")
            return fn(*args, **kwargs)

        return wrapper

    return deco


def login_required(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        require_login()
        return fn(*args, **kwargs)

    return wrapper
