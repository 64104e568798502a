"""One read session per request on PostgreSQL (issue #21: per-request overhead).

The views and the services they call open a read session (`container().extras["read_sessions"]`) for every
question they ask: a task completion opened nine, each costing a pool checkout, a BEGIN and a ROLLBACK (two round
trips and about a millisecond of CPU each). Inside a request, `RequestReadSessions` hands every `with` block the
request's one session instead; when the outermost block ends its objects are detached (`expunge_all`) as closing
the session detached them, and the session is closed when the request ends.

What a reader sees is unchanged on PostgreSQL: under READ COMMITTED every statement sees what was committed before
it, whether or not the statements share a transaction, and the identity map is emptied between blocks, so nothing
read before a command's commit is handed out again after it. SQLite keeps one session per block: there a read
transaction keeps its snapshot, and a request would no longer see its own command's changes. Outside a request
(the CLI, the workers, tests calling services directly) the factory is the plain one."""
from __future__ import annotations

from flask import Flask, g, has_request_context
from sqlalchemy.exc import SQLAlchemyError

_KEY = "lianxin_read_session"


class RequestReadSessions:
    """Called like the sessionmaker it wraps (`with factory() as s:`); see the module docstring."""

    def __init__(self, factory):
        self.factory = factory

    def __call__(self, **kw):
        if kw or not has_request_context():
            return self.factory(**kw)
        return _Shared(self.factory)

    def __getattr__(self, name):  # the sessionmaker's other attributes (kw, class_, begin, ...)
        return getattr(self.factory, name)


class _Shared:
    def __init__(self, factory):
        self.factory = factory

    def __enter__(self):
        state = g.get(_KEY)
        if state is None:
            state = [self.factory(), 0]
            setattr(g, _KEY, state)
        state[1] += 1
        return state[0]

    def __exit__(self, exc_type, exc, tb):
        state = g.get(_KEY)
        session = state[0]
        state[1] -= 1
        if isinstance(exc, SQLAlchemyError) or (state[1] == 0 and _aborted(session)):
            session.close()  # the transaction is or may be aborted (an error caught inside the block): start anew
        elif state[1] == 0:
            session.expunge_all()  # what was read is detached, as a closed session left it
        return False


def _aborted(session) -> bool:
    """Whether the session's transaction failed on the server (psycopg's transaction status; no round trip)."""
    if not session.in_transaction():
        return False
    try:
        status = session.connection().connection.dbapi_connection.info.transaction_status
    except (AttributeError, SQLAlchemyError):
        return True
    return getattr(status, "name", "") == "INERROR"


def _close(_exc=None) -> None:
    state = g.pop(_KEY, None)
    if state is not None:
        state[0].close()


def install(app: Flask, container) -> None:
    """Wrap the container's read sessions for requests (PostgreSQL only; once per container)."""
    factory = container.extras.get("read_sessions")
    if factory is None or isinstance(factory, RequestReadSessions):
        if factory is not None:
            app.teardown_request(_close)
        return
    if container.engine.dialect.name != "postgresql":
        return
    container.extras["read_sessions"] = RequestReadSessions(factory)
    app.teardown_request(_close)
