"""Case numbers (信访件编号) that do not tell how many cases an office registers.

A number is `XF{adcode6}{yyyymmdd}{channel2}{serial6}`. Numbers issued before this module had the case's internal
id modulo a million as serial, so two numbers a day apart told anyone holding them how many cases the whole
system had registered in between (petition volumes are not public). The serial is now five digits that are a
keyed permutation of the case id modulo 100,000, and a check digit (Luhn over all the number's digits, which
catches a mistyped digit and most swapped neighbours):

- unique: the permutation is a bijection, so two cases collide only if their ids differ by a multiple of 100,000
  and they were registered on the same day, at the same place, by the same channel, which no office comes near;
  no database round trip or retry is needed at numbering time;
- not revealing: without the key (derived from the deployment's secret key, engine/crypto.py) consecutive
  cases get unrelated serials;
- found again: `candidate_ids` inverts the permutation (the key is needed) and lists the ids a number can belong
  to; numbers of the old scheme still give their ids too, so every number issued stays valid. Callers compare
  the case's stored number before trusting a candidate.

If the secret key is replaced, numbers issued under the old key are still found when the old key is listed in
LIANXIN_PREVIOUS_SECRET_KEYS; a number never changes once issued.

The permutation's rounds are the HMAC of the deployment's suite (engine/crypto.py, LIANXIN_CRYPTO): HMAC-SHA256,
or HMAC-SM3 under `gm`, each with its own derived key. A number does not say which suite made it, so `keys_for`
gives the keys of every suite and a number is looked up under each: numbers issued before the suite was changed
are found as before.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from engine.crypto import STD, SUITES, Suite

_LABEL = b"lianxin case number v1"
MODULUS = 100_000  # the five permuted digits
OLD_MODULUS = 1_000_000  # the old serial: the id modulo a million
ROUNDS = 4
PATTERN = re.compile(r"XF(\d{6})(\d{8})(\d{2})(\d{6})")
PORT = "case_number_key"  # ctx.ports entry the composition root fills


@dataclass(frozen=True)
class NumberKey:
    """The permutation's key and the suite whose HMAC its rounds use."""

    secret: bytes
    suite: Suite = STD

    def __repr__(self) -> str:  # never print the key
        return f"NumberKey(suite={self.suite.name})"


def key_from_secret(secret_key: str, suite: Suite = STD) -> NumberKey:
    return NumberKey(suite.derive(secret_key, _LABEL), suite)


def keys_for(secret_key: str, previous: Iterable[str] = ()) -> list[NumberKey]:
    """The current key and those of the secret keys used before (to find numbers issued under them), each under
    every suite (to find numbers issued before LIANXIN_CRYPTO was changed)."""
    return [key_from_secret(k, suite) for k in (secret_key, *previous) if k for suite in SUITES.values()]


def _round(key: NumberKey, step: int, value: int, modulus: int) -> int:
    digest = key.suite.hmac(key.secret, f"{step}:{value}".encode())
    return int.from_bytes(digest[:8], "big") % modulus


def permute(n: int, key: NumberKey) -> int:
    """A bijection of 0..99,999: a Feistel network over its two high digits and three low digits."""
    high, low = divmod(n, 1000)
    for step in range(ROUNDS):
        high = (high + _round(key, 2 * step, low, 100)) % 100
        low = (low + _round(key, 2 * step + 1, high, 1000)) % 1000
    return high * 1000 + low


def unpermute(n: int, key: NumberKey) -> int:
    high, low = divmod(n, 1000)
    for step in reversed(range(ROUNDS)):
        low = (low - _round(key, 2 * step + 1, high, 1000)) % 1000
        high = (high - _round(key, 2 * step, low, 100)) % 100
    return high * 1000 + low


def luhn_digit(digits: str) -> str:
    """The digit that makes `digits` + it pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def luhn_ok(digits: str) -> bool:
    return luhn_digit(digits[:-1]) == digits[-1]


def serial(prefix_digits: str, case_id: int, key: NumberKey) -> str:
    """The six-digit serial of the case with `case_id`, for a number whose other digits are `prefix_digits`."""
    body = f"{permute(case_id % MODULUS, key):05d}"
    return body + luhn_digit(prefix_digits + body)


def candidate_ids(case_no: str, keys: Iterable[NumberKey], highest_id: int) -> list[int]:
    """The case ids (up to `highest_id`) a case number may belong to, under the current scheme with each key and
    under the old one; empty for anything that is not a case number. The caller checks the stored number."""
    m = PATTERN.fullmatch(case_no)
    if not m:
        return []
    digits = case_no[2:]
    seq = m.group(4)
    ids = list(range(int(seq) or OLD_MODULUS, highest_id + 1, OLD_MODULUS))
    if luhn_ok(digits):
        for key in keys:
            base = unpermute(int(seq[:5]), key)
            ids += [i for i in range(base, highest_id + 1, MODULUS) if i > 0]
    return sorted(set(ids))
