"""The schema's head as the tests expect it, and a database taken back to an older revision and upgraded again."""
from __future__ import annotations

from alembic import command

from infra.db import make_engine
from infra.migrate import alembic_config, current_revision, upgrade

HEAD = "0022_growing_case"  # the one head (tests/integration/test_migrations.py checks the scripts agree)


def upgraded_from(database_url: str, revision: str) -> None:
    """Take the database back to `revision` (as it stood before the migrations after it), then upgrade it again;
    asserts that it is at HEAD."""
    engine = make_engine(database_url)
    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)
        upgrade(engine)
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()
