"""confidential cases by property and repeats linked both ways: case_instance.confidential and
confidential_unit (indexed; backfilled from the journal), and the repeat_link table (backfilled from the journal)

Before this revision a case was confidential when its journal had an event at the element meaning
`confidential_route` (processes/meanings.yaml, then `Task_route_discipline`), and the unit that may see it was the
`unit` of that route-out's result; every visibility check searched the journal for it. The backfill finds the same
cases once: route-out calls made confidential (`"confidential": true` among their parameters) and any event at the
element that meaning named, with the unit the call's result named (none when the call failed).

Revision ID: 0017_accuse_confidential
Revises: 0016_erasure
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0017_accuse_confidential"
down_revision = "0016_erasure"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_CONFIDENTIAL_ELEMENTS = ("Task_route_discipline",)  # meanings.yaml `confidential_route` until this revision


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch: on SQLite a batch copies and drops case_instance, which every case table
    # references (refused while foreign keys are enforced).
    op.add_column("case_instance", sa.Column("confidential", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("case_instance", sa.Column("confidential_unit", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_case_instance_confidential"), "case_instance", ["confidential"], unique=False)
    op.create_index(op.f("ix_case_instance_confidential_unit"), "case_instance", ["confidential_unit"], unique=False)
    op.create_table(
        "repeat_link",
        sa.Column("repeat_case_id", ID, autoincrement=False, nullable=False),
        sa.Column("original_case_id", ID, nullable=True),
        sa.Column("original_case_no", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["repeat_case_id"], ["case_instance.id"],
                                name=op.f("fk_repeat_link_repeat_case_id_case_instance")),
        sa.ForeignKeyConstraint(["original_case_id"], ["case_instance.id"],
                                name=op.f("fk_repeat_link_original_case_id_case_instance")),
        sa.PrimaryKeyConstraint("repeat_case_id", name=op.f("pk_repeat_link")),
    )
    op.create_index(op.f("ix_repeat_link_original_case_id"), "repeat_link", ["original_case_id"], unique=False)
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    journal = sa.table("journal_event", sa.column("case_id"), sa.column("type"), sa.column("element_id"),
                       sa.column("data"), sa.column("at"), sa.column("seq"))
    cases = sa.table("case_instance", sa.column("id"), sa.column("case_no"), sa.column("confidential"),
                     sa.column("confidential_unit"))
    index = sa.table("registration_index", sa.column("case_id"), sa.column("case_no"))
    links = sa.table("repeat_link", sa.column("repeat_case_id"), sa.column("original_case_id"),
                     sa.column("original_case_no"), sa.column("outcome"), sa.column("linked_at"))

    hidden: dict[int, str | None] = {}
    rows = conn.execute(sa.select(journal.c.case_id, journal.c.type, journal.c.element_id, journal.c.data).where(
        sa.or_(journal.c.element_id.in_(OLD_CONFIDENTIAL_ELEMENTS),
               sa.and_(journal.c.type == "service.called", journal.c.data.like('%"handler":"route_out"%'))))
        .order_by(journal.c.case_id, journal.c.seq))
    for case_id, kind, element_id, data in rows:
        body = _json(data)
        called = kind == "service.called" and body.get("handler") == "route_out"
        if called and not (body.get("params") or {}).get("confidential") and element_id not in \
                OLD_CONFIDENTIAL_ELEMENTS:
            continue
        result = body.get("result") if called else None
        unit = result.get("unit") if isinstance(result, dict) and isinstance(result.get("unit"), str) else None
        hidden[case_id] = unit or hidden.get(case_id)
    for case_id, unit in hidden.items():
        conn.execute(sa.update(cases).where(cases.c.id == case_id).values(confidential=True, confidential_unit=unit))

    numbers = {no: case_id for case_id, no in conn.execute(sa.select(index.c.case_id, index.c.case_no)) if no}
    numbers.update({no: case_id for case_id, no in conn.execute(sa.select(cases.c.id, cases.c.case_no)) if no})
    seen: set[int] = set()
    for case_id, data, at in conn.execute(sa.select(journal.c.case_id, journal.c.data, journal.c.at).where(
            journal.c.type == "service.called", journal.c.data.like('%"handler":"merge_repeat"%'))
            .order_by(journal.c.case_id, journal.c.seq)):
        result = _json(data).get("result")
        if case_id in seen or not isinstance(result, dict) or not isinstance(result.get("original_case_no"), str):
            continue
        seen.add(case_id)
        original_no = result["original_case_no"]
        conn.execute(sa.insert(links).values(repeat_case_id=case_id, original_case_id=numbers.get(original_no),
                                             original_case_no=original_no[:64],
                                             outcome=str(result.get("outcome") or "并入原件")[:16], linked_at=at))


def _json(text) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def downgrade() -> None:
    op.drop_index(op.f("ix_repeat_link_original_case_id"), table_name="repeat_link")
    op.drop_table("repeat_link")
    op.drop_index(op.f("ix_case_instance_confidential_unit"), table_name="case_instance")
    op.drop_index(op.f("ix_case_instance_confidential"), table_name="case_instance")
    op.drop_column("case_instance", "confidential_unit")  # SQLite 3.35+ drops a column in place
    op.drop_column("case_instance", "confidential")
