"""Alembic environment. Run through `infra.migrate.upgrade(engine)` (what `lianxin init` does).

`target_metadata` is the one `engine.db.Base.metadata`. Upgrading does not read it; autogenerating a revision
does, and then every model must have been imported first (`import services.schema`): infra imports no services.
"""
from alembic import context

from engine.db import Base
from infra.db import make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        connectable = make_engine(config.get_main_option("sqlalchemy.url"))
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, user_module_prefix="sa.",
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
