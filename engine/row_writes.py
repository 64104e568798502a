"""Writing a command's rows without the ORM's unit of work, and without building SQL for each step.

A command changes a handful of rows (the case row, the work item it closes and the one it opens, the timer its
task leaves and the one the next task waits on) and appends its journal events. Through the ORM's flush each row
costs more in bookkeeping than the statement itself, and even a Core statement is compiled (from its cache),
given an execution context and its parameters processed on every run. Here the statements are built once per
database, table and set of columns (`_Sql`: the SQL text and each parameter's type conversion, the same the
column's type makes for SQLAlchemy) and sent through the DBAPI cursor of the session's connection, in the
session's transaction (`DriverWrites`). On PostgreSQL they go out in one pipeline: one round trip for all of a
command's writes instead of one per statement. A database error is raised as SQLAlchemy raises it
(`sqlalchemy.exc.DBAPIError` and its kinds, e.g. IntegrityError).

The changes to existing rows go out as one UPDATE (an executemany) and the new rows as INSERTs returning their
ids, after the case row moved under its version lock. The session's copies of the changed rows are then told the
values the database now holds (`committed`), so that anything later in the same transaction reads what was
written. The ORM does not know of these writes, so it would not undo them in its copies when a savepoint (the
timer worker fires each case in one) or the transaction rolls back: such copies are expired on any rollback, and
read again from the database when next used.

A step's reads of whole rows go the same way (`columns`, `fetch_one`, `rows_where`): the values converted as the
column types convert them, and made the session's copies (`attached`) as the ORM's query makes them, a copy the
session already holds keeping what was changed on it (or, with `refresh`, as populate_existing: told the row).
Statements sent this way pass by SQLAlchemy's engine events (before_cursor_execute): a test that counts
statements counts these through the functions here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, event, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

_WRITTEN = "lianxin.written_directly"  # in Session.info: the objects told of writes the ORM did not make


def committed(s: Session, obj: Any, values: dict[str, Any]) -> None:
    """Tell the session's copy `obj` the values its row now holds (written by a statement of ours)."""
    for key, value in values.items():
        set_committed_value(obj, key, value)
    s.info.setdefault(_WRITTEN, []).append(obj)


_ADOPTED = "lianxin.inserted_directly"  # in Session.info: the new rows our statements inserted (`adopt`)


@event.listens_for(Session, "after_soft_rollback")
def _expire_written(session: Session, previous_transaction) -> None:
    """A rollback (of a savepoint too) undid what our statements wrote: the copies told of it are read again, and
    the rows they inserted are no longer the session's (as the ORM forgets the rows its own flush inserted)."""
    for obj in session.info.pop(_WRITTEN, ()):
        if obj in session:
            session.expire(obj)
    for obj in session.info.pop(_ADOPTED, ()):
        if obj in session:
            session.expunge(obj)


@event.listens_for(Session, "after_commit")
def _forget_written(session: Session) -> None:
    session.info.pop(_WRITTEN, None)
    session.info.pop(_ADOPTED, None)


# ---- statements built once

@dataclass(frozen=True)
class _Sql:
    """A statement's text for one database, and its parameters in order: (key in the values, type conversion)."""
    text: str
    params: tuple[tuple[str, Callable | None], ...]

    def bind(self, values: Mapping[str, Any]) -> tuple:
        return tuple(values[key] if convert is None else convert(values[key]) for key, convert in self.params)


_BUILT: dict[tuple, _Sql] = {}


def _param(dialect: Dialect, table: Table, key: str, column: str | None = None) -> tuple[str, Callable | None]:
    """The parameter `key` of column `column` (default: the column of that key), converted as its type does."""
    return key, table.c[column or key].type.dialect_impl(dialect).bind_processor(dialect)


def update_sql(dialect: Dialect, table: Table, set_keys: Sequence[str], where: Sequence[tuple[str, str]]) -> _Sql:
    """UPDATE table SET each of `set_keys` WHERE each (column, parameter key) of `where` is equal."""
    key = (dialect.name, "update", table.name, tuple(set_keys), tuple(where))
    built = _BUILT.get(key)
    if built is None:
        q, mark = dialect.identifier_preparer, placeholder(dialect)
        sets = ", ".join(f"{q.quote(table.c[k].name)} = {mark}" for k in set_keys)
        conds = " AND ".join(f"{q.quote(table.c[c].name)} = {mark}" for c, _ in where)
        built = _BUILT[key] = _Sql(f"UPDATE {q.format_table(table)} SET {sets} WHERE {conds}",
                                   tuple(_param(dialect, table, k) for k in set_keys)
                                   + tuple(_param(dialect, table, p, c) for c, p in where))
    return built


