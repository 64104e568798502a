"""Case numbers that do not reveal volumes (services/case_numbers.py): the serial is a keyed permutation of the
case id with a check digit; numbers of the old scheme (the id modulo a million) still lead to their cases."""
from __future__ import annotations

import itertools

from services import case_numbers as numbering

KEY = numbering.key_from_secret("test-secret")
PREFIX = "4101212026030201"  # adcode, date, channel


def test_the_permutation_is_a_bijection_and_inverts():
    images = {numbering.permute(n, KEY) for n in range(numbering.MODULUS)}
    assert images == set(range(numbering.MODULUS))
    for n in (0, 1, 2, 12345, 99_999):
        assert numbering.unpermute(numbering.permute(n, KEY), KEY) == n


def test_consecutive_cases_get_unrelated_serials_and_another_key_others():
    serials = [numbering.serial(PREFIX, case_id, KEY) for case_id in range(1, 6)]
    assert len(set(serials)) == 5
    gaps = {int(b[:5]) - int(a[:5]) for a, b in itertools.pairwise(serials)}
    assert gaps != {1}  # not a counter
    other = numbering.key_from_secret("another deployment")
    assert [numbering.serial(PREFIX, i, other) for i in range(1, 6)] != serials


def test_the_check_digit_catches_a_mistyped_digit():
    number = "XF" + PREFIX + numbering.serial(PREFIX, 42, KEY)
    digits = number[2:]
    assert numbering.luhn_ok(digits)
    for i in range(len(digits)):
        typo = digits[:i] + str((int(digits[i]) + 1) % 10) + digits[i + 1:]
        assert not numbering.luhn_ok(typo)
    typo = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    assert numbering.candidate_ids("XF" + typo, [KEY], 999_999) == [int(typo[-6:])]  # only the old reading


def test_candidates_include_the_case_under_the_new_and_the_old_scheme():
    new = "XF" + PREFIX + numbering.serial(PREFIX, 250_042, KEY)
    assert 250_042 in numbering.candidate_ids(new, [KEY], 300_000)
    assert 250_042 not in numbering.candidate_ids(new, [KEY], 250_041)  # no ids beyond the highest
    rotated = numbering.keys_for("new secret", ["test-secret"])  # numbers made under a previous key
    assert 250_042 in numbering.candidate_ids(new, rotated, 300_000)
    old = "XF" + PREFIX + f"{1_000_007 % 1_000_000:06d}"  # issued before: the id modulo a million
    assert {7, 1_000_007} <= set(numbering.candidate_ids(old, [KEY], 2_000_000))
    assert numbering.candidate_ids("XF12", [KEY], 10) == [] and numbering.candidate_ids("", [KEY], 10) == []
