"""The security audit log (安全审计日志): sign-ins and their failures, lockouts, second-factor events, password,
role and organisation changes, exports, personal-data views, settings changes and deployments.

Rows are only ever added, one global sequence, each carrying the SHA-256 hash of the one before (like the case
journal), so a changed, removed or reordered row breaks the chain from there on (`verify`). Appending takes a
lock (SQLite: the write transaction; PostgreSQL: an advisory lock) so that two processes never both append
row N. The only deletion is `purge`, which removes the oldest rows and only those older than the retention
period (at least MIN_KEEP_DAYS), and leaves a `log_purge` row naming the hash the remaining chain starts from.

What the chain cannot show, as with the journal: someone with write access to the database who recomputes every
later hash. Export to syslog (`to_syslog`) or to files kept elsewhere is the check for that.
"""
from __future__ import annotations

import hashlib
import json
import logging
import socket
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from logging.handlers import SysLogHandler
from typing import Any

from sqlalchemy import Connection, Index, Integer, String, Text, delete, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from engine.db import Base
from engine.row_writes import insert_sql
from engine.store import ID, UTC_DT
from infra.driver_reads import announce, connection_of

GENESIS = "0" * 64
MIN_KEEP_DAYS = 180
_LOCK_KEY = 74661  # PostgreSQL advisory lock of the chain head

# kind -> label (Chinese, shown on the auditor's page)
KINDS = {
    "sign_in": "登录成功",
    "sign_in_failed": "登录失败",
    "lockout": "账号锁定",
    "second_factor": "二次验证",
    "password_change": "修改密码",
    "role_change": "角色变更",
    "organisation_change": "组织机构变更",
    "export": "数据导出",
    "personal_data_view": "查看个人信息",
    "personal_data_search": "按个人信息查询案件",
    "settings_change": "设置变更",
    "deployment": "流程部署",
    "log_purge": "日志清理",
    "key_management": "密钥管理",
    "erasure": "个人信息删除",
    "notification_resend": "重发通知",
}


class SecurityEvent(Base):
    __tablename__ = "security_event"
    __table_args__ = (Index("ix_security_event_at", "at"), Index("ix_security_event_kind_at", "kind", "at"))
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(UTC_DT)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    ip: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)  # JSON object, keys sorted
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