def insert_sql(dialect: Dialect, table: Table, keys: Sequence[str], returning: str | None = None) -> _Sql:
    """INSERT INTO table (keys) VALUES (...), with RETURNING `returning` when given."""
    key = (dialect.name, "insert", table.name, tuple(keys), returning)
    built = _BUILT.get(key)
    if built is None:
        q, mark = dialect.identifier_preparer, placeholder(dialect)
        text = (f"INSERT INTO {q.format_table(table)} ({', '.join(q.quote(table.c[k].name) for k in keys)}) "
                f"VALUES ({', '.join(mark for _ in keys)})")
        if returning is not None:
            text += f" RETURNING {q.quote(table.c[returning].name)}"
        built = _BUILT[key] = _Sql(text, tuple(_param(dialect, table, k) for k in keys))
    return built


def placeholder(dialect: Dialect) -> str:
    """The driver's parameter placeholder (SQLite `?`, psycopg `%s`)."""
    return "?" if dialect.paramstyle == "qmark" else "%s"


@dataclass(frozen=True)
class Columns:
    """How a mapped class's row is read by a statement of ours: its columns (`select_list`, under a table alias)
    and the conversion of each value, the same the column's type makes for SQLAlchemy (`values`)."""
    cls: type
    table: Table
    keys: tuple[str, ...]
    converters: tuple[Callable | None, ...]

    def select_list(self, dialect: Dialect, alias: str) -> str:
        q = dialect.identifier_preparer
        return ", ".join(f"{alias}.{q.quote(self.table.c[k].name)}" for k in self.keys)

    def values(self, row: Sequence[Any], offset: int = 0) -> dict[str, Any]:
        return {key: value if convert is None or value is None else convert(value)
                for key, convert, value in zip(self.keys, self.converters, row[offset:offset + len(self.keys)],
                                               strict=True)}


_READERS: dict[tuple[str, type], Columns] = {}


def columns(dialect: Dialect, cls: type) -> Columns:
    found = _READERS.get((dialect.name, cls))
    if found is None:
        mapper = inspect(cls)
        table = mapper.local_table
        keys = tuple(prop.key for prop in mapper.column_attrs)
        found = _READERS[(dialect.name, cls)] = Columns(
            cls, table, keys, tuple(table.c[k].type.dialect_impl(dialect).result_processor(dialect, None)
                                    for k in keys))
    return found


def attached(s: Session, cls: type, values: dict[str, Any], *, refresh: bool = False) -> Any:
    """The session's copy of a row a statement of ours read (`values`: every column), as the ORM's query gives it:
    the copy the session holds, its unloaded (expired) attributes told the values read, or a new persistent copy.
    With `refresh` (the ORM's populate_existing), the copy held is told every value read, its own changes lost."""
    mapper = inspect(cls)
    held = s.identity_map.get(mapper.identity_key_from_primary_key((values["id"],)))
    if held is not None:
        if refresh:
            s.expire(held)  # its own changes are forgotten, as the ORM's populate_existing forgets them
        loaded = held.__dict__
        for key, value in values.items():
            if key not in loaded:
                set_committed_value(held, key, value)
        return held
    obj = mapper.class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)  # loaded as from a query: no history, the identity key from its id
    s.add(obj)
    return obj


def fetch_one(s: Session, text: str, params: tuple) -> tuple | None:
    """One row of a pre-built SELECT on the session's connection (in its transaction), or None."""
    rows = fetch(s, text, params, one=True)
    return rows[0] if rows else None


