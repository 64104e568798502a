"""`lianxin stats freeze YYYY-MM [--unit U] [--actor A]` and `lianxin stats show PERIOD [--unit U] [--live]`.

Freezing stores the month's KPIs and county rankings as computed now (`stats_snapshot`); a frozen month is
never recomputed, so published figures can be reproduced later. Registered in web/cli/main.py.
"""
from __future__ import annotations

import json

import click

from . import common


@click.group()
def stats() -> None:
    """Statistics (统计): freeze a month's published figures, show the KPIs."""


def _run(fn):
    """KPI errors (bad period, unknown unit, already frozen) as one clear line and exit status 1."""
    from services.stats_requests import StatsRefused

    try:
        return fn()
    except StatsRefused as err:
        raise click.ClickException(err.message()) from None


@stats.command("freeze")
@click.argument("period")
@click.option("--unit", default=None, help="a unit code (with its subunits); default: every unit")
@click.option("--actor", default="cli", help="who publishes the figures (recorded with the snapshot)")
@click.option("--now", "now_text", default=None, help="ISO-8601 instant to use as now (tests, demos)")
def freeze(period: str, unit: str | None, actor: str, now_text: str | None) -> None:
    """Freeze the KPIs of statistical month PERIOD (YYYY-MM)."""
    from services.stats_requests import freeze_month

    if len(period) != 7:
        raise click.ClickException("请给出统计月，例如 2026-03（a month as YYYY-MM）")
    snap = _run(lambda: freeze_month(common.container(now_text), period, unit, actor))
    click.echo(f"已冻结 {snap['period']}（{snap['scope']}），{len(snap['result']['kpis'])} 项指标，"
               f"口径版本 {snap['settings_digest']}")


@stats.command("show")
@click.argument("period")
@click.option("--unit", default=None)
@click.option("--live", is_flag=True, help="compute now even if the month is frozen")
@click.option("--json", "as_json", is_flag=True, help="the full answer of GET /api/stats as JSON")
@click.option("--now", "now_text", default=None)
def show(period: str, unit: str | None, live: bool, as_json: bool, now_text: str | None) -> None:
    """Print the KPIs of PERIOD (YYYY-MM or YYYY): numerator / denominator = value."""
    from services.stats_requests import compute_report

    result = _run(lambda: compute_report(common.container(now_text), period=period, unit=unit, live=live))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    state = f"已冻结 {result['frozen']['frozen_at']}" if result.get("frozen") else "实时计算"
    click.echo(f"统计期 {result['period']['label']}（{result['period']['from']} 至 {result['period']['to']}），{state}")
    for k in result["kpis"]:
        if k["denominator"] is None:
            click.echo(f"{k['label']}: {k['numerator']}")
        else:
            value = "—" if k["value"] is None else f"{k['value']}%"
            click.echo(f"{k['label']}: {k['numerator']}/{k['denominator']} = {value}")
