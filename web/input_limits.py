"""Limits on what a URL may carry into a database query.

Flask's `<int:...>` accepts any number of digits; an id past 64 bits then fails inside the database driver
(SQLite: OverflowError, PostgreSQL: out of range) and came back as a 500. Ids are 64-bit at most, so a larger
one matches no route and is answered 404 like any other id that does not exist. Numbers elsewhere (query
strings, bodies) that the database cannot hold get a 400 instead of a 500.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy.exc import DataError
from werkzeug.routing import IntegerConverter

from .http import ApiError

MAX_ID = 2**63 - 1


class DatabaseIdConverter(IntegerConverter):
    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def install(app) -> None:
    """Before any blueprint registers its rules: every `<int:...>` in the app is bounded."""
    app.url_map.converters["int"] = DatabaseIdConverter
    app.register_error_handler(OverflowError, out_of_range)
    app.register_error_handler(DataError, out_of_range)


def out_of_range(err: Exception):
    """A number or text the database cannot hold (a query-string offset past 64 bits, a text longer than its
    column) is the caller's mistake: a 400 saying so, through the app's one error format, instead of a 500."""
    return current_app.handle_user_exception(ApiError(
        400, "out_of_range", "数值或文本超出允许范围，请检查后重新提交（a number or text is out of the allowed range）"))
