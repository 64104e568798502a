"""sessions that end, tokens that expire, rate-limit counters: app_user.session_version, api_token.expires_at,
the rate_limit_counter table (the database storage of the rate limits when no Redis is configured)

Revision ID: 0011_sessions_tokens_limits
Revises: 0010_verification_runs
"""
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from engine.clock import SystemClock

revision = "0011_sessions_tokens_limits"
down_revision = "0010_verification_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    # Tokens in use keep working for the default lifetime from the upgrade, so integrations have time to get
    # new ones; then they expire like every other token.
    grace = SystemClock().now() + timedelta(days=90)
    if op.get_bind().dialect.name == "sqlite":
        grace = grace.replace(tzinfo=None)  # kept as UTC without a zone there (engine.store.UTCDateTime)
    tokens = sa.table("api_token", sa.column("expires_at", sa.DateTime(timezone=True)))
    op.execute(tokens.update().where(tokens.c.expires_at.is_(None)).values(expires_at=grace))
    op.create_table(
        "rate_limit_counter",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_counter")),
    )
    op.create_index(op.f("ix_rate_limit_counter_expires_at"), "rate_limit_counter", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limit_counter_expires_at"), table_name="rate_limit_counter")
    op.drop_table("rate_limit_counter")
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("session_version")
