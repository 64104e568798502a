"""The cryptographic suite: which hash and which HMAC the journal, its seals, query codes and keyed digests use.

Two suites, chosen for new data with LIANXIN_CRYPTO:

- `std` (the default, what Lianxin always used): SHA-256 and HMAC-SHA256;
- `gm` (国密): SM3 (GB/T 32905-2016) and HMAC-SM3, what an office asks for when its system is assessed under
  GB/T 39786-2021 (密评).

A suite is chosen for what is made from now on; nothing made before is recomputed or stranded, because each thing
stored names the algorithm it was made with: a journal event its `hash_alg` ("sha256" or "sm3"), a seal and a
keyed digest the fingerprint of the key that made it (keys are derived per suite, so the fingerprints differ),
a query code its scheme prefix (`hmac-sha256$` or `hmac-sm3$`). Verification and look-ups read that and use the
suite it names.

SM3 comes from `cryptography` (the OpenSSL it ships), never written by hand here; SHA-256 from the standard
library. Both give 32 bytes, so hashes keep their 64 hex characters and the columns they live in.
"""
from __future__ import annotations

import hashlib
import hmac as std_hmac
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac as crypto_hmac

SETTING = "LIANXIN_CRYPTO"


@dataclass(frozen=True)
class Suite:
    name: str  # the value of LIANXIN_CRYPTO
    hash_alg: str  # what a journal event records: "sha256" or "sm3"
    label: str  # for people: "SHA-256 / HMAC-SHA256"

    @property
    def mac_scheme(self) -> str:
        """The prefix of a stored keyed hash made with this suite (a query code's `hmac-sha256$…`)."""
        return f"hmac-{self.hash_alg}"

    def hash_hex(self, data: bytes) -> str:
        if self.hash_alg == "sha256":
            return hashlib.sha256(data).hexdigest()
        digest = hashes.Hash(hashes.SM3())
        digest.update(data)
        return digest.finalize().hex()

    def hmac(self, key: bytes, message: bytes) -> bytes:
        if self.hash_alg == "sha256":
            return std_hmac.new(key, message, hashlib.sha256).digest()
        mac = crypto_hmac.HMAC(key, hashes.SM3())
        mac.update(message)
        return mac.finalize()

    def mac_hex(self, key: bytes, text: str) -> str:
        """HMAC of `text` (UTF-8) under `key`, as hex."""
        return self.hmac(key, text.encode("utf-8")).hex()

    def derive(self, secret_key: str, label: bytes) -> bytes:
        """The key for one purpose (`label`), derived from the deployment's secret key with this suite's HMAC."""
        return self.hmac(secret_key.encode("utf-8"), label)

    def fingerprint(self, key: bytes) -> str:
        """The short id stored beside what a key made; tells nothing about the key."""
        return self.hmac(key, b"key id").hex()[:16]


STD = Suite("std", "sha256", "SHA-256 / HMAC-SHA256")
GM = Suite("gm", "sm3", "SM3 / HMAC-SM3")
SUITES = {s.name: s for s in (STD, GM)}
_BY_HASH_ALG = {s.hash_alg: s for s in SUITES.values()}
_BY_MAC_SCHEME = {s.mac_scheme: s for s in SUITES.values()}


def suite(name: str) -> Suite:
    """The suite a setting names; any other value is refused, naming the allowed ones."""
    found = SUITES.get(name)
    if found is None:
        allowed = ", ".join(f"{s.name} ({s.label})" for s in SUITES.values())
        raise ValueError(f"{SETTING} must be one of {allowed}, not {name!r}")
    return found


def by_hash_alg(hash_alg: str | None) -> Suite:
    """The suite of a journal event's recorded algorithm (events from before it was recorded: SHA-256)."""
    found = _BY_HASH_ALG.get(hash_alg or STD.hash_alg)
    if found is None:
        raise ValueError(f"unknown hash algorithm {hash_alg!r}")
    return found


def by_mac_scheme(scheme: str) -> Suite | None:
    """The suite of a stored keyed hash's prefix (`hmac-sm3`), None for a prefix of no suite."""
    return _BY_MAC_SCHEME.get(scheme)
