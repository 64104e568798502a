"""exchange: the matters received from the upstream petition information system (upstream_matter), one row per
upstream number with the case it was registered as and the status changes already queued back

Revision ID: 0019_exchange
Revises: 0018_merge_s6
"""
import sqlalchemy as sa
from alembic import op

revision = "0019_exchange"
down_revision = "0018_merge_s6"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "upstream_matter",
        sa.Column("upstream_no", sa.String(length=64), nullable=False),
        sa.Column("case_id", _ID, nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("deadline", sa.String(length=10), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported", sa.Text(), nullable=False),
        sa.Column("checked_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case_instance.id"], name=op.f("fk_upstream_matter_case_id_case_instance")),
        sa.PrimaryKeyConstraint("upstream_no", name=op.f("pk_upstream_matter")),
    )
    op.create_index(op.f("ix_upstream_matter_case_id"), "upstream_matter", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_upstream_matter_case_id"), table_name="upstream_matter")
    op.drop_table("upstream_matter")
