"""The password rules of the MLPS level-3 baseline (infra/password_rules.py): each refusal names its rule."""
from __future__ import annotations

import pytest

from infra.password_rules import PasswordRuleError, check


@pytest.mark.parametrize(("password", "username", "rule"), [
    ("Ab1-xyz", "clerk", "length"),  # 7 characters
    ("x" * 257, "clerk", "length"),
    ("abcdefgh", "clerk", "classes"),  # one class
    ("abcdefgh12", "clerk", "classes"),  # two classes
    ("ABCDEFGH-", "clerk", "classes"),
    ("Wang.Xiao1", "wang.xiao1", "username"),  # the username in another case
    ("1oaix.gnaW", "wang.xiao1", "username"),  # reversed
])
def test_a_password_breaking_a_rule_is_refused_naming_it(password, username, rule):
    with pytest.raises(PasswordRuleError) as err:
        check(password, username)
    assert err.value.rule == rule and err.value.message


@pytest.mark.parametrize("password", ["Xin-Fang-2026", "abcdEFGH1", "abcd1234-", "信访办理abc12", "PASS word 9"])
def test_three_classes_of_eight_characters_pass(password):
    check(password, "clerk")
