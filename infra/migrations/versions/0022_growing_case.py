"""a long case's step (issue #21): its live timers found by one index search, and its state compressed with lz4

- timer (case_id, status) instead of timer (case_id): every command reads the case's pending and paused timers;
  with the case id alone the database read every timer the case ever had (one a round in a case that loops:
  a thousand rows at round 1,000) to find the one or two still live.
- PostgreSQL: the workflow state (case_instance.state, rewritten by every command, a quarter of a megabyte at
  round 1,000 of a case whose data grows) is compressed with lz4 instead of pglz, which costs the server about
  half the time to write and less to read. Values are recompressed as they are next written; a server built
  without lz4 keeps pglz.

Revision ID: 0022_growing_case
Revises: 0021_search_indexes
"""
import sqlalchemy as sa
from alembic import op

revision = "0022_growing_case"
down_revision = "0021_search_indexes"
branch_labels = None
depends_on = None


def _state_compression(conn, method: str) -> None:
    try:
        with conn.begin_nested():
            conn.execute(sa.text(f"ALTER TABLE case_instance ALTER COLUMN state SET COMPRESSION {method}"))
    except sa.exc.DBAPIError:  # a server without lz4 (or before PostgreSQL 14): the default compression stays
        return


def upgrade() -> None:
    op.create_index("ix_timer_case_status", "timer", ["case_id", "status"], unique=False)
    op.drop_index("ix_timer_case_id", table_name="timer")
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        _state_compression(conn, "lz4")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        _state_compression(conn, "default")
    op.create_index("ix_timer_case_id", "timer", ["case_id"], unique=False)
    op.drop_index("ix_timer_case_status", table_name="timer")
