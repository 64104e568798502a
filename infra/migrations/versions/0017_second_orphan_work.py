"""orphan work (无人可办): a work item whose (role, unit) nobody held when it was opened is placed with the nearest
petition office above; the row keeps the unit and role it was meant for, since when, and who handed it back

Revision ID: 0017_second_orphan_work
Revises: 0016_erasure
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_second_orphan_work"
down_revision = "0016_erasure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_item") as batch:
        batch.add_column(sa.Column("intended_unit", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("intended_role", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("orphan_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("orphan_resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("orphan_resolved_by", sa.String(length=64), nullable=True))
        batch.create_index("ix_work_item_orphan_since", ["orphan_since"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_item") as batch:
        batch.drop_index("ix_work_item_orphan_since")
        batch.drop_column("orphan_resolved_by")
        batch.drop_column("orphan_resolved_at")
        batch.drop_column("orphan_since")
        batch.drop_column("intended_role")
        batch.drop_column("intended_unit")
