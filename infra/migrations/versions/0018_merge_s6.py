"""Join the migrations made in parallel on 0016 (the organisation's change journal; work items placed with a
petition office when nobody holds their role; confidential cases and repeat links; cases started by another case;
the inbox read state) into one head, so that the next migration has a single parent.

Revision ID: 0018_merge_s6
Revises: 0017_org_import, 0017_second_orphan_work, 0017_accuse_confidential, 0017_ratesup_parent_case,
    0017_inbox_read_state
"""

revision = "0018_merge_s6"
down_revision = ("0017_org_import", "0017_second_orphan_work", "0017_accuse_confidential",
                 "0017_ratesup_parent_case", "0017_inbox_read_state")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