def _detail_text(detail: dict[str, Any] | None) -> str:
    return json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _utc_text(at: datetime) -> str:
    """SQLite hands datetimes back naive (UTC), PostgreSQL aware: hash the same UTC text either way."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def row_hash(seq: int, at: datetime, actor: str, kind: str, ip: str, detail_text: str, prev_hash: str) -> str:
    body = "\x1f".join([str(seq), _utc_text(at), actor, kind, ip, detail_text, prev_hash])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append_in(s: Session, *, at: datetime, actor: str, kind: str, ip: str = "-",
              detail: dict[str, Any] | None = None) -> None:
    """Appends one row in the caller's transaction (which then holds the chain head until it ends). `s`: a
    session, or a connection in a transaction."""
    if kind not in KINDS:
        raise ValueError(f"unknown security event kind {kind!r}")
    if (s.dialect if isinstance(s, Connection) else s.get_bind().dialect).name == "postgresql":
        return _append_through_driver(s, at, actor, kind, ip, detail)
    last = s.execute(_HEAD).first()
    # a plain INSERT (no ORM object to flush, no id read back): nobody reads the row in this transaction
    s.execute(_INSERT, _row(last, at, actor, kind, ip, detail))


def _row(last, at: datetime, actor: str, kind: str, ip: str, detail: dict[str, Any] | None) -> dict[str, Any]:
    """The values of the row that follows `last` (the chain head's seq and hash, or None for the first row)."""
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    detail_text = _detail_text(detail)
    actor, ip = (actor or "-")[:64], (ip or "-")[:64]
    return {"seq": seq, "at": at, "actor": actor, "kind": kind, "ip": ip, "detail": detail_text, "prev_hash": prev,
            "hash": row_hash(seq, at, actor, kind, ip, detail_text, prev)}


def _append_through_driver(s, at: datetime, actor: str, kind: str, ip: str, detail: dict[str, Any] | None) -> None:
    """`append_in` on PostgreSQL through the driver, in the caller's transaction: the chain's lock and its head in
    one round trip (a pipeline), the row in a second, each statement built once; through SQLAlchemy the three
    statements cost several times the database's work and a round trip each (a full view of personal data appends
    one per answer). What a session has not written yet is written first, as the head's query did before."""
    if not isinstance(s, Connection):
        s.flush()
    conn = connection_of(s)
    dbapi = conn.connection.dbapi_connection
    error_class = conn.dialect.loaded_dbapi.Error
    sql, params = _LOCK_SQL, None
    try:
        with dbapi.pipeline():
            lock, head = dbapi.cursor(), dbapi.cursor()
            for cursor, sql in ((lock, _LOCK_SQL), (head, _HEAD_SQL)):
                announce(conn, cursor, sql, None)
                cursor.execute(sql)
            last = head.fetchone()
            insert = insert_sql(conn.dialect, _TABLE, _KEYS)
            sql, params = insert.text, insert.bind(_row(last, at, actor, kind, ip, detail))
            announce(conn, lock, sql, params)
            lock.execute(sql, params)
    except error_class as exc:
        raise DBAPIError.instance(sql, params, exc, error_class) from exc


_TABLE = SecurityEvent.__table__
_INSERT = _TABLE.insert()
_KEYS = ("seq", "at", "actor", "kind", "ip", "detail", "prev_hash", "hash")  # those of `_row`
# the statements of every append, built once
_HEAD = select(SecurityEvent.seq, SecurityEvent.hash).order_by(SecurityEvent.seq.desc()).limit(1)
_LOCK_SQL = f"SELECT pg_advisory_xact_lock({_LOCK_KEY})"  # PostgreSQL only, through the driver
_HEAD_SQL = "SELECT seq, hash FROM security_event ORDER BY seq DESC LIMIT 1"


def append(session_factory: sessionmaker, **fields) -> None:
    """Appends one row in a transaction of its own (a refused sign-in has no other transaction to join)."""
    with session_factory() as s, s.begin():
        append_in(s, **fields)


@dataclass(frozen=True)
class Query:
    kind: str | None = None
    actor: str | None = None
    since: datetime | None = None  # at or after
    until: datetime | None = None  # before
    page: int = 1
    per_page: int = 50


def search(s: Session, q: Query) -> tuple[list[dict], int]:
    """A page of rows, newest first, and how many rows match in all."""
    where = []
    if q.kind:
        where.append(SecurityEvent.kind == q.kind)
    if q.actor:
        where.append(SecurityEvent.actor == q.actor)
    if q.since:
        where.append(SecurityEvent.at >= q.since)
    if q.until:
        where.append(SecurityEvent.at < q.until)
    total = s.scalar(select(func.count()).select_from(SecurityEvent).where(*where)) or 0
    rows = s.scalars(select(SecurityEvent).where(*where).order_by(SecurityEvent.seq.desc())
                     .offset((q.page - 1) * q.per_page).limit(q.per_page))
    return [to_dict(r) for r in rows], total


def to_dict(r: SecurityEvent) -> dict:
    at = r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC)
    return {"seq": r.seq, "at": at, "actor": r.actor, "kind": r.kind, "label": KINDS.get(r.kind, r.kind),
            "ip": r.ip, "detail": json.loads(r.detail), "prev_hash": r.prev_hash, "hash": r.hash}


def _all(s: Session, since: datetime | None = None) -> Iterator[SecurityEvent]:
    """Every row (from `since`), oldest first, read 500 at a time; the cursor is closed when the caller stops."""
    stmt = select(SecurityEvent).order_by(SecurityEvent.seq)
    if since is not None:
        stmt = stmt.where(SecurityEvent.at >= since)
    with closing(s.scalars(stmt.execution_options(yield_per=500))) as result:
        yield from result


@dataclass
class ChainCheck:
    ok: bool
    rows: int
    first_bad_seq: int | None = None
    problem: str = ""


def verify(s: Session) -> ChainCheck:
    """Recomputes every row's hash and its link to the row before. The first row links to the genesis hash, or
    (after a purge) to the anchor a `log_purge` row recorded."""
    anchors = {GENESIS} | {json.loads(d).get("anchor_hash") for d in
                           s.scalars(select(SecurityEvent.detail).where(SecurityEvent.kind == "log_purge"))}
    with closing(_all(s)) as every:
        return _walk(every, anchors)


