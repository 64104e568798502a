"""The Alembic history creates exactly the tables and columns the models declare, on both databases."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.db import Base
from infra.db import make_engine
from infra.migrate import current_revision
from services import schema  # noqa: F401
from tests.support.migrations import HEAD


def _declared(obj, name, type_, reflected, compare_to) -> bool:
    """The case search's text index is made by migration 0021 alone, differently on each database (an FTS5 table
    and its triggers on SQLite, a pg_trgm GIN index on PostgreSQL): no model declares it."""
    return not (name or "").startswith(("case_text_fts", "ix_case_text_trgm"))


def test_models_and_migrations_agree(database_url):
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is not None
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(
                conn, opts={"compare_type": False, "include_object": _declared}), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_one_head():
    """Parallel branches are joined by a merge revision: the next migration has one parent."""
    from alembic.script import ScriptDirectory

    from infra.migrate import alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [HEAD]
