"""personal data out of the workflow state: the data_key table (case files' data keys, wrapped by the master key)
the party table (parties with their personal fields sealed by SM4-GCM), and case_attachment.key_ref (sealed content)

Revision ID: 0014_parties
Revises: 0013_merge_crypto_security
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_parties"
down_revision = "0013_merge_crypto_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_key",
        sa.Column("ref", sa.String(length=36), nullable=False),
        sa.Column("master_key_id", sa.String(length=16), nullable=False),
        sa.Column("wrapped", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rewrapped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_data_key")),
    )
    op.create_index(op.f("ix_data_key_master_key_id"), "data_key", ["master_key_id"], unique=False)
    op.create_table(
        "party",
        sa.Column("ref", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("key_ref", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name_sealed", sa.Text(), nullable=True),
        sa.Column("id_number_sealed", sa.Text(), nullable=True),
        sa.Column("phone_sealed", sa.Text(), nullable=True),
        sa.Column("address_sealed", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_instance.id"], name=op.f("fk_party_case_id_case_instance")),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_party")),
    )
    op.create_index(op.f("ix_party_case_id"), "party", ["case_id"], unique=False)
    op.create_index(op.f("ix_party_key_ref"), "party", ["key_ref"], unique=False)
    with op.batch_alter_table("case_attachment") as batch:
        batch.add_column(sa.Column("key_ref", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_attachment") as batch:
        batch.drop_column("key_ref")
    op.drop_index(op.f("ix_party_key_ref"), table_name="party")
    op.drop_index(op.f("ix_party_case_id"), table_name="party")
    op.drop_table("party")
    op.drop_index(op.f("ix_data_key_master_key_id"), table_name="data_key")
    op.drop_table("data_key")
