"""designer: drafts of processes being edited

Revision ID: 0004_designer
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_designer"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "process_draft",
        sa.Column("id", ID, nullable=False),
        sa.Column("process_key", sa.String(length=128), nullable=False),
        sa.Column("base_definition_id", ID, nullable=False),
        sa.Column("files_json", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["base_definition_id"], ["process_definition.id"],
                                name=op.f("fk_process_draft_base_definition_id_process_definition")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_draft")),
        sa.UniqueConstraint("process_key", name=op.f("uq_process_draft_process_key")),
    )


def downgrade() -> None:
    op.drop_table("process_draft")
