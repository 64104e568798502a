"""indexes for the case search at 100,000 cases (issue #21): the words of each case in a narrow table of their
own (case_text: the summary's title, channel and category and the registered title, filled here from the cases
and the registration index), text-indexed for infix search of Chinese (no spaces between words): on SQLite an
FTS5 table with the trigram tokenizer over it (case_text_fts, external content, kept in step by triggers), on
PostgreSQL a GIN index with pg_trgm's trigram operator class (the extension is made when missing; without it the
search still works, scanning the narrow table). And for the task list of a unit: the index of open work items by
(state, role, unit) gains due_at, id and case_id, so that each role's items are counted (with the discipline-track
check on the case id) and paged in due order from the index alone.

Revision ID: 0021_search_indexes
Revises: 0020_merge_s7
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0021_search_indexes"
down_revision = "0020_merge_s7"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE case_text_fts USING fts5(body, content='case_text', content_rowid='case_id', "
    "tokenize='trigram')",
    "CREATE TRIGGER case_text_fts_insert AFTER INSERT ON case_text BEGIN "
    "INSERT INTO case_text_fts(rowid, body) VALUES (new.case_id, new.body); END",
    "CREATE TRIGGER case_text_fts_delete AFTER DELETE ON case_text BEGIN "
    "INSERT INTO case_text_fts(case_text_fts, rowid, body) VALUES ('delete', old.case_id, old.body); END",
    "CREATE TRIGGER case_text_fts_update AFTER UPDATE ON case_text BEGIN "
    "INSERT INTO case_text_fts(case_text_fts, rowid, body) VALUES ('delete', old.case_id, old.body); "
    "INSERT INTO case_text_fts(rowid, body) VALUES (new.case_id, new.body); END",
]


def _body(summary_json: str | None, registered_title: str | None) -> str:
    """As engine.store.case_text_body (kept here as it was when this migration was written)."""
    try:
        summary = json.loads(summary_json or "{}")
    except ValueError:
        summary = {}
    summary = summary if isinstance(summary, dict) else {}
    body = "\n".join(str(summary.get(k) or "") for k in ("title", "channel", "category"))
    if registered_title and registered_title not in body:
        body += "\n" + registered_title
    return body


def _fill(conn, batch: int = 2000) -> None:
    case_text = sa.table("case_text", sa.column("case_id"), sa.column("body"))
    after = 0
    while True:
        rows = conn.execute(sa.text(
            "SELECT c.id, c.summary_json, r.title FROM case_instance c "
            "LEFT JOIN registration_index r ON r.case_id = c.id WHERE c.id > :after ORDER BY c.id LIMIT :n"),
            {"after": after, "n": batch}).all()
        if not rows:
            return
        conn.execute(case_text.insert(), [{"case_id": i, "body": _body(summary, title)} for i, summary, title in rows])
        after = rows[-1][0]


def _pg_trigram_index(conn) -> None:
    have = conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first()
    if have is None:
        available = conn.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first()
        if available is None:
            return
        try:
            with conn.begin_nested():
                conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except sa.exc.DBAPIError:  # not allowed to: the search scans the narrow table instead
            return
    conn.execute(sa.text("CREATE INDEX ix_case_text_trgm ON case_text USING gin (body gin_trgm_ops)"))


def upgrade() -> None:
    op.create_index("ix_work_item_open_role_unit_due", "work_item", ["state", "role", "unit", "due_at", "id", "case_id"],
                    unique=False)
    op.drop_index("ix_work_item_open_role_unit", table_name="work_item")
    op.create_table(
        "case_text",
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_instance.id"], name=op.f("fk_case_text_case_id_case_instance")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_text")),
    )
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for statement in _SQLITE_FTS:
            conn.execute(sa.text(statement))
    _fill(conn)
    if conn.dialect.name == "postgresql":
        _pg_trigram_index(conn)
    conn.execute(sa.text("ANALYZE case_text"))
    conn.execute(sa.text("ANALYZE work_item"))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            conn.execute(sa.text(f"DROP TRIGGER IF EXISTS case_text_fts_{name}"))
        conn.execute(sa.text("DROP TABLE IF EXISTS case_text_fts"))
    else:
        conn.execute(sa.text("DROP INDEX IF EXISTS ix_case_text_trgm"))
    op.drop_table("case_text")
    op.create_index("ix_work_item_open_role_unit", "work_item", ["state", "role", "unit"], unique=False)
    op.drop_index("ix_work_item_open_role_unit_due", table_name="work_item")
