"""The second factor of privileged accounts: a TOTP authenticator (RFC 6238, 30-second codes of 6 digits) and
ten one-time recovery codes.

The TOTP secret has to be read back to check a code, so it cannot be hashed: it is stored encrypted with
AES-256-GCM under a key derived from the deployment's secret key (`engine.crypto`'s SHA-256 suite, label below), the user id as
associated data (a secret copied onto another account's row does not open), with the key's fingerprint beside
it. Secret keys listed as previous still open secrets stored under them. Someone who reads the database but not
the secret key learns no secret. Recovery codes are random (80 bits) and stored as SHA-256 digests only; each
opens once. A TOTP code is accepted once too: the time step of the last accepted code is kept, and a code of
that step or an earlier one is refused (no replay of an overheard code within its 90 seconds).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from datetime import datetime

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import ForeignKey, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.crypto import STD
from engine.db import Base
from engine.store import ID, UTC_DT

ISSUER = "连心 Lianxin"
RECOVERY_CODES = 10
KEY_LABEL = b"lianxin second factor secrets v1"
STEP_SECONDS = 30
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes are read off paper


class SecondFactor(Base):
    __tablename__ = "second_factor"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    secret_box: Mapped[str | None] = mapped_column(String(255), nullable=True)  # confirmed secret, encrypted
    pending_box: Mapped[str | None] = mapped_column(String(255), nullable=True)  # awaiting its first code
    key_id: Mapped[str] = mapped_column(String(16))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)
    last_step: Mapped[int] = mapped_column(Integer, default=0)


class RecoveryCode(Base):
    __tablename__ = "recovery_code"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)


class SecretBox:
    """Encrypts and opens TOTP secrets with keys derived from the current and the previous secret keys."""

    def __init__(self, secret_key: str, previous: Iterable[str] = ()):
        keys = [STD.derive(k, KEY_LABEL) for k in (secret_key, *previous) if k]
        self._keys = {STD.fingerprint(k): k for k in reversed(keys)}
        self.key_id = STD.fingerprint(keys[0])

    def seal(self, user_id: int, secret: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self._keys[self.key_id]).encrypt(nonce, secret.encode("ascii"), _aad(user_id))
        return base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, user_id: int, box: str, key_id: str) -> str | None:
        key = self._keys.get(key_id)
        if key is None:
            return None
        raw = base64.b64decode(box)
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], _aad(user_id)).decode("ascii")
        except InvalidTag:
            return None

    def __repr__(self) -> str:  # never print a key
        return f"SecretBox(key_id={self.key_id})"


def _aad(user_id: int) -> bytes:
    return f"second factor of user {user_id}".encode("ascii")


def _digest(code: str) -> str:
    return hashlib.sha256(normal_code(code).encode("ascii", "ignore")).hexdigest()


def normal_code(code: str) -> str:
    """Spaces and dashes dropped, letters folded: `abcd-EFGH ...` and `abcdefgh...` are the same code."""
    return "".join(ch for ch in code.strip().casefold() if ch not in " -")


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads (from a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def enrolled(s: Session, user_id: int) -> bool:
    row = s.get(SecondFactor, user_id)
    return row is not None and row.secret_box is not None


def begin(s: Session, user_id: int, box: SecretBox) -> str:
    """A new secret awaiting its first code; a confirmed one stays in force until the new one is confirmed."""
    secret = pyotp.random_base32()
    row = s.get(SecondFactor, user_id)
    if row is None:
        row = SecondFactor(user_id=user_id, key_id=box.key_id, last_step=0)
        s.add(row)
    elif row.secret_box is not None and row.key_id != box.key_id:
        current = box.open(user_id, row.secret_box, row.key_id)
        row.secret_box = box.seal(user_id, current) if current else None
    row.key_id = box.key_id
    row.pending_box = box.seal(user_id, secret)
    return secret


def confirm(s: Session, user_id: int, code: str, box: SecretBox, now: datetime) -> list[str] | None:
    """The pending secret becomes the user's when `code` is its code now: returns ten new recovery codes (the
    old ones stop working), or None when the code is wrong or nothing is pending."""
    row = s.get(SecondFactor, user_id)
    if row is None or row.pending_box is None:
        return None
    secret = box.open(user_id, row.pending_box, row.key_id)
    step = _matching_step(secret, code, now, after=0) if secret else None
    if step is None:
        return None
    row.secret_box, row.pending_box, row.confirmed_at, row.last_step = row.pending_box, None, now, step
    return new_recovery_codes(s, user_id)


def enrol_now(s: Session, user_id: int, box: SecretBox, now: datetime) -> tuple[str, list[str]]:
    """Enrolment by the operator (CLI): a confirmed secret and recovery codes at once, handed to the user."""
    secret = pyotp.random_base32()
    row = s.get(SecondFactor, user_id)
    if row is None:
        row = SecondFactor(user_id=user_id)
        s.add(row)
    row.key_id, row.secret_box, row.pending_box = box.key_id, box.seal(user_id, secret), None
    row.confirmed_at, row.last_step = now, 0
    return secret, new_recovery_codes(s, user_id)


def new_recovery_codes(s: Session, user_id: int) -> list[str]:
    s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = ["-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))
             for _ in range(RECOVERY_CODES)]
    for code in codes:
        s.add(RecoveryCode(user_id=user_id, code_hash=_digest(code)))
    return codes


def verify(s: Session, user_id: int, code: str, box: SecretBox, now: datetime) -> str | None:
    """`totp` or `recovery` when `code` opens the user's second factor now (and uses it up), else None."""
    row = s.get(SecondFactor, user_id, with_for_update=True)
    if row is None or row.secret_box is None or not code:
        return None
    normal = normal_code(code)
    if normal.isdigit():
        secret = box.open(user_id, row.secret_box, row.key_id)
        step = _matching_step(secret, normal, now, after=row.last_step) if secret else None
        if step is None:
            return None
        row.last_step = step
        return "totp"
    digest = _digest(normal)
    for rc in s.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id,
                                                   RecoveryCode.used_at.is_(None)).with_for_update()):
        if hmac.compare_digest(rc.code_hash, digest):
            rc.used_at = now
            return "recovery"
    return None


def recovery_codes_left(s: Session, user_id: int) -> int:
    return len(s.scalars(select(RecoveryCode.id).where(RecoveryCode.user_id == user_id,
                                                       RecoveryCode.used_at.is_(None))).all())


def _matching_step(secret: str, code: str, now: datetime, *, after: int) -> int | None:
    """The time step (now, or one either side for clock drift) whose code is `code`, if later than `after`."""
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    for offset in (0, -1, 1):
        at = now.timestamp() + offset * STEP_SECONDS
        step = int(at // STEP_SECONDS)
        if step > after and hmac.compare_digest(totp.at(int(at)), code):
            return step
    return None


def reset(s: Session, user_id: int) -> bool:
    """Removes the user's second factor and recovery codes (an administrator's reset); True if there was one."""
    row = s.get(SecondFactor, user_id)
    s.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    if row is None:
        return False
    s.delete(row)
    return True
