"""second factor, lockout, security log: app_user.demo, the second_factor, recovery_code, account_lockout and
security_event tables

Revision ID: 0012_security_log
Revises: 0011_sessions_tokens_limits
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_security_log"
down_revision = "0011_sessions_tokens_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("demo", sa.Boolean(), server_default="0", nullable=False))
    op.create_table(
        "second_factor",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("secret_box", sa.String(length=255), nullable=True),
        sa.Column("pending_box", sa.String(length=255), nullable=True),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_second_factor_user_id_app_user")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_second_factor")),
    )
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_recovery_code_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
    )
    op.create_index(op.f("ix_recovery_code_user_id"), "recovery_code", ["user_id"], unique=False)
    op.create_table(
        "account_lockout",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_account_lockout_user_id_app_user")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_account_lockout")),
    )
    op.create_table(
        "security_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_event")),
        sa.UniqueConstraint("seq", name=op.f("uq_security_event_seq")),
    )
    op.create_index(op.f("ix_security_event_actor"), "security_event", ["actor"], unique=False)
    op.create_index("ix_security_event_at", "security_event", ["at"], unique=False)
    op.create_index("ix_security_event_kind_at", "security_event", ["kind", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_security_event_kind_at", table_name="security_event")
    op.drop_index("ix_security_event_at", table_name="security_event")
    op.drop_index(op.f("ix_security_event_actor"), table_name="security_event")
    op.drop_table("security_event")
    op.drop_table("account_lockout")
    op.drop_index(op.f("ix_recovery_code_user_id"), table_name="recovery_code")
    op.drop_table("recovery_code")
    op.drop_table("second_factor")
    # Not a batch (which on SQLite copies app_user and drops the original: refused by the foreign keys of the
    # tables that point at users once there are any); SQLite 3.35+ drops a plain column in place.
    op.drop_column("app_user", "demo")
