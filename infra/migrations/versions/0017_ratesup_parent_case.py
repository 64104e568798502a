"""linked cases: case_instance.parent_case_id (a supervision-feedback case started by a step of a petition case)

Revision ID: 0017_ratesup_parent_case
Revises: 0016_erasure
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_ratesup_parent_case"
down_revision = "0016_erasure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign-key constraint: adding one to case_instance would make SQLite rebuild the table every other
    # table points at; the runtime only ever writes the id of the case whose step started the new one.
    op.add_column("case_instance", sa.Column("parent_case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                             nullable=True))
    op.create_index(op.f("ix_case_instance_parent_case_id"), "case_instance", ["parent_case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_instance_parent_case_id"), table_name="case_instance")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+ too): a batch rebuild of case_instance would fail on the foreign
    # keys of every table that points at it
    op.drop_column("case_instance", "parent_case_id")
