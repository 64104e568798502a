"""case file: comments and attachments (content in the database)

Revision ID: 0003_casepage
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_casepage"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "case_comment",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("work_item_id", ID, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("journal_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_instance.id"], name=op.f("fk_case_comment_case_id_case_instance")),
        sa.ForeignKeyConstraint(["work_item_id"], ["work_item.id"], name=op.f("fk_case_comment_work_item_id_work_item")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_comment")),
    )
    op.create_index("ix_case_comment_case", "case_comment", ["case_id", "id"], unique=False)
    op.create_table(
        "case_attachment",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("work_item_id", ID, nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("journal_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_instance.id"],
                                name=op.f("fk_case_attachment_case_id_case_instance")),
        sa.ForeignKeyConstraint(["work_item_id"], ["work_item.id"],
                                name=op.f("fk_case_attachment_work_item_id_work_item")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_attachment")),
    )
    op.create_index("ix_case_attachment_case", "case_attachment", ["case_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_attachment_case", table_name="case_attachment")
    op.drop_table("case_attachment")
    op.drop_index("ix_case_comment_case", table_name="case_comment")
    op.drop_table("case_comment")
