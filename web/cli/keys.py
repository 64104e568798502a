"""`lianxin keys ...`: the master key of personal data at rest (infra/keys.py, docs/data-protection.md).

`lianxin keys rotate` re-wraps every data key under the current master key (LIANXIN_MASTER_KEY or
LIANXIN_MASTER_KEY_FILE) while the one it replaces is still listed in LIANXIN_PREVIOUS_MASTER_KEYS: the service
keeps running meanwhile. `lianxin keys status` counts the data keys per master key id, to see when the old key can
be retired. `lianxin keys new` prints a fresh master key (base64) for the key custodian.
"""
from __future__ import annotations

import sys

import click
from sqlalchemy import func, select

from infra import keys

from . import common


@click.group("keys")
def keys_group() -> None:
    """主密钥与数据密钥（master key and data keys of personal data）"""


@keys_group.command("new")
def new() -> None:
    """Print a new random SM4 master key (base64) for LIANXIN_MASTER_KEY or a key file."""
    click.echo(keys.new_master_key_text())


@keys_group.command("status")
def status() -> None:
    """Data keys per master key id; the current one is marked."""
    c = common.container()
    provider = c.extras["vault"].provider
    try:
        with c.session_factory() as s:
            rows = s.execute(select(keys.DataKey.master_key_id, func.count())
                             .group_by(keys.DataKey.master_key_id)).all()
    finally:
        c.engine.dispose()
    click.echo(f"当前主密钥（current master key）: {provider.current_id}")
    for key_id, count in rows:
        mark = "当前" if key_id == provider.current_id else ("已配置" if key_id in provider.known_ids() else "未配置")
        click.echo(f"{key_id}  {count}  {mark}")


@keys_group.command("rotate")
@click.option("--batch", default=200, type=click.IntRange(1, 10000), help="data keys per transaction")
def rotate(batch: int) -> None:
    """Re-wrap every data key under the current master key (the old one must still be configured as previous)."""
    c = common.container()
    provider = c.extras["vault"].provider
    try:
        result = keys.rotate(c.session_factory, provider, c.clock.now(), batch=batch)
        keys.record(c.session_factory, c.clock.now(), "lianxin keys rotate", step="rotate",
                    master_key_id=result.current_id, rewrapped=result.rewrapped, remaining=result.remaining)
    except keys.KeyProblem as err:
        click.echo(f"轮换中止（rotation stopped）: {err}", err=True)
        sys.exit(1)
    finally:
        c.engine.dispose()
    click.echo(f"已重新包装 {result.rewrapped} 个数据密钥，主密钥 {result.current_id}；剩余 {result.remaining} 个"
               f"（re-wrapped {result.rewrapped} data keys under {result.current_id}; {result.remaining} remain）")
    if result.remaining:
        sys.exit(1)


@click.group("parties")
def parties_group() -> None:
    """当事人个人信息（parties' personal data）"""


@parties_group.command("migrate")
def migrate_parties() -> None:
    """Move personal data of cases registered before the party table out of state and journal (verified)."""
    from services import party_migration

    c = common.container()
    try:
        outcome = party_migration.move_out(c.runtime, c.extras["vault"], c.clock.now())
        if outcome.moved or outcome.refused:
            keys.record(c.session_factory, c.clock.now(), "lianxin parties migrate", step="parties_moved_out",
                        cases=len(outcome.moved), refused=[case_id for case_id, _ in outcome.refused])
    finally:
        c.engine.dispose()
    click.echo(migration_line(outcome))
    for case_id, reason in outcome.refused:
        click.echo(f"案件 {case_id}：{reason}", err=True)
    if not outcome.finished:
        sys.exit(1)


def migration_line(outcome) -> str:
    state = "完成" if outcome.finished else f"未完成，{len(outcome.refused)} 件被拒绝"
    return (f"个人信息迁出：{len(outcome.moved)} 件案件，{state}"
            f"（personal data moved out of {len(outcome.moved)} cases; "
            f"{'finished' if outcome.finished else f'{len(outcome.refused)} refused, not finished'}）")
