"""Join the branches the areas added in parallel (handling, case files, designer, audit, statistics) into
one head, so that the next migration has a single parent.

Revision ID: 0008_merge_areas
Revises: 0003_casepage, 0004_designer, 0005_audit, 0006_stats, 0007_handling_hmac
"""

revision = "0008_merge_areas"
down_revision = ("0003_casepage", "0004_designer", "0005_audit", "0006_stats", "0007_handling_hmac")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
