"""A SELECT the web layer runs on every request, sent through the DBAPI cursor of the session's connection.

Running a Core statement through the session costs more CPU than the database spends answering it (issue #21):
SQLAlchemy looks the compiled SQL up by the statement's cache key, builds an execution context, processes the
parameters, wraps the cursor in a result and every row in a Row, on every run; the token holder's query, asked by
every API request, took about 0.2 ms that way and 0.03 ms through the driver. `DriverSelect` compiles its statement
once per database and then only binds the values and converts the results: each parameter and each column as its
type converts it for SQLAlchemy (the same bind and result processors), in the session's transaction, so a reader
gets what `s.execute(statement, values).all()` gave, rows with the same values under the same names. A database
error is raised as SQLAlchemy raises it (`sqlalchemy.exc.DBAPIError` and its kinds).

Only for statements whose SQL is the same for every run: one with an expanding parameter (`IN` a list of values,
rendered for each run) is refused when it is first run. The engine's `before_cursor_execute` listeners (a test
that counts statements) are told of each statement sent this way, as of any other.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select


@dataclass(frozen=True)
class _Built:
    text: str
    compiled: Any
    bind: dict[str, Callable]  # parameter name -> its type's conversion (only those that convert)
    positions: tuple[str, ...] | None  # a positional driver's (SQLite's) parameter names in order
    convert: tuple[Callable | None, ...]  # each column's conversion
    row: type


class DriverSelect:
    def __init__(self, statement: Select):
        self.statement = statement
        self._built: dict[str, _Built] = {}

    def _build(self, dialect: Dialect) -> _Built:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("DriverSelect: the statement has parameters rendered per run (IN a list)")
        columns = compiled._result_columns
        bind = {name: convert for name, convert in compiled._bind_processors.items()}
        return _Built(compiled.string, compiled, bind,
                      tuple(compiled.positiontup) if compiled.positional else None,
                      tuple(c.type._cached_result_processor(dialect, None) for c in columns),
                      namedtuple("Row", [c.keyname for c in columns], rename=True))

    def rows(self, s, values: dict[str, Any]) -> list[tuple]:
        """The statement's rows for `values` in the session's transaction: named tuples, as `.all()` gives."""
        conn = connection_of(s)
        dialect = conn.dialect
        built = self._built.get(dialect.name)
        if built is None:
            built = self._built[dialect.name] = self._build(dialect)
        params = built.compiled.construct_params(values)
        for name, convert in built.bind.items():
            if name in params:
                params[name] = convert(params[name])
        if built.positions is not None:
            params = tuple(params[name] for name in built.positions)
        found = send(conn, built.text, params, fetch=True)
        convert, row = built.convert, built.row
        if not any(convert):
            return [row(*values) for values in found]
        return [row(*(value if c is None else c(value) for c, value in zip(convert, values, strict=True)))
                for values in found]


def connection_of(s) -> Connection:
    """The connection of a session (its transaction begun) or a connection itself."""
    return s if isinstance(s, Connection) else s.connection()


def send(conn: Connection, text: str, params, *, fetch: bool = False) -> list[tuple] | None:
    """One statement through the DBAPI cursor of `conn` (in its transaction), the engine's listeners told of it
    (`announce`); its rows with `fetch`. A database error is raised as SQLAlchemy raises it."""
    error_class = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.dbapi_connection.cursor()
    announce(conn, cursor, text, params)
    try:
        cursor.execute(text, params)
        return cursor.fetchall() if fetch else None
    except error_class as exc:
        raise DBAPIError.instance(text, params, exc, error_class) from exc
    finally:
        cursor.close()


def announce(conn: Connection, cursor, text: str, params) -> None:
    """Tell the engine's `before_cursor_execute` listeners (a test that counts statements) of a statement sent
    through the driver."""
    if conn._has_events or conn.engine._has_events:
        conn.dispatch.before_cursor_execute(conn, cursor, text, params, None, False)
