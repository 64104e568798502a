"""Keys derived from the deployment's secret key, one per purpose, so that no second secret has to be kept.

`derive` gives the key for a purpose (HMAC-SHA256 of a fixed label under the secret key); `fingerprint` is the
short id stored beside what a key made (the repeat index's digests, the journal's seals), so that a replaced
secret key is recognised. A fingerprint tells nothing about the key.
"""
from __future__ import annotations

import hashlib
import hmac


def derive(secret_key: str, label: bytes) -> bytes:
    return hmac.new(secret_key.encode("utf-8"), label, hashlib.sha256).digest()


def fingerprint(key: bytes) -> str:
    return hmac.new(key, b"key id", hashlib.sha256).hexdigest()[:16]


def mac(key: bytes, text: str) -> str:
    """HMAC-SHA256 of `text` under `key`, as hex."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
