"""access log: who viewed or exported which case

Revision ID: 0005_audit
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_audit"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("what", sa.String(length=48), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    op.create_index("ix_access_log_case_at", "access_log", ["case_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_access_log_case_at", table_name="access_log")
    op.drop_table("access_log")
