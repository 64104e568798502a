"""One read session per request on PostgreSQL (web/request_session.py): the blocks of a request share it, what
they read is detached when the outermost block ends, a command committed between two blocks is seen by the second,
an error caught inside a block does not spoil the next, and the request's end closes it. SQLite keeps a session
per block (a read transaction there keeps its snapshot)."""
from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from infra.accounts import User
from web.app import create_app
from web.request_session import RequestReadSessions


@pytest.fixture
def app(container):
    return create_app(container)


def _rename(container, name: str) -> None:
    with container.session_factory() as s, s.begin():
        s.scalars(select(User).where(User.username == "someone")).one().display_name = name


def _add_user(container) -> None:
    with container.session_factory() as s, s.begin():
        s.add(User(username="someone", display_name="甲", password_hash="-"))


def test_blocks_of_a_request_share_one_session_on_postgresql_only(app, container):
    reads = container.extras["read_sessions"]
    with app.test_request_context("/"):
        with reads() as a, reads() as b:
            shared = a is b
    assert shared == (container.engine.dialect.name == "postgresql")
    assert isinstance(reads, RequestReadSessions) == shared


def test_a_command_committed_between_blocks_is_seen_and_earlier_objects_are_detached(app, container):
    _add_user(container)
    reads = container.extras["read_sessions"]
    with app.test_request_context("/"):
        with reads() as s:
            before = s.scalars(select(User).where(User.username == "someone")).one()
        assert inspect(before).detached
        _rename(container, "乙")
        with reads() as s:
            after = s.scalars(select(User).where(User.username == "someone")).one()
            assert after is not before
            assert after.display_name == "乙"
        assert before.display_name == "甲"  # what was read stays as it was read


def test_an_error_caught_inside_a_block_does_not_spoil_the_next(app, container):
    reads = container.extras["read_sessions"]
    with app.test_request_context("/"):
        with reads() as s:
            with contextlib.suppress(SQLAlchemyError):  # caught inside the block: the block goes on
                s.execute(text("SELECT 1 / 0"))
        with reads() as s:
            assert s.execute(text("SELECT 41 + 1")).scalar() == 42


def test_the_end_of_the_request_closes_the_session(app, container):
    reads = container.extras["read_sessions"]
    with app.test_request_context("/"):
        with reads() as s:
            s.execute(text("SELECT 1"))
        app.do_teardown_request()
        assert not s.in_transaction()
