"""Identity: units in a hierarchy, users, their roles in units, API tokens.

Generic enough for any BPMN engine (Camunda has its identity service); the petition office's organisation
is data loaded from YAML by `services.organisation`.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from engine.db import Base
from engine.store import ID, UTC_DT


class Unit(Base):
    __tablename__ = "unit"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))  # province, city, county, department, petition_office, ...
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("unit.code"), nullable=True, index=True)
    adcode: Mapped[str | None] = mapped_column(String(12), nullable=True)


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Part of every session cookie (and remember cookie) the user holds; raised by signing out and by a password
    # change, so that every cookie issued before is refused on its next request.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A demo account (loaded by `lianxin init --demo`, password `demo`): signs in only in demo mode (LIANXIN_DEMO),
    # and there without a second factor (web/auth.py).
    demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("user_id", "unit_code", "role"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("unit.code"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    include_subunits: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTC_DT)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)  # NULL: made before 0011


def hash_password(password: str) -> str:
    """werkzeug's default (scrypt) unless LIANXIN_PASSWORD_HASH_METHOD names another; the test suite uses a
    cheap pbkdf2 so that signing in twenty users per scenario costs milliseconds, never production."""
    method = os.environ.get("LIANXIN_PASSWORD_HASH_METHOD")
    return generate_password_hash(password, method=method) if method else generate_password_hash(password)


_dummy_hashes: dict[str, str] = {}


def dummy_password_hash() -> str:
    """A hash of a random password made with the method new passwords get, once per process and method: checked
    when no such user exists, so that an unknown username costs the same hash as a known one."""
    method = os.environ.get("LIANXIN_PASSWORD_HASH_METHOD") or ""
    if method not in _dummy_hashes:
        _dummy_hashes[method] = hash_password(secrets.token_urlsafe(24))
    return _dummy_hashes[method]


def check_password(user: User | None, password: str) -> bool:
    """Always runs one password hash: against the user's, or against a dummy when there is no user. An inactive
    user's password is checked too (and then refused), so neither shows in the time taken."""
    if user is None:
        check_password_hash(dummy_password_hash(), password)
        return False
    matches = check_password_hash(user.password_hash, password)
    return bool(user.active) and matches


def set_password(user: User, password: str) -> None:
    """A new password ends every session the user holds (their cookies carry the old session version)."""
    user.password_hash = hash_password(password)
    end_sessions(user)


def end_sessions(user: User) -> None:
    user.session_version = (user.session_version or 0) + 1


DEFAULT_TOKEN_DAYS = 90


def token_digest(token: str) -> str:
    """What a token is stored and looked up as (only its hash is kept)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(s: Session, user: User, label: str, now: datetime, days: int = DEFAULT_TOKEN_DAYS) -> str:
    """Returns the token once; only its hash is stored. It stops working `days` after `now`."""
    token = "lx_" + secrets.token_urlsafe(32)
    s.add(ApiToken(user_id=user.id, token_hash=token_digest(token), label=label, created_at=now,
                   expires_at=now + timedelta(days=days)))
    return token


def token_expiry(token) -> datetime:
    """When a token (an `ApiToken`, or a row with its created_at and expires_at) stops working. The migration gave every existing token an expiry; a row without one (written by hand) runs out
    DEFAULT_TOKEN_DAYS after it was made."""
    return token.expires_at or token.created_at + timedelta(days=DEFAULT_TOKEN_DAYS)


def _unrevoked(digest) -> tuple:
    """The conditions on `ApiToken` of a token that exists and is not revoked. `digest`: the token's
    `token_digest`, or a bind parameter that stands for it (a statement built once)."""
    return ApiToken.token_hash == digest, ApiToken.revoked.is_(False)


def token_holder_query(digest):
    """The holder of a token that exists and is not revoked, without ORM objects: the holder's id, username,
    display name and active flag, and the token's created_at and expires_at (see `token_live`); `digest` as for
    `_unrevoked`."""
    return (select(User.id, User.username, User.display_name, User.active, ApiToken.created_at, ApiToken.expires_at)
            .join(ApiToken, ApiToken.user_id == User.id).where(*_unrevoked(digest)))


def token_holder_id(digest):
    """The id of the holder of a token that exists and is not revoked (a scalar subquery)."""
    return select(ApiToken.user_id).where(*_unrevoked(digest)).scalar_subquery()


def token_live(row, now: datetime) -> bool:
    """Whether a row of `token_holder_query` is a token that has not expired at `now`."""
    return token_expiry(row) > now


def tokens_of(s: Session, user: User) -> list[ApiToken]:
    return list(s.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def revoke_token(s: Session, token_id: int) -> ApiToken | None:
    row = s.get(ApiToken, token_id)
    if row is not None:
        row.revoked = True
    return row


def roles_of(s: Session, user: User) -> list[tuple[str, str, bool]]:
    return [(m.role, m.unit_code, m.include_subunits)
            for m in s.scalars(select(Membership).where(Membership.user_id == user.id))]


class MembershipDirectory:
    """The handlers' read-only view of who holds a role in a unit (the engine's port "directory", see
    `engine.ports.Directory`): for notices addressed to an office, resolved to the users holding that role there
    or in an ancestor unit with `include_subunits`. Built per command on the command's session
    (`Runtime(directory=MembershipDirectory)`)."""

    def __init__(self, session: Session):
        self._session = session

    def users(self, unit: str, role: str) -> list[str]:
        s, above, code, seen = self._session, [], unit, set()
        while code and code not in seen:
            seen.add(code)
            above.append(code)
            row = s.get(Unit, code)
            code = row.parent_code if row is not None else None
        rows = s.execute(select(User.username, Membership.unit_code, Membership.include_subunits)
                         .join(Membership, Membership.user_id == User.id)
                         .where(Membership.role == role, Membership.unit_code.in_(above), User.active.is_(True)))
        return sorted({name for name, at, sub in rows if at == unit or sub})