def _walk(every: Iterator[SecurityEvent], anchors: set) -> ChainCheck:
    prev_seq, prev_hash, count = None, None, 0
    for r in every:
        count += 1
        if r.hash != row_hash(r.seq, r.at, r.actor, r.kind, r.ip, r.detail, r.prev_hash):
            return ChainCheck(False, count, r.seq, "行内容与其哈希不符（row altered）")
        if prev_seq is None:
            if r.prev_hash not in anchors:
                return ChainCheck(False, count, r.seq, "链首无来源（rows removed before it）")
        elif r.seq != prev_seq + 1 or r.prev_hash != prev_hash:
            return ChainCheck(False, count, r.seq, "与前一行不相连（a row before it was removed or altered）")
        prev_seq, prev_hash = r.seq, r.hash
    return ChainCheck(True, count)


class RetentionError(ValueError):
    pass


def purge(s: Session, *, before: datetime, now: datetime, keep_days: int = MIN_KEEP_DAYS,
          actor: str = "-") -> int:
    """Deletes the oldest rows, all older than `before`, and records the purge; refuses a `before` that would
    take rows younger than `keep_days` (never fewer than MIN_KEEP_DAYS)."""
    keep = timedelta(days=max(keep_days, MIN_KEEP_DAYS))
    if before > now - keep:
        raise RetentionError(f"安全审计日志至少保存 {keep.days} 天，不能删除 {(now - keep).date()} 之后的记录"
                             f"（the security log keeps {keep.days} days: nothing after {(now - keep).date()} may go）")
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})"))
    young = s.scalar(select(func.min(SecurityEvent.seq)).where(SecurityEvent.at >= before))
    stmt = select(SecurityEvent.seq, SecurityEvent.hash).where(SecurityEvent.at < before)
    if young is not None:
        stmt = stmt.where(SecurityEvent.seq < young)  # only a prefix of the chain: the rest stays linked
    last = s.execute(stmt.order_by(SecurityEvent.seq.desc()).limit(1)).first()
    if last is None:
        return 0
    removed = s.execute(delete(SecurityEvent).where(SecurityEvent.seq <= last[0])).rowcount
    append_in(s, at=now, actor=actor, kind="log_purge",
              detail={"before": before.isoformat(), "removed": removed, "anchor_seq": last[0],
                      "anchor_hash": last[1]})
    return removed


def json_lines(s: Session, since: datetime | None = None) -> Iterable[str]:
    """Every row (from `since`) as one JSON object per line, oldest first."""
    for r in _all(s, since):
        d = to_dict(r)
        d["at"] = d["at"].isoformat()
        yield json.dumps(d, ensure_ascii=False, sort_keys=True)


class Rfc5424Formatter(logging.Formatter):
    """`1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG` (RFC 5424); SysLogHandler adds `<PRI>` in front."""

    def __init__(self, app: str = "lianxin"):
        super().__init__()
        self.app, self.host = app, socket.gethostname() or "-"

    def format(self, record: logging.LogRecord) -> str:
        row = record.args_row  # type: ignore[attr-defined]
        at = row["at"].astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        sd = f'[lianxin@32473 seq="{row["seq"]}" actor="{_sd(row["actor"])}" ip="{_sd(row["ip"])}"]'
        message = json.dumps({"detail": row["detail"], "hash": row["hash"]}, ensure_ascii=False, sort_keys=True)
        return f"1 {at} {self.host} {self.app} - {row['kind']} {sd} \ufeff{message}"


WARNING_KINDS = {"sign_in_failed", "lockout", "log_purge"}


def _sd(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def to_syslog(s: Session, address: tuple[str, int], *, since: datetime | None = None,
              socktype: int = socket.SOCK_DGRAM) -> int:
    """Sends every row (from `since`) to a syslog receiver as RFC 5424 messages (facility authpriv); returns
    how many were sent."""
    handler = SysLogHandler(address=address, facility=SysLogHandler.LOG_AUTHPRIV, socktype=socktype)
    handler.append_nul = False
    handler.setFormatter(Rfc5424Formatter())
    sent = 0
    try:
        for r in _all(s, since):
            level = logging.WARNING if r.kind in WARNING_KINDS else logging.INFO
            record = logging.LogRecord("lianxin.security", level, __file__, 0, r.kind, None, None)
            record.args_row = to_dict(r)
            handler.emit(record)
            sent += 1
    finally:
        handler.close()
    return sent
