"""repeat index: petitioner digests keyed (HMAC-SHA256), each row names its key

Existing rows keep key_id NULL: they are unkeyed SHA-256 digests, recomputed with the key by the next repeat
search (services.registration.rekey). A downgrade keeps the keyed digests, which the older code cannot match.

Revision ID: 0007_handling_hmac
Revises: 0002_handling
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_handling_hmac"
down_revision = "0002_handling"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("petitioner_key") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("petitioner_key") as batch:
        batch.drop_column("key_id")
