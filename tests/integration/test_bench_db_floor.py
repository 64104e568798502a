"""The bench's database floor (tests/bench/engine_steps.py DbFloor, issue #21): what it reports as the database's
own part of a persisted step must be that work — the case row locked, read and written back with its next version,
one journal row appended, all committed — on both databases, with no transaction left open after a step."""
from __future__ import annotations

from psycopg.pq import TransactionStatus
from sqlalchemy import text

from infra.db import make_engine
from tests.bench.engine_steps import DbFloor


def _open_transaction(db: DbFloor) -> bool:
    if db.sqlite:
        return db.conn.driver_connection.in_transaction
    return db.conn.driver_connection.info.transaction_status != TransactionStatus.IDLE


def test_a_database_floor_step_locks_writes_back_and_journals_in_one_committed_transaction(database_url):
    engine = make_engine(database_url)
    states = ['{"a":1}', '{"b":"办理意见"}']
    db = DbFloor(engine, states, offset=10)
    try:
        for i in range(len(states)):
            db.add(i)
        states[0] = '{"a":2}'  # the floor's next state for case 0
        db.step(0)
        assert not _open_transaction(db)
        db.step(0)
        db.step(1)
        assert not _open_transaction(db)
        with engine.connect() as conn:  # another connection sees what the steps committed
            rows = conn.execute(text("SELECT id, version, state FROM bench_floor_case ORDER BY id")).all()
            journal = conn.execute(text("SELECT case_id FROM bench_floor_log ORDER BY id")).scalars().all()
        assert [tuple(r) for r in rows] == [(10, 3, '{"a":2}'), (11, 2, '{"b":"办理意见"}')]
        assert journal == [10, 10, 11]
    finally:
        db.close()
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE bench_floor_case"))
            conn.execute(text("DROP TABLE bench_floor_log"))
        engine.dispose()
