"""The key of the repeat index: petitioners' ID numbers and phones are kept there only as keyed digests (HMAC).

An unkeyed hash of a phone number is no protection: there are about 10^10 mobile numbers and 10^11 plausible ID
numbers (region, birth date, sequence, check digit), which a stolen database gives away by brute force in
minutes. With a key that lives outside the database, the digests are worthless without it.

The key is derived from the deployment's secret key (LIANXIN_SECRET_KEY, else the one generated into
var/secret_key, see web/settings.py) with a fixed label, so no second secret has to be kept. `key_id`, a short
fingerprint of the derived key (not the key), is stored with each digest. When the secret key changes, the
stored digests no longer match: the next repeat search notices digests of another key id (or none, from before
keying) and recomputes them from the case data (`services.registration.rekey`), so repeats are found again
without any command.

The HMAC is the deployment's suite's (engine/crypto.py, LIANXIN_CRYPTO): HMAC-SHA256, or HMAC-SM3 under `gm`.
Each suite derives its own key, so its key id differs too: after the suite is changed the next repeat search
finds the digests of the other suite's key id and recomputes them, exactly as after a new secret key. `others`
holds the same secret key's keys under the other suites, for what cannot be recomputed: a query code is kept
only as a digest, so one issued under the other suite is checked with that suite's key (services/query_code.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.crypto import STD, SUITES, Suite

_LABEL = b"lianxin petitioner index v1"


@dataclass(frozen=True)
class IndexKey:
    secret: bytes
    suite: Suite = STD
    others: tuple[IndexKey, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def from_secret_key(cls, secret_key: str, suite: Suite = STD) -> IndexKey:
        if not secret_key:
            raise ValueError("没有密钥，无法为查重索引加密（the deployment's secret key is empty）")
        others = tuple(cls(s.derive(secret_key, _LABEL), s) for s in SUITES.values() if s != suite)
        return cls(suite.derive(secret_key, _LABEL), suite, others)

    @property
    def key_id(self) -> str:
        return self.suite.fingerprint(self.secret)

    def digest(self, kind: str, value: str) -> str:
        return self.suite.mac_hex(self.secret, f"{kind}:{value}")

    def every_suite(self) -> tuple[IndexKey, ...]:
        """This key first, then the same secret key's keys under the other suites."""
        return (self, *self.others)

    def under(self, suite: Suite) -> IndexKey | None:
        """The same secret key's key under `suite` (None: not known, a key made without `from_secret_key`)."""
        return next((k for k in self.every_suite() if k.suite == suite), None)

    def __repr__(self) -> str:  # never print the key
        return f"IndexKey(key_id={self.key_id}, suite={self.suite.name})"
