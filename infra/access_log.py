"""Who looked at which case: every view and export of a case, by anyone, is recorded here.

A row says who (username, or "-" for a request without a signed-in user), when, which case, what was seen (a short
kind such as `case`, `history`, `replay`, `export.pdf`), the request path and method, the answer's status code,
and where the request came from (client address). Rows are only ever added; auditors read them per case.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.db import Base
from engine.row_writes import insert_sql
from engine.store import ID, UTC_DT
from infra.driver_reads import connection_of, send


class AccessLogEntry(Base):
    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_case_at", "case_id", "at"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTC_DT)
    username: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ID)  # no foreign key: a refused look at a missing case counts too
    what: Mapped[str] = mapped_column(String(48))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)
    remote_addr: Mapped[str] = mapped_column(String(64))


def record(s: Session, *, at: datetime, username: str, case_id: int, what: str, method: str, path: str,
           status: int, remote_addr: str) -> None:
    """Adds one row in the caller's transaction (`s`: a session or a connection), at once: a plain INSERT (no ORM
    object to flush, no id read back; a full view of personal data writes one per answer). On PostgreSQL the INSERT is built once and sent
    through the driver (the values converted as the column types convert them): through SQLAlchemy the statement
    cost several times the database's work."""
    values = _values(at, username, case_id, what, method, path, status, remote_addr)
    conn = connection_of(s)
    if conn.dialect.name != "postgresql":
        s.execute(_INSERT, values)
        return
    sql = insert_sql(conn.dialect, _TABLE, _KEYS)
    send(conn, sql.text, sql.bind(values))


def record_many(s: Session, rows: list[dict]) -> None:
    """`record` for several rows (each a dict of `record`'s fields), in one statement."""
    if rows:
        s.execute(_INSERT, [_values(**row) for row in rows])


def _values(at: datetime, username: str, case_id: int, what: str, method: str, path: str, status: int,
            remote_addr: str) -> dict:
    return {"at": at, "username": username[:64], "case_id": case_id, "what": what[:48], "method": method[:8],
            "path": path[:500], "status": status, "remote_addr": (remote_addr or "-")[:64]}


_TABLE = AccessLogEntry.__table__
_INSERT = _TABLE.insert()
_KEYS = ("at", "username", "case_id", "what", "method", "path", "status", "remote_addr")  # those of `_values`


def for_case(s: Session, case_id: int, *, limit: int = 500) -> list[dict]:
    rows = s.scalars(select(AccessLogEntry).where(AccessLogEntry.case_id == case_id)
                     .order_by(AccessLogEntry.at.desc(), AccessLogEntry.id.desc()).limit(limit))
    return [to_dict(r) for r in rows]


def recent(s: Session, *, limit: int = 100) -> list[dict]:
    rows = s.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id.desc()).limit(limit))
    return [to_dict(r) for r in rows]


def to_dict(r: AccessLogEntry) -> dict:
    return {"id": r.id, "at": r.at, "username": r.username, "case_id": r.case_id, "what": r.what,
            "method": r.method, "path": r.path, "status": r.status, "remote_addr": r.remote_addr}
