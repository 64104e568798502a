"""`lianxin exchange poll|report`: the exchange with the upstream petition information system (docs/exchange.md).

Registered in web/cli/main.py.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from services import exchange as exchange_service

from ..exchange_setup import poll as poll_folder
from . import common


@click.group()
def exchange() -> None:
    """Exchange with the upstream petition information system (上级信访信息系统)."""


@exchange.command("poll")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
def poll(directory: Path) -> None:
    """Register the matters in DIRECTORY's *.json files (done: moved to DIRECTORY/done/; invalid: moved to
    DIRECTORY/rejected/ with NAME.problems.json). Prints what was done as JSON; exit 1 if a file was rejected."""
    found = poll_folder(common.container(), directory)
    click.echo(json.dumps(found, ensure_ascii=False, indent=2))
    for item in found["rejected"]:
        click.echo(f"已退回（rejected）{item['file']}：" + "；".join(f"{p['path']}: {p['message']}"
                                                                  for p in item["problems"]), err=True)
    if found["rejected"]:
        sys.exit(1)


@exchange.command("report")
def report() -> None:
    """Queue the status changes not yet reported to the upstream system (the worker does this every round)."""
    click.echo(json.dumps({"reports_queued": exchange_service.queue_reports(common.container())}))
