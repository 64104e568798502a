"""Join the two migrations made in parallel on 0013 (personal data in the party table with sealed fields and data
keys; drafts imported from other tools) into one head, so that the next migration has a single parent.

Revision ID: 0015_merge_parties_imports
Revises: 0014_parties, 0014_imported_drafts
"""

revision = "0015_merge_parties_imports"
down_revision = ("0014_parties", "0014_imported_drafts")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