def fetch(s: Session, text: str, params: tuple, *, one: bool = False) -> list[tuple]:
    """The rows of a pre-built SELECT on the session's connection (in its transaction)."""
    conn = s.connection()
    cursor = conn.connection.dbapi_connection.cursor()
    error_class = conn.dialect.loaded_dbapi.Error
    try:
        cursor.execute(text, params)
        if one:
            row = cursor.fetchone()
            return [] if row is None else [row]
        return cursor.fetchall()
    except error_class as exc:
        raise DBAPIError.instance(text, params, exc, error_class) from exc
    finally:
        cursor.close()


_SELECTS: dict[tuple[str, type, str], str] = {}


def rows_where(s: Session, cls: type, where: str, params: tuple) -> list[Any]:
    """The session's copies (`attached`) of the rows of `cls` that `where` selects: SQL on the table's alias `t`,
    `{p}` standing for each parameter's placeholder; built once per database."""
    dialect = s.get_bind().dialect
    cols = columns(dialect, cls)
    text = _SELECTS.get((dialect.name, cls, where))
    if text is None:
        text = _SELECTS[(dialect.name, cls, where)] = (
            f"SELECT {cols.select_list(dialect, 't')} FROM {dialect.identifier_preparer.format_table(cols.table)} "
            f"AS t WHERE {where.format(p=placeholder(dialect))}")
    return [attached(s, cls, cols.values(row)) for row in fetch(s, text, params)]


# ---- sending them

