"""`lianxin org`: the organisation (units and who holds which role where).

- `lianxin org import FILE [--dry-run] [--actor NAME]`: import a YAML file in the format of
  processes/organisation.yaml or an .xlsx workbook (sheets 单位 and 人员), see services/org_import.py and
  docs/organisation.md. Every problem is printed with its sheet and row and nothing changes (exit 1); otherwise the
  changes are applied, journaled and printed (exit 0). `--dry-run` checks and prints without changing anything.
- `lianxin org export FILE.xlsx`: the current organisation as a workbook to edit and import again.
- `lianxin org check`: the (role, unit) pairs the deployed routing can produce that nobody holds (exit 1 if a
  required one is missing).
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from . import common


@click.group("org")
def org_group() -> None:
    """组织机构：导入、导出、检查（units and roles: import, export, coverage check）"""


def _describe(plan) -> list[str]:
    lines = []
    for kind, label in (("added", "新增"), ("changed", "修改"), ("removed", "删除")):
        for u in plan.units[kind]:
            lines.append(f"单位{label}：{u['code']}" + (f" {u.get('name') or u.get('after', {}).get('name', '')}"))
        for m in plan.memberships[kind]:
            lines.append(f"角色{label}：{m['username']} 在 {m['unit']} 担任 {m['role']}"
                         + ("（含下级）" if m.get("subunits") else ""))
    for u in plan.users["added"]:
        lines.append(f"新用户：{u['username']} {u['name']}（尚无密码，请用 lianxin user set-password 设置）")
    for u in plan.users["renamed"]:
        lines.append(f"姓名修改：{u['username']} {u['before']} → {u['after']}")
    return lines


@org_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="check and show the changes, change nothing")
@click.option("--actor", default="cli", help="who imports (journaled)")
def org_import(path: Path, dry_run: bool, actor: str) -> None:
    """Import the organisation from a .yaml or .xlsx file (everything is checked first)."""
    from services import org_import as imp

    c = common.container()
    tiers = c.extras["org_chart"].current().tiers
    try:
        plan, change_id = imp.run(c.session_factory, path.name, path.read_bytes(), tiers, actor=actor,
                                  at=c.clock.now(), dry_run=dry_run)
    except imp.ImportRefused as refused:
        for issue in refused.issues:
            click.echo(str(issue), err=True)
        click.echo(f"导入被拒绝：{len(refused.issues)} 个问题，组织机构未作任何改动（import refused, nothing changed）",
                   err=True)
        sys.exit(1)
    for line in _describe(plan):
        click.echo(line)
    for warning in plan.warnings:
        click.echo(f"提醒（warning）：{warning}")
    if dry_run:
        click.echo("检查通过（dry run）：以上改动尚未写入" if not plan.empty() else "检查通过：与当前组织机构相同")
    elif change_id is None:
        click.echo("与当前组织机构相同，未作改动（nothing to change）")
    else:
        c.extras["org_chart"].refresh()
        click.echo(f"已导入组织机构（变更记录 {change_id}）：{plan.counts()}")


@org_group.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def org_export(path: Path) -> None:
    """Write the current organisation as an .xlsx workbook (the import template)."""
    from services.org_import import workbook

    c = common.container()
    with c.extras["read_sessions"]() as s:
        path.write_bytes(workbook(s))
    click.echo(f"已导出到 {path}")


@org_group.command("check")
def org_check() -> None:
    """List the (role, unit) pairs the deployed routing can produce that nobody holds."""
    from services import org_coverage

    c = common.container()
    chart = c.extras["org_chart"].current()
    with c.extras["read_sessions"]() as s:
        roles, texts = org_coverage.deployed_routing(s)
        found = org_coverage.gaps(chart, org_coverage.memberships_in(s), roles, texts)
    for gap in found:
        click.echo(("缺少（required）：" if gap.required else "提醒（advised）：") + gap.text())
    required = [g for g in found if g.required]
    click.echo(f"必须有人的缺口 {len(required)} 个，建议补充 {len(found) - len(required)} 个")
    sys.exit(1 if required else 0)
