"""journal: each event sealed with an HMAC of its hash under a key kept outside the database

Events written before this revision have no seal; `lianxin audit seal` seals them once after checking their
chain and replay (README, 审计). A downgrade drops the seals.

Revision ID: 0009_journal_seal
Revises: 0008_merge_areas
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_journal_seal"
down_revision = "0008_merge_areas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journal_event") as batch:
        batch.add_column(sa.Column("seal", sa.String(length=96), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("journal_event") as batch:
        batch.drop_column("seal")
