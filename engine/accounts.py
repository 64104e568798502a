"""Identity: units in a hierarchy, users, their roles in units, API tokens.

Generic enough for any BPMN engine (Camunda has its identity service); the petition office's organisation
is data loaded from YAML by `services.organisation`.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from .db import Base
from .store import ID, UTC_DT


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


def hash_password(password: str) -> str:
    """werkzeug's default (scrypt) unless LIANXIN_PASSWORD_HASH_METHOD names another; the test suite uses a
    cheap pbkdf2 so that signing in twenty users per scenario costs milliseconds, never production."""
    method = os.environ.get("LIANXIN_PASSWORD_HASH_METHOD")
    return generate_password_hash(password, method=method) if method else generate_password_hash(password)


def check_password(user: User, password: str) -> bool:
    return bool(user.active) and check_password_hash(user.password_hash, password)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(s: Session, user: User, label: str, now: datetime) -> str:
    """Returns the token once; only its hash is stored."""
    token = "lx_" + secrets.token_urlsafe(32)
    s.add(ApiToken(user_id=user.id, token_hash=_token_digest(token), label=label, created_at=now))
    return token


def user_for_token(s: Session, token: str) -> User | None:
    return s.scalar(select(User).join(ApiToken, ApiToken.user_id == User.id)
                    .where(ApiToken.token_hash == _token_digest(token), ApiToken.revoked.is_(False)))


def roles_of(s: Session, user: User) -> list[tuple[str, str, bool]]:
    return [(m.role, m.unit_code, m.include_subunits)
            for m in s.scalars(select(Membership).where(Membership.user_id == user.id))]
