"""Refuse text no person types: NUL and other control characters, bidirectional overrides, unpaired surrogates.

They arrive through JSON (`"\\ud800"`, `"\\u0000"`), query strings and form fields, and would otherwise fail deep
inside (an unpaired surrogate cannot be encoded for the journal hash or the database; PostgreSQL refuses NUL in
text) or be stored to mislead a reader (an RTL override turns a name around on screen). Checked once per request
before any view runs, so that every text input gets the same clear 422 naming the field and nothing is stored.
Combining marks, CJK extensions, emoji and the like are ordinary text and pass.
"""
from __future__ import annotations

import re

from flask import request

from .auth import ApiError

# C0 controls but tab, newline, carriage return; DEL and C1 controls; bidi embeddings, overrides and isolates;
# unpaired UTF-16 surrogates (JSON may spell them as escapes).
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def _describe(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def _walk(value, path: str):
    """(path, bad character) of the first refused character in a JSON value, keys included."""
    if isinstance(value, str):
        m = FORBIDDEN.search(value)
        return (path, m.group()) if m else None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _walk(k, path) if isinstance(k, str) else None
            found = found or _walk(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _walk(v, f"{path}[{i}]")
            if found:
                return found
    return None


def refuse(field: str, ch: str) -> ApiError:
    return ApiError(422, "invalid_text",
                    f"“{field or '请求'}”含有不允许的字符 {_describe(ch)}（控制字符、文字方向控制符或不成对的代理项），"
                    f"请删除后重新提交（field {field or 'request'} contains {_describe(ch)}, a control character, "
                    f"bidirectional override or unpaired surrogate: remove it and send again）",
                    {"field": field, "character": _describe(ch)})


def check_request_text() -> None:
    m = FORBIDDEN.search(request.path)
    if m:
        raise refuse("path", m.group())
    for key, value in request.args.items(multi=True):
        found = _walk(key, "query") or _walk(value, key)
        if found:
            raise refuse(*found)
    if request.method not in UNSAFE:
        return
    if request.is_json:
        found = _walk(request.get_json(silent=True), "")
        if found:
            raise refuse(*found)
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in request.form.items(multi=True):
            found = _walk(key, "form") or _walk(value, key)
            if found:
                raise refuse(*found)
