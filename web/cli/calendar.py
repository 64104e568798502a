"""`lianxin calendar show|import|due`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from engine.clock import parse_instant

from . import common


@click.group()
def calendar() -> None:
    """Working-day calendar (工作日历)."""


@calendar.command("show")
@click.argument("year", type=int)
@click.option("--json", "as_json", is_flag=True)
def show(year: int, as_json: bool) -> None:
    from engine.calendar import CalendarError

    c = common.container()
    try:
        info = c.calendar.show_year(year)
    except CalendarError as err:
        raise click.ClickException(str(err)) from None
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, default=str, indent=2))
        return
    for key, value in info.items():
        if isinstance(value, list):
            click.echo(f"{key}:")
            for item in value:
                click.echo(f"  {item}")
        else:
            click.echo(f"{key}: {value}")


@calendar.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--actor", default="cli")
def import_(file: str, actor: str) -> None:
    from engine.calendar import CalendarImportError

    c = common.container()
    try:
        outcome = c.runtime.import_calendar(Path(file), actor)
    except CalendarImportError as err:
        click.echo(str(err), err=True)
        sys.exit(1)
    click.echo(str(outcome["import"]))
    r = outcome["recomputed"]
    click.echo(f"重新计算期限：{r['cases']} 件案件，{r['moved']} 个期限已调整（open deadlines recomputed）")


@calendar.command("due")
@click.argument("start")
@click.option("--workdays", type=int, default=None)
@click.option("--days", type=int, default=None)
@click.option("--no-roll", is_flag=True, help="CAL(n): do not move a due date off a rest day")
def due(start: str, workdays: int | None, days: int | None, no_roll: bool) -> None:
    from engine.calendar import CalendarError

    if (workdays is None) == (days is None):
        raise click.UsageError("give exactly one of --workdays N or --days N")
    c = common.container()
    when = parse_instant(start) if "T" in start else __import__("datetime").date.fromisoformat(start)
    try:
        deadline = c.calendar.due(when, workdays=workdays, days=days, roll_forward=not no_roll)
    except CalendarError as err:
        raise click.ClickException(str(err)) from None
    click.echo(deadline.due_date.isoformat())
    click.echo(deadline.explain())
