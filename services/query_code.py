"""The petitioner's query code (查询码): issued at registration, shown once (the registration receipt, the SMS
receipt), and kept only as a keyed hash in the case data (`registration.query_code_hash`).

The code is made by whoever registers (the desk, the SMS intake) before the case starts, and only its hash goes
into the start data: so the code is never in the case data, the journal or the process's notices. Checked in
constant time (`matches`).

New codes are kept as `hmac-sha256$<key id>$<digest>`: HMAC-SHA256 under the repeat index's key, which is derived
from the deployment's secret key (services/index_key.py) and is not in the database. A copy of the database
therefore does not give the code away: without the key no guess can be checked at all, and the code is random
(31^10, about 2^49.5 codes), not a password a person chose, so there is no dictionary to try either. A slow
salted hash (scrypt, as codes were kept before) only buys something when the attacker can test guesses offline,
which the key prevents; it cost about 45 ms of CPU on every registration. What the key adds as a condition: if
the deployment's secret key changes, codes issued under the old key no longer open their cases (the key id in
the stored hash says which key made it; the petitioner asks the office for a new code). Hashes of the older
scheme, `scrypt$n$r$p$<salt>$<hash>`, still verify, with or without a key.

The HMAC follows the deployment's suite (engine/crypto.py, LIANXIN_CRYPTO): under `gm` new codes are kept as
`hmac-sm3$<key id>$<digest>`. A code cannot be recomputed (only its digest is kept), so the prefix records the
suite it was issued under and the code is checked with that suite's key: a code issued before the suite was
changed still opens its case. The public query computes the candidate digest under the current suite whether or
not the case exists; only a case whose code was issued under the other suite costs one more HMAC (microseconds,
well under the public query's minimum answer time, LIANXIN_QUERY_MIN_MS), so the work done still does not tell
which numbers exist.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

from engine.crypto import by_mac_scheme

from .index_key import IndexKey

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read out over the phone
LENGTH = 10
START_FIELD = "query_code_hash"  # in the start data; the numbering step copies it into `registration`
HMAC_SCHEME = "hmac-sha256"  # the prefix of codes issued under the `std` suite (`gm`: "hmac-sm3")
_N, _R, _P = 2 ** 14, 8, 1  # the scrypt parameters codes were hashed with before HMAC_SCHEME


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def _normal(code: str) -> str:
    """Typed in full-width (a Chinese input method's default) or lower case, a code is still the same code."""
    return unicodedata.normalize("NFKC", code).strip().upper()


def _scrypt(code: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(_normal(code).encode(), salt=salt, n=n, r=r, p=p, dklen=32)


def hash_code(code: str, key: IndexKey) -> str:
    """`hmac-sha256$<key id>$<digest hex>` (`hmac-sm3$…` under `gm`), keyed with the deployment's derived key
    (see the module's text)."""
    return f"{key.suite.mac_scheme}${key.key_id}${key.digest('query_code', _normal(code))}"


def _key_for(stored_kind: str, key: IndexKey | None) -> IndexKey | None:
    """The key of the suite a stored keyed hash was made under, None when it is no keyed hash or not held."""
    suite = by_mac_scheme(stored_kind)
    return key.under(suite) if suite is not None and key is not None else None


def scrypt_hash(code: str) -> str:
    """`scrypt$n$r$p$<salt hex>$<hash hex>`: the older scheme, kept so such hashes can be made in tests."""
    salt = secrets.token_bytes(16)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${_scrypt(code, salt, _N, _R, _P).hex()}"


def matches(code: str, stored: str | None, key: IndexKey | None = None) -> bool:
    """Whether `code` (any case, surrounding spaces ignored) is the one `stored` was made from. Keyed hashes need
    the key they were made with; scrypt hashes need none."""
    if not code or not stored:
        return False
    try:
        kind, _, rest = stored.partition("$")
        if by_mac_scheme(kind) is not None:
            key_id, digest = rest.split("$")
            made_with = _key_for(kind, key)
            if made_with is None or not hmac.compare_digest(key_id, made_with.key_id):
                return False
            return hmac.compare_digest(made_with.digest("query_code", _normal(code)), digest)
        if kind != "scrypt":
            return False
        n, r, p, salt, digest = rest.split("$")
        got = _scrypt(code, bytes.fromhex(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, bytes.fromhex(digest))


def issue(key: IndexKey) -> tuple[str, str]:
    """(the code to hand to the petitioner once, the hash to keep)."""
    code = new_code()
    return code, hash_code(code, key)


def stored_hash(data: dict) -> str | None:
    """The hash a case keeps (its numbering step's copy, else the start data's)."""
    registration = data.get("registration") or {}
    return registration.get(START_FIELD) or data.get(START_FIELD)


def case_matches(code: str, data: dict, key: IndexKey | None = None) -> bool:
    """Whether `code` opens this case: by its hash; a case registered before codes were hashed still has its
    code in the data as it was issued (case data is never rewritten), and is checked against that."""
    stored = stored_hash(data)
    if stored:
        return matches(code, stored, key)
    legacy = str((data.get("registration") or {}).get("query_code") or "")
    return bool(code and legacy) and hmac.compare_digest(_normal(code).encode(), legacy.encode())


_DECOY = "0" * 64


def check(code: str, data: dict | None, key: IndexKey) -> bool:
    """Whether `code` opens the case whose data is `data`, with the same keyed digest computed whether or not
    there is a case (`data` None: an unknown case number), so that the work done does not tell which numbers
    exist. Cases keeping an older kind of hash are checked as `case_matches` does."""
    candidate = key.digest("query_code", _normal(code))
    if data is None:
        hmac.compare_digest(candidate, _DECOY)
        return False
    stored = stored_hash(data) or ""
    kind, _, rest = stored.partition("$")
    made_with = _key_for(kind, key)
    if made_with is None:
        return case_matches(code, data, key)
    if made_with is not key:  # issued under the other suite: one more HMAC, microseconds under the answer floor
        candidate = made_with.digest("query_code", _normal(code))
    key_id, _, digest = rest.partition("$")
    same_key = hmac.compare_digest(key_id, made_with.key_id)
    return bool(code) and same_key and hmac.compare_digest(candidate, digest)
