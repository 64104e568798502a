"""indexes for 100,000 cases (issue #21): the task list's count and the discipline-track check read indexes only

- work_item (state, case_id): the task list counts the open items a person may see; with the case id in the
  index the count (and the check that an item's case is not on the discipline track) reads the index alone;
- case_instance (confidential, confidential_unit): the confidential cases of a unit (the discipline track) are
  found by one index search, where SQLite scanned every case row for them.

Revision ID: 0019_scale_indexes
Revises: 0018_merge_s6
"""
from alembic import op

revision = "0019_scale_indexes"
down_revision = "0018_merge_s6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_work_item_state_case", "work_item", ["state", "case_id"], unique=False)
    op.create_index("ix_case_instance_discipline", "case_instance", ["confidential", "confidential_unit"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_instance_discipline", table_name="case_instance")
    op.drop_index("ix_work_item_state_case", table_name="work_item")
