"""verification runs: every journal checked in the background by the worker, progress kept for the auditors' page

Revision ID: 0010_verification_runs
Revises: 0009_journal_seal
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_verification_runs"
down_revision = "0009_journal_seal"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "verification_run",
        sa.Column("id", ID, nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("upto_case_id", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("worker", sa.String(length=128), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_run")),
    )
    op.create_index(op.f("ix_verification_run_status"), "verification_run", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_verification_run_status"), table_name="verification_run")
    op.drop_table("verification_run")
