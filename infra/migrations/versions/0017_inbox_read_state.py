"""inbox: the read state of in-app notifications, per user (inbox_read); reads recorded before as outbox events
are carried over; an index of the outbox by recipient for each user's notices

Revision ID: 0017_inbox_read_state
Revises: 0016_erasure
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_inbox_read_state"
down_revision = "0016_erasure"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbox_read",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("outbox_id", _ID, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name=op.f("fk_inbox_read_outbox_id_outbox")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_read")),
        sa.UniqueConstraint("outbox_id", "username", name=op.f("uq_inbox_read_outbox_id_username")),
    )
    op.create_index("ix_inbox_read_username", "inbox_read", ["username"])
    # each user's notices (the unread count on every page's header)
    op.create_index("ix_outbox_recipient_channel", "outbox", ["recipient", "channel", "status"])
    # Reads kept before as `read` events of the outbox (the first per notification and reader).
    op.execute(
        "INSERT INTO inbox_read (outbox_id, username, read_at) "
        "SELECT e.outbox_id, e.actor, MIN(e.at) FROM outbox_event e "
        "WHERE e.kind = 'read' GROUP BY e.outbox_id, e.actor")


def downgrade() -> None:
    op.drop_index("ix_outbox_recipient_channel", table_name="outbox")
    op.drop_index("ix_inbox_read_username", table_name="inbox_read")
    op.drop_table("inbox_read")
