"""`lianxin notify deliver|templates|outbox|resend`: notifications from the command line.

Registered in web/cli/main.py.
"""
from __future__ import annotations

import json

import click

from services import masking

from . import common


@click.group()
def notify() -> None:
    """Notifications (通知): deliver the outbox, list templates, resend dead letters."""


@notify.command("deliver")
@click.option("--once", is_flag=True, help="deliver what is due now, then exit")
@click.option("--now", "now_text", default=None, help="ISO-8601 instant to use as now (tests, demos)")
@click.option("--poll", default=5.0, type=float, help="seconds between rounds")
def deliver(once: bool, now_text: str | None, poll: float) -> None:
    """Deliver due notifications (in-app, e-mail, SMS). Several may run at once on PostgreSQL."""
    import logging
    import threading

    from ..notify_setup import build_deliverer

    c = common.container(now_text)
    deliverer = build_deliverer(c)
    if once:
        click.echo(json.dumps(deliverer.run_once(), ensure_ascii=False))
        return
    log = logging.getLogger("lianxin.delivery")
    stop = threading.Event()
    while not stop.is_set():
        try:
            result = deliverer.run_once()
            if any(result[k] for k in ("sent", "failed", "dead", "interrupted")):
                log.info("%s", result)
        except Exception:  # keep delivering; the next round retries
            log.exception("delivery round failed")
        stop.wait(poll)


@notify.command("templates")
def templates() -> None:
    """List notification templates with their versions and fields; exit 1 if any fails to render its example."""
    import sys

    from ..notify_setup import templates_of

    catalogue = templates_of(common.container())
    for t in catalogue.describe():
        click.echo(f"{t['template']}\tv{'/'.join(map(str, t['versions']))}\t{t['name']}\t{', '.join(t['fields'])}")
    problems = catalogue.check_examples()
    for problem in problems:
        click.echo(problem, err=True)
    sys.exit(1 if problems else 0)


@notify.command("outbox")
@click.option("--status", type=click.Choice(["pending", "failed", "sending", "sent", "dead"]), default="dead")
@click.option("--limit", default=50, type=int)
def outbox(status: str, limit: int) -> None:
    """List notifications by status (recipients masked)."""
    from services.outbox_queries import outbox_listing

    c = common.container()
    listing = outbox_listing(c.extras.get("read_sessions", c.session_factory), status=status, limit=limit)
    for item in listing["items"]:
        click.echo(f"{item['id']}\t{item['channel']}\t{item['recipient']}\t{item['template']} "
                   f"v{item['template_version']}\t{item['attempts']}\t{item['last_error'] or ''}")
    click.echo(f"{listing['total']} 条（{status}）")


@notify.command("resend")
@click.argument("outbox_id", type=int)
@click.option("--actor", required=True, help="who resends (kept with the notification)")
@click.option("--template-version", type=int, default=None, help="render with this version instead")
def resend_cmd(outbox_id: int, actor: str, template_version: int | None) -> None:
    """Re-queue a dead notification, or a failed one waiting for its retry."""
    from infra.delivery import OutboxConflict, OutboxNotFound, resend

    from ..notify_setup import templates_of

    c = common.container()
    try:
        result = resend(c.session_factory, templates_of(c), outbox_id, actor, c.clock.now(),
                        template_version=template_version, redact=masking.mask_contact_text)
    except (OutboxNotFound, OutboxConflict) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(result, ensure_ascii=False, default=str))
