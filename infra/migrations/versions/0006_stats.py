"""statistics: frozen monthly snapshots of the KPIs

Revision ID: 0006_stats
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_stats"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stats_snapshot",
        sa.Column("id", ID, nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("frozen_by", sa.String(length=64), nullable=False),
        sa.Column("settings_digest", sa.String(length=32), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_snapshot")),
        sa.UniqueConstraint("period", "scope", name=op.f("uq_stats_snapshot_period_scope")),
    )
    op.create_index("ix_stats_snapshot_frozen_at", "stats_snapshot", ["frozen_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_stats_snapshot_frozen_at", table_name="stats_snapshot")
    op.drop_table("stats_snapshot")
