"""organisation import: the org_change journal (who imported which organisation file when, and what it changed)

Revision ID: 0017_org_import
Revises: 0016_erasure
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_org_import"
down_revision = "0016_erasure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=256), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_change")),
    )


def downgrade() -> None:
    op.drop_table("org_change")
