"""Accounts for tests of signing in: real (non-demo) users with strong passwords, a second factor enrolled as the
operator's CLI does, and the code an authenticator would show at the container's clock."""
from __future__ import annotations

import pyotp

from infra import second_factor
from infra.accounts import Membership, User, hash_password

STRONG = "Xin-Fang-2026"


def add_user(c, username: str, role: str, unit: str = "city", password: str = STRONG) -> int:
    with c.session_factory() as s, s.begin():
        user = User(username=username, display_name=username, password_hash=hash_password(password), active=True)
        s.add(user)
        s.flush()
        s.add(Membership(user_id=user.id, unit_code=unit, role=role, include_subunits=True))
        return user.id


def enrol(c, username: str) -> tuple[str, list[str]]:
    """The secret and recovery codes, as `lianxin user enrol-totp` hands them out."""
    box = second_factor.SecretBox(c.settings.secret_key, c.settings.previous_secret_keys)
    with c.session_factory() as s, s.begin():
        user_id = s.query(User.id).filter(User.username == username).scalar()
        return second_factor.enrol_now(s, user_id, box, c.clock.now())


def code(c, secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(int(c.clock.now().timestamp()) + 30 * steps_ahead)
