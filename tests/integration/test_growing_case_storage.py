"""What a step of a long case reads and writes grows with the case's data only where it must (issue #21):
its live timers are found by an index on (case_id, status), not among every timer the case ever had, and on
PostgreSQL its state (rewritten by every command) is compressed with lz4 where the server has it."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from engine.deadlines import LIVE_TIMERS
from infra.db import make_engine


def test_a_commands_live_timers_are_found_by_the_case_and_status_index(sqlite_url):
    statement = str(LIVE_TIMERS.params(case_id=7).compile(dialect=sqlite.dialect(),
                                                           compile_kwargs={"literal_binds": True}))
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}").all()
    finally:
        engine.dispose()
    details = " ".join(row[-1] for row in plan)
    assert "ix_timer_case_status (case_id=? AND status=?)" in details, details


def test_the_state_is_compressed_with_lz4_on_postgresql_where_the_server_has_it(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name != "postgresql":
                assert conn.dialect.name == "sqlite"  # no column compression to choose
                return
            method = conn.execute(sa.text(
                "SELECT attcompression FROM pg_attribute WHERE attrelid = 'case_instance'::regclass "
                "AND attname = 'state'")).scalar_one()
            try:
                with conn.begin_nested():
                    conn.execute(sa.text("CREATE TEMPORARY TABLE lz4_probe (t text COMPRESSION lz4)"))
                has_lz4 = True
            except sa.exc.DBAPIError:
                has_lz4 = False
            conn.rollback()
    finally:
        engine.dispose()
    assert method == ("l" if has_lz4 else "")
