"""handlers' desk: registration index, petitioner key digests, saved task filters

Revision ID: 0002_handling
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_handling"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "registration_index",
        sa.Column("case_id", ID, nullable=False, autoincrement=False),
        sa.Column("case_no", sa.String(length=64), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("petitioner_masked", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_instance.id"],
                                name=op.f("fk_registration_index_case_id_case_instance")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_registration_index")),
    )
    op.create_index("ix_registration_index_place", "registration_index", ["location", "category", "registered_at"],
                    unique=False)
    op.create_index(op.f("ix_registration_index_case_no"), "registration_index", ["case_no"], unique=False)
    op.create_table(
        "petitioner_key",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_instance.id"], name=op.f("fk_petitioner_key_case_id_case_instance")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_petitioner_key")),
    )
    op.create_index("ix_petitioner_key_lookup", "petitioner_key", ["kind", "digest"], unique=False)
    op.create_index(op.f("ix_petitioner_key_case_id"), "petitioner_key", ["case_id"], unique=False)
    op.create_table(
        "saved_task_filter",
        sa.Column("id", ID, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_task_filter")),
        sa.UniqueConstraint("username", "name", name="uq_saved_task_filter_user_name"),
    )
    op.create_index(op.f("ix_saved_task_filter_username"), "saved_task_filter", ["username"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_saved_task_filter_username"), table_name="saved_task_filter")
    op.drop_table("saved_task_filter")
    op.drop_index(op.f("ix_petitioner_key_case_id"), table_name="petitioner_key")
    op.drop_index("ix_petitioner_key_lookup", table_name="petitioner_key")
    op.drop_table("petitioner_key")
    op.drop_index(op.f("ix_registration_index_case_no"), table_name="registration_index")
    op.drop_index("ix_registration_index_place", table_name="registration_index")
    op.drop_table("registration_index")
