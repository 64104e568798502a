"""A draft may be a foreign BPMN file imported into the designer: it has no deployed version to start from
(base_definition_id is null for a new process) and remembers the uploaded file's name.

Revision ID: 0014_imported_drafts
Revises: 0013_merge_crypto_security
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_imported_drafts"
down_revision = "0013_merge_crypto_security"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("process_draft") as batch:
        batch.alter_column("base_definition_id", existing_type=ID, nullable=True)
        batch.add_column(sa.Column("imported_from", sa.String(length=255), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM process_draft WHERE base_definition_id IS NULL")
    with op.batch_alter_table("process_draft") as batch:
        batch.drop_column("imported_from")
        batch.alter_column("base_definition_id", existing_type=ID, nullable=False)
