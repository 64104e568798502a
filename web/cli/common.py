"""What every `lianxin` command needs: the container (built by `bootstrap()`, on a database at the newest
revision). Commands call `common.container(...)` through this module, so a test can wrap it."""
from __future__ import annotations

import click

from engine.clock import SettableClock, parse_instant


def container(now: str | None = None, *, migrated: bool = True):
    from ..bootstrap import bootstrap  # builds the engine: not for `lianxin --help`

    clock = SettableClock(parse_instant(now)) if now else None
    c = bootstrap(clock=clock)
    if migrated:
        require_current_schema(c)
    return c


def require_current_schema(c) -> None:
    """Every command but `init` needs the database at the newest revision: say so instead of an SQL error."""
    from alembic.script import ScriptDirectory

    from infra.migrate import alembic_config, current_revision

    head = ",".join(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))
    current = current_revision(c.engine)
    if current is None:
        raise click.ClickException("数据库尚未初始化，请先运行 lianxin init（the database is empty: run `lianxin init`）")
    if current != head:
        raise click.ClickException(f"数据库版本 {current} 落后于 {head}，请运行 lianxin init 升级"
                                   f"（the database needs migrating: run `lianxin init`）")
