"""Join the two migrations made in parallel on 0011 (the journal's hash algorithm, the security log and second
factor) into one head, so that the next migration has a single parent.

Revision ID: 0013_merge_crypto_security
Revises: 0012_journal_algorithm, 0012_security_log
"""

revision = "0013_merge_crypto_security"
down_revision = ("0012_journal_algorithm", "0012_security_log")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
