"""The password rules every account's new password must meet (the MLPS level-3 baseline, 等保三级):

- at least MIN_LENGTH characters (and at most MAX_LENGTH, so that hashing stays cheap to ask for);
- characters of at least three of the four classes: lower-case letters, upper-case letters, digits, others
  (punctuation, spaces, letters of other scripts);
- not the username, nor the username reversed, in any case.

Checked where a password is set (the API, the CLI); the demo accounts' password `demo` is loaded with the demo
data and never passes through here, which is why demo accounts sign in only in demo mode (web/auth.py).
"""
from __future__ import annotations

MIN_LENGTH = 8
MAX_LENGTH = 256
CLASSES_NEEDED = 3


class PasswordRuleError(ValueError):
    """A password that breaks a rule; `rule` names it (`length`, `classes`, `username`), `message` says it in
    Chinese with the English after it."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule, self.message = rule, message


def _classes(password: str) -> int:
    lower = any("a" <= ch <= "z" for ch in password)
    upper = any("A" <= ch <= "Z" for ch in password)
    digit = any("0" <= ch <= "9" for ch in password)
    other = any(not ("a" <= ch <= "z" or "A" <= ch <= "Z" or "0" <= ch <= "9") for ch in password)
    return lower + upper + digit + other


def check(password: str, username: str) -> None:
    """Raises PasswordRuleError naming the first rule `password` breaks."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise PasswordRuleError("length", f"密码长度应为 {MIN_LENGTH} 至 {MAX_LENGTH} 个字符"
                                          f"（the password needs {MIN_LENGTH} to {MAX_LENGTH} characters）")
    if _classes(password) < CLASSES_NEEDED:
        raise PasswordRuleError("classes", "密码须包含小写字母、大写字母、数字、其他符号四类中的至少三类"
                                           "（use at least three of: lower-case, upper-case, digits, symbols）")
    name = username.strip().casefold()
    if name and password.casefold() in (name, name[::-1]):
        raise PasswordRuleError("username", "密码不能与用户名相同（the password must not be the username）")
