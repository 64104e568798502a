"""`lianxin retention run [--dry-run]`: erase the personal data of closed cases past their retention rule
(processes/retention.yaml, services/retention.py) by destroying their data keys. Operators schedule it daily
(docs/operations.md); `--dry-run` prints what it would erase and changes nothing."""
from __future__ import annotations

import sys

import click

from . import common


@click.group("retention")
def retention_group() -> None:
    """个人信息保存期限与删除（retention and erasure of personal data）"""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="print what would be erased, change nothing")
@click.option("--now", "now_text", default=None, help="ISO-8601 instant to use as now (tests, demos)")
@click.option("--actor", default="lianxin retention run")
def run(dry_run: bool, now_text: str | None, actor: str) -> None:
    """Erase the personal data of closed cases whose retention period is over."""
    from services import retention

    c = common.container(now_text)
    try:
        try:
            rules = retention.load(c.settings.processes_dir)
        except (retention.RetentionProblem, OSError) as err:
            click.echo(f"保存期限配置有误，未删除任何数据（nothing erased）: {err}", err=True)
            sys.exit(1)
        now = c.clock.now()
        with c.session_factory() as s:
            due = retention.due(s, now, rules)
        erased = 0
        for item in due:
            verb = "将删除（would erase）" if dry_run else "删除（erased）"
            if not dry_run:
                with c.session_factory() as s, s.begin():
                    if not retention.erase(s, item.case_id, item.rule, item.years, actor, now):
                        continue
                erased += 1
            click.echo(f"{verb} 案件 {item.case_no or item.case_id}（办结于 {item.closed_at.date().isoformat()}，"
                       f"{item.rule}）")
        c.extras["vault"].forget()
    finally:
        c.engine.dispose()
    count = len(due) if dry_run else erased
    click.echo(f"{'试运行' if dry_run else '完成'}：{count} 件（{'dry run' if dry_run else 'done'}: {count} cases）")
