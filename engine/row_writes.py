"""Writing a command's rows of one table without the ORM's unit of work.

A command changes a handful of rows (the work item it closes and the one it opens, the timer its task leaves
and the one the next task waits on). Through the ORM's flush each costs more in bookkeeping than the statement
itself; here the changes to existing rows go out as one UPDATE (an executemany) and the new rows as one INSERT
returning their ids, after the case row moved under its version lock. The session's copies of the changed rows
are then told the values the database now holds (`committed`), so that anything later in the same transaction
reads what was written. The ORM does not know of these writes, so it would not undo them in its copies when a
savepoint (the timer worker fires each case in one) or the transaction rolls back: such copies are expired on
any rollback, and read again from the database when next used.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, bindparam, event, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

_WRITTEN = "lianxin.written_directly"  # in Session.info: the objects told of writes the ORM did not make


def committed(s: Session, obj: Any, values: dict[str, Any]) -> None:
    """Tell the session's copy `obj` the values its row now holds (written by a statement of ours)."""
    for key, value in values.items():
        set_committed_value(obj, key, value)
    s.info.setdefault(_WRITTEN, []).append(obj)


@event.listens_for(Session, "after_soft_rollback")
def _expire_written(session: Session, previous_transaction) -> None:
    """A rollback (of a savepoint too) undid what our statements wrote: the copies told of it are read again."""
    for obj in session.info.pop(_WRITTEN, ()):
        if obj in session:
            session.expire(obj)


@event.listens_for(Session, "after_commit")
def _forget_written(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


def _defaults(table: Table) -> dict[str, Any]:
    """The values a column takes when a new row does not set it (its scalar default, else NULL)."""
    return {c.key: (c.default.arg if c.default is not None and c.default.is_scalar else None)
            for c in table.columns if c.key != "id"}


@dataclass
class RowWrites:
    """Changes to rows of `table`: `changed` (row, {column: new value}) and `new` rows (transient objects)."""
    table: Table
    changed: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    new: list[Any] = field(default_factory=list)

    def write(self, s: Session, conn: Connection | None = None) -> None:
        """Write the changes in the session's transaction (on `conn`, its connection, when the caller has it)."""
        conn = conn if conn is not None else s.connection()
        statements = _statements(self.table)
        by_columns: dict[tuple[str, ...], list[tuple[Any, dict]]] = {}
        for row, values in self.changed:  # one executemany per set of changed columns (usually just one)
            by_columns.setdefault(tuple(values), []).append((row, values))
        for group in by_columns.values():
            conn.execute(statements.update, [dict(values, row_id=row.id) for row, values in group])
            for row, values in group:
                committed(s, row, values)
        if self.new:
            defaults = statements.defaults
            params = [{key: row.__dict__.get(key, default) for key, default in defaults.items()} for row in self.new]
            for row, row_id in zip(self.new, conn.execute(statements.insert, params).scalars(), strict=True):
                row.id = row_id


@dataclass(frozen=True)
class _Statements:
    update: Any
    insert: Any
    defaults: dict[str, Any]


_BUILT: dict[str, _Statements] = {}


def _statements(table: Table) -> _Statements:
    built = _BUILT.get(table.name)
    if built is None:  # built once per table: building SQL expressions costs more than running them on SQLite
        built = _BUILT[table.name] = _Statements(
            update(table).where(table.c.id == bindparam("row_id")),  # SET: the parameters' columns
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            _defaults(table))
    return built
