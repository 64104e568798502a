"""The key of the repeat index: petitioners' ID numbers and phones are kept there only as HMAC-SHA256 digests.

An unkeyed hash of a phone number is no protection: there are about 10^10 mobile numbers and 10^11 plausible ID
numbers (region, birth date, sequence, check digit), which a stolen database gives away by brute force in
minutes. With a key that lives outside the database, the digests are worthless without it.

The key is derived from the deployment's secret key (LIANXIN_SECRET_KEY, else the one generated into
var/secret_key, see web/settings.py) with a fixed label, so no second secret has to be kept. `key_id`, a short
fingerprint of the derived key (not the key), is stored with each digest. When the secret key changes, the
stored digests no longer match: the next repeat search notices digests of another key id (or none, from before
keying) and recomputes them from the case data (`services.registration.rekey`), so repeats are found again
without any command.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine import derived_keys

_LABEL = b"lianxin petitioner index v1"


@dataclass(frozen=True)
class IndexKey:
    secret: bytes

    @classmethod
    def from_secret_key(cls, secret_key: str) -> IndexKey:
        if not secret_key:
            raise ValueError("没有密钥，无法为查重索引加密（the deployment's secret key is empty）")
        return cls(derived_keys.derive(secret_key, _LABEL))

    @property
    def key_id(self) -> str:
        return derived_keys.fingerprint(self.secret)

    def digest(self, kind: str, value: str) -> str:
        return derived_keys.mac(self.secret, f"{kind}:{value}")

    def __repr__(self) -> str:  # never print the key
        return f"IndexKey(key_id={self.key_id})"
