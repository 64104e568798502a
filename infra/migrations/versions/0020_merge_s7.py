"""Join the migrations made in parallel on 0018 (the upstream exchange's received matters; the indexes for
100,000 cases) into one head, so that the next migration has a single parent.

Revision ID: 0020_merge_s7
Revises: 0019_exchange, 0019_scale_indexes
"""

revision = "0020_merge_s7"
down_revision = ("0019_exchange", "0019_scale_indexes")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
