"""Keys derived from the deployment's secret key, one per purpose, so that no second secret has to be kept.

`derive` gives the key for a purpose (an HMAC of a fixed label under the secret key); `fingerprint` is the
short id stored beside what a key made (the repeat index's digests, the journal's seals), so that a replaced
secret key is recognised. A fingerprint tells nothing about the key. The HMAC is the suite's (engine/crypto.py):
HMAC-SHA256 unless a suite is given.
"""
from __future__ import annotations

from .crypto import STD, Suite


def derive(secret_key: str, label: bytes, suite: Suite = STD) -> bytes:
    return suite.derive(secret_key, label)


def fingerprint(key: bytes, suite: Suite = STD) -> str:
    return suite.fingerprint(key)


def mac(key: bytes, text: str, suite: Suite = STD) -> str:
    """HMAC of `text` under `key`, as hex."""
    return suite.mac_hex(key, text)