class DriverWrites:
    """Statements sent through the DBAPI cursor of the session's connection, in the session's transaction. What a
    caller needs from a statement (its row count, the id it returned) is handed to a callback: at once on SQLite,
    after the pipeline's one round trip on PostgreSQL (`driver_writes`)."""

    def __init__(self, s: Session):
        conn = s.connection()
        self.s = s
        self.dialect = conn.dialect
        self.dbapi = conn.connection.dbapi_connection
        self.pipelined = self.dialect.name == "postgresql"
        self._pending: list[tuple[Any, Callable]] = []  # (cursor, callback) to run once the results are in
        self._last: tuple[str, Any] = ("", None)  # the statement last sent, for the error a failure raises

    def execute(self, sql: _Sql, values: Mapping[str, Any], then: Callable[[Any], None] | None = None) -> None:
        """One statement; `then(cursor)` once its result is in (its rowcount, its returned row)."""
        params = sql.bind(values)
        self._last = (sql.text, params)
        cursor = self.dbapi.cursor()
        cursor.execute(sql.text, params)
        if self.pipelined:
            self._pending.append((cursor, then))
            return
        try:
            if then is not None:
                then(cursor)
        finally:
            cursor.close()

    def executemany(self, sql: _Sql, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        params = [sql.bind(values) for values in rows]
        self._last = (sql.text, params)
        cursor = self.dbapi.cursor()
        cursor.executemany(sql.text, params)
        if self.pipelined:
            self._pending.append((cursor, None))
        else:
            cursor.close()

    def finish(self, received_only: bool = False) -> None:
        """The callbacks of the statements sent, and their cursors closed. `received_only` (after a failed
        pipeline): only those of the statements that got a result before the failure."""
        pending, self._pending = self._pending, []
        try:
            for cursor, then in pending:
                if received_only and getattr(cursor, "pgresult", None) is None:
                    break  # no result: the pipeline stopped before this statement
                if then is not None:
                    then(cursor)
        finally:
            for cursor, _ in pending:
                cursor.close()


@contextmanager
def driver_writes(s: Session) -> Iterator[DriverWrites]:
    """Statements written in the session's transaction through its DBAPI connection (PostgreSQL: in one pipeline).
    A database error is raised as SQLAlchemy's error of its kind; the callbacks whose results came in before it run
    first, so that a refused version lock is still told as such."""
    w = DriverWrites(s)
    error_class = w.dialect.loaded_dbapi.Error
    try:
        if w.pipelined:
            with w.dbapi.pipeline():
                yield w
        else:
            yield w
    except error_class as exc:
        w.finish(received_only=True)
        statement, params = w._last
        raise DBAPIError.instance(statement, params, exc, error_class) from exc
    w.finish()


def _defaults(table: Table) -> dict[str, Any]:
    """The values a column takes when a new row does not set it (its scalar default, else NULL)."""
    return {c.key: (c.default.arg if c.default is not None and c.default.is_scalar else None)
            for c in table.columns if c.key != "id"}


_DEFAULTS: dict[str, dict[str, Any]] = {}


@dataclass
class RowWrites:
    """Changes to rows of `table`: `changed` (row, {column: new value}) and `new` rows (transient objects)."""
    table: Table
    changed: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    new: list[Any] = field(default_factory=list)

    def write(self, s: Session, w: DriverWrites | None = None) -> None:
        """Write the changes in the session's transaction (with `w`, among the caller's other writes)."""
        if w is None:
            with driver_writes(s) as own:
                return self.write(s, own)
        by_columns: dict[tuple[str, ...], list[tuple[Any, dict]]] = {}
        for row, values in self.changed:  # one executemany per set of changed columns (usually just one)
            by_columns.setdefault(tuple(values), []).append((row, values))
        for columns, group in by_columns.items():
            w.executemany(update_sql(w.dialect, self.table, columns, (("id", "row_id"),)),
                          [dict(values, row_id=row.id) for row, values in group])
            for row, values in group:
                committed(s, row, values)
        if self.new:
            defaults = _DEFAULTS.get(self.table.name)
            if defaults is None:
                defaults = _DEFAULTS[self.table.name] = _defaults(self.table)
            if "id" not in self.table.c:  # a key the rows carry themselves (a reference, a case id): nothing returned
                w.executemany(insert_sql(w.dialect, self.table, tuple(defaults)),
                              [{key: row.__dict__.get(key, default) for key, default in defaults.items()}
                               for row in self.new])
                return
            sql = insert_sql(w.dialect, self.table, tuple(defaults), returning="id")
            for row in self.new:
                w.execute(sql, {key: row.__dict__.get(key, default) for key, default in defaults.items()},
                          partial_id(row))


def new_row(cls: type, **values: Any) -> Any:
    """A new row of `cls` for `RowWrites.new`, made without the mapped constructor: it sets each value through the
    ORM's attribute events, recording history that nothing reads (the row is written by `RowWrites`, never
    flushed). Its attributes read and change as those of any new object."""
    obj = inspect(cls).class_manager.new_instance()
    obj.__dict__.update(values)
    return obj


def staged_inserts(s: Session, classes: tuple[type, ...]) -> list[RowWrites]:
    """The new objects of `classes` the session holds (added, not yet flushed), taken out of its unit of work in
    the order they were added, to be inserted with the caller's other writes (`RowWrites.write`); `adopt` then
    makes them the session's copies, as a flush would have. Only tables whose columns' defaults are plain values
    (no server default, no function): the INSERT sets every column itself."""
    found = sorted((obj for obj in s.new if type(obj) in classes), key=lambda obj: inspect(obj).insert_order)
    by_table: dict[str, RowWrites] = {}
    for obj in found:
        table = obj.__table__
        if not _plain_defaults(table):
            continue
        s.expunge(obj)
        by_table.setdefault(table.name, RowWrites(table)).new.append(obj)
    return list(by_table.values())


def adopt(s: Session, writes: Sequence[RowWrites]) -> None:
    """The rows `staged_inserts` took out, now written with their ids, made the session's copies."""
    for w in writes:
        for row in w.new:
            make_transient_to_detached(row)  # as loaded: no history; a column not set is read when first used
            s.add(row)
            s.info.setdefault(_ADOPTED, []).append(row)


def write_now(s: Session, writes: Sequence[RowWrites]) -> None:
    """`writes` sent at once through the driver in the session's transaction (on PostgreSQL in one round trip), their
    new rows then made the session's copies (`adopt`), as a flush would have made them."""
    with driver_writes(s) as w:
        for rows in writes:
            rows.write(s, w)
    adopt(s, writes)


_PLAIN: dict[str, bool] = {}  # by table name: whether `_plain_defaults` holds (asked for every staged row)


def _plain_defaults(table: Table) -> bool:
    plain = _PLAIN.get(table.name)
    if plain is None:
        plain = _PLAIN[table.name] = all(c.server_default is None and (c.default is None or c.default.is_scalar)
                                         for c in table.columns if c.key != "id")
    return plain


def partial_id(row: Any) -> Callable[[Any], None]:
    """The callback that gives a new row the id its INSERT returned."""
    def then(cursor) -> None:
        row.id = cursor.fetchone()[0]
    return then
