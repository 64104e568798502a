"""The petitioner's query code (查询码): issued at registration, shown once (the registration receipt, the SMS
receipt), and kept only as a salted scrypt hash in the case data (`registration.query_code_hash`).

The code is made by whoever registers (the desk, the SMS intake) before the case starts, and only its hash goes
into the start data: so the code is never in the case data, the journal or the process's notices, and a copy of
the database does not give it away (scrypt with a random salt per case: each guess costs memory and time, and
there are 31^10 codes). It does not depend on the deployment's secret key, so changing that key leaves every
petitioner's code valid. Checked in constant time (`matches`).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read out over the phone
LENGTH = 10
START_FIELD = "query_code_hash"  # in the start data; the numbering step copies it into `registration`
_N, _R, _P = 2 ** 14, 8, 1


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def _scrypt(code: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(code.strip().upper().encode(), salt=salt, n=n, r=r, p=p, dklen=32)


def hash_code(code: str) -> str:
    """`scrypt$n$r$p$<salt hex>$<hash hex>`: the parameters travel with the hash, so they can be raised later."""
    salt = secrets.token_bytes(16)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${_scrypt(code, salt, _N, _R, _P).hex()}"


def matches(code: str, stored: str | None) -> bool:
    """Whether `code` (any case, surrounding spaces ignored) is the one `stored` was made from."""
    if not code or not stored:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = _scrypt(code, bytes.fromhex(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, bytes.fromhex(digest))


def issue() -> tuple[str, str]:
    """(the code to hand to the petitioner once, the hash to keep)."""
    code = new_code()
    return code, hash_code(code)


def stored_hash(data: dict) -> str | None:
    """The hash a case keeps (its numbering step's copy, else the start data's)."""
    registration = data.get("registration") or {}
    return registration.get(START_FIELD) or data.get(START_FIELD)


def case_matches(code: str, data: dict) -> bool:
    """Whether `code` opens this case: by its hash; a case registered before codes were hashed still has its
    code in the data as it was issued (case data is never rewritten), and is checked against that."""
    stored = stored_hash(data)
    if stored:
        return matches(code, stored)
    legacy = str((data.get("registration") or {}).get("query_code") or "")
    return bool(code and legacy) and hmac.compare_digest(code.strip().upper().encode(), legacy.encode())
