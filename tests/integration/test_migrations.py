"""The Alembic history creates exactly the tables and columns the models declare, on both databases."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine import schema  # noqa: F401
from engine.db import Base, make_engine
from engine.migrate import current_revision


def test_models_and_migrations_agree(database_url):
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is not None
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()
