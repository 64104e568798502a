"""journal: each event records the algorithm its hash and seal were made with (engine/crypto.py)

Every event written before this revision was hashed with SHA-256 and sealed with HMAC-SHA256, so existing rows
get "sha256". From here on an event gets the algorithm of the suite chosen with LIANXIN_CRYPTO ("sha256", or
"sm3" for the national suite), and verification checks each event with the algorithm it records. A downgrade
is refused while any event is SM3: without the column those events would no longer verify.

Revision ID: 0012_journal_algorithm
Revises: 0011_sessions_tokens_limits
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_journal_algorithm"
down_revision = "0011_sessions_tokens_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journal_event") as batch:
        batch.add_column(sa.Column("hash_alg", sa.String(length=16), server_default="sha256", nullable=False))


def downgrade() -> None:
    events = sa.table("journal_event", sa.column("hash_alg", sa.String(length=16)))
    others = op.get_bind().execute(sa.select(sa.func.count()).select_from(events)
                                   .where(events.c.hash_alg != "sha256")).scalar_one()
    if others:
        raise RuntimeError(f"{others} journal events are not SHA-256 (LIANXIN_CRYPTO=gm wrote them): without "
                           "their recorded algorithm they would no longer verify, so 0012 is not undone")
    with op.batch_alter_table("journal_event") as batch:
        batch.drop_column("hash_alg")
