"""Suggested Python for a condition written in another tool's language (JUEL `${...}`/`#{...}`, simple FEEL
including Camunda 8's `= ...`, and XPath's `bpmn:getDataObject('x')` as the standard's examples write it).

Lianxin evaluates conditions as Python in its sandbox, so a foreign model's `${amount > 1000}` or
`status = "open"` is refused at deploy like any other non-Python condition. This module only helps with the
message: for a simple condition (comparisons, and/or/not, string and number literals, true/false/null, dotted
names, read as keys of the case data) it returns the Python text a designer would write; for anything else (function calls, method calls,
FEEL ranges, lists, arithmetic ...) it returns None rather than guess. It never evaluates anything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_JUEL = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.DOTALL)
_ZEEBE_FEEL = re.compile(r"^\s*=(?!=)(.*)$", re.DOTALL)  # Camunda 8 marks a FEEL expression with a leading "="
# BPMN's own XPath functions, as the standard's examples and Signavio write them: the data object is a variable.
_XPATH_DATA = re.compile(r"bpmn:getDataObject\(\s*'([A-Za-z_]\w*)'\s*\)")
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>=!()])
  | (?P<name>[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*(?:\.[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*)*)
""", re.VERBOSE)
# Words of JUEL and FEEL and their Python spelling. JUEL's `eq`, `ne`, `lt` ... are operators too.
_WORDS = {"and": "and", "or": "or", "not": "not", "true": "True", "false": "False", "null": "None",
          "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">="}
_COMPARISONS = {"==", "!=", "<", ">", "<=", ">="}
MAX_TEXT = 500


@dataclass
class _Token:
    kind: str
    text: str


class _GiveUp(Exception):
    pass


def foreign_language(text: str) -> str | None:
    """"JUEL", "FEEL" or "XPath" when the text is recognisably written in it, else None (Python or unknown)."""
    if _JUEL.match(text or ""):
        return "JUEL"
    stripped = (text or "").strip()
    if "bpmn:get" in stripped:
        return "XPath"
    if _ZEEBE_FEEL.match(stripped):
        return "FEEL"
    if re.search(r"(?<![=!<>])=(?!=)", stripped) and not re.search(r"\b(lambda|def|import)\b", stripped):
        return "FEEL"  # a single `=` is FEEL's equality; in a Python condition it is a syntax error
    if re.match(r"^not\s*\(", stripped) or re.search(r"\b(true|false|null)\b", stripped):
        return "FEEL"
    return None


def suggest_python(text: str) -> str | None:
    """The Python translation of a simple JUEL or FEEL condition, or None when it is not simple enough."""
    if not text or len(text) > MAX_TEXT:
        return None
    juel = _JUEL.match(text)
    zeebe = _ZEEBE_FEEL.match(text)
    body = juel.group(1) if juel else zeebe.group(1) if zeebe else text
    body = _XPATH_DATA.sub(lambda m: m.group(1), body)
    try:
        tokens = _tokenize(body)
        if not tokens:
            return None
        parser = _Parser(tokens, juel=bool(juel))
        out = parser.disjunction()
        if parser.pos != len(tokens):
            return None
        return out
    except _GiveUp:
        return None


def _tokenize(text: str) -> list[_Token]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _GiveUp()
        pos = m.end()
        kind = m.lastgroup
        if kind == "space":
            continue
        value = m.group(kind)
        if kind == "name" and value in _WORDS:
            mapped = _WORDS[value]
            kind = "op" if mapped in _COMPARISONS else "word"
            value = mapped
        tokens.append(_Token(kind, value))
    return tokens


class _Parser:
    """Recursive descent over: or-expr := and-expr (or and-expr)*; and-expr := not-expr (and not-expr)*;
    not-expr := not not-expr | comparison; comparison := operand (op operand)?; operand := literal | name | (...)."""

    def __init__(self, tokens: list[_Token], juel: bool):
        self.tokens, self.pos, self.juel = tokens, 0, juel

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise _GiveUp()
        self.pos += 1
        return token

    def accept(self, *texts: str) -> bool:
        token = self.peek()
        if token is not None and token.text in texts and token.kind in ("op", "word"):
            self.pos += 1
            return True
        return False

    def disjunction(self) -> str:
        parts = [self.conjunction()]
        while self.accept("or", "||"):
            parts.append(self.conjunction())
        return " or ".join(parts)

    def conjunction(self) -> str:
        parts = [self.negation()]
        while self.accept("and", "&&"):
            parts.append(self.negation())
        return " and ".join(parts)

    def negation(self) -> str:
        if self.accept("not", "!"):
            inner = self.negation()
            return f"not {inner}"
        return self.comparison()

    def comparison(self) -> str:
        left = self.operand()
        token = self.peek()
        if token is not None and token.kind == "op" and token.text in _COMPARISONS | {"="}:
            self.pos += 1
            if token.text == "=" and self.juel:
                raise _GiveUp()  # an assignment in JUEL: not a condition
            op = "==" if token.text == "=" else token.text
            return f"{left} {op} {self.operand()}"
        return left

    def operand(self) -> str:
        token = self.take()
        if token.text == "(" and token.kind == "op":
            inner = self.disjunction()
            if not self.accept(")"):
                raise _GiveUp()
            return f"({inner})"
        if token.kind == "number":
            return token.text
        if token.kind == "string":
            return repr(_unquote(token.text))
        if token.kind == "word" and token.text in ("True", "False", "None"):
            return token.text
        if token.kind == "name":
            nxt = self.peek()
            if nxt is not None and nxt.text == "(" and nxt.kind == "op":
                raise _GiveUp()  # a function call: its meaning differs between languages
            return _python_name(token.text)
        raise _GiveUp()


def _python_name(dotted: str) -> str:
    """`case.amount` reads a field of the case data, which is a dict in Lianxin: `case["amount"]`."""
    first, *rest = dotted.split(".")
    return first + "".join(f'["{part}"]' for part in rest)


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", r"\1", body)
