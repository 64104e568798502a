"""retention and erasure: the erasure table (cases whose personal data was erased under the retention rule)

Revision ID: 0016_erasure
Revises: 0015_merge_parties_imports
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_erasure"
down_revision = "0015_merge_parties_imports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasure",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("years", sa.Integer(), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_instance.id"], name=op.f("fk_erasure_case_id_case_instance")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure")),
        sa.UniqueConstraint("case_id", name=op.f("uq_erasure_case_id")),
    )


def downgrade() -> None:
    op.drop_table("erasure")
