"""`lianxin`: the command line (see README and shared interfaces). Every command starts at `bootstrap()`."""
from __future__ import annotations

import json
import sys

import click

from . import common
from .calendar import calendar
from .exchange import exchange
from .keys import keys_group, parties_group
from .notify import notify
from .ops import backup, restore
from .org import org_group
from .retention import retention_group
from .security import security_log_group, user
from .stats import stats


@click.group()
def main() -> None:
    """连心 Lianxin 信访事项办理系统"""


@main.command()
@click.option("--demo", is_flag=True, help="load the demo organisation, users and cases")
def init(demo: bool) -> None:
    """Create or migrate the database, deploy processes/, optionally load demo data."""
    from ..setup import initialise

    c = common.container(migrated=False)
    report = initialise(c, demo=demo)
    for line in report:
        click.echo(line)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--comment", default="", help="why this deployment (journaled)")
@click.option("--actor", default="cli")
def deploy(paths, comment: str, actor: str) -> None:
    """Validate and deploy BPMN/DMN/form files or folders."""
    from engine.definitions import DefinitionError, collect_files

    c = common.container()
    try:
        versions, report = c.runtime.deploy_and_report(collect_files(list(paths)), actor=actor, comment=comment)
    except DefinitionError as err:
        for problem in err.problems:
            click.echo(str(problem), err=True)
        click.echo(f"部署失败：{len(err.problems)} 个问题，未部署任何文件（deployment refused, nothing deployed）", err=True)
        sys.exit(1)
    for v in versions:
        state = "新版本" if v.created else "未变化"
        view_only = " 仅供查看（view only: isExecutable=\"false\"）" if v.view_only else ""
        click.echo(f"{v.process_key} v{v.version} {v.content_hash[:12]} {state} {v.name}{view_only}")
    for path in report.paths:  # the smoke simulation that let the new versions through
        waits = "、".join(path.waits) or "—"
        click.echo(f"模拟运行通过（simulation passed）：{path.name}，停在 {waits}{('；' + path.stopped) if path.stopped else ''}")
        for warning in path.warnings:
            click.echo(f"  提醒（warning）：{warning}")


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve(host: str, port: int) -> None:
    """Serve the web app (development server; use gunicorn in production, see README)."""
    from ..app import create_app

    app = create_app()
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@main.command()
@click.option("--once", is_flag=True, help="fire what is due now, then exit")
@click.option("--now", "now_text", default=None, help="ISO-8601 instant to use as now (tests, demos)")
@click.option("--poll", default=5.0, type=float, help="seconds between polls")
@click.option("--name", default=None, help="worker name in logs")
def worker(once: bool, now_text: str | None, poll: float, name: str | None) -> None:
    """Fire due timers, deliver notifications from the outbox, exchange with the upstream system. Several may run
    at once."""
    import logging

    from infra.delivery_worker import DeliveringWorker

    # What each round fired and sent, and every failure, goes to the service's log (systemd's journal).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("spiff", "alembic"):  # every task state change, every migration check
        logging.getLogger(chatty).setLevel(logging.WARNING)

    from ..exchange_setup import worker_jobs
    from ..notify_setup import build_deliverer

    c = common.container(now_text)
    w = DeliveringWorker(build_deliverer(c), c.runtime, c.session_factory, c.clock, name=name, jobs=worker_jobs(c))
    if once:
        result = w.run_once()
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    w.run_forever(poll_seconds=poll)


@main.group()
def token() -> None:
    """API tokens for integrations."""


@token.command("create")
@click.argument("username")
@click.option("--label", default="cli")
@click.option("--days", type=click.IntRange(1, 3650), default=None,
              help="days until the token stops working (default: LIANXIN_TOKEN_DAYS, 90)")
def token_create(username: str, label: str, days: int | None) -> None:
    """Print a new API token for USERNAME (shown once; only its hash is kept); its id and expiry on stderr."""
    from sqlalchemy import select

    from infra.accounts import ApiToken, User, create_token

    c = common.container()
    days = days or c.settings.token_days
    with c.session_factory() as s, s.begin():
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"用户 {username} 不存在（no such user）")
        secret = create_token(s, user, label, c.clock.now(), days=days)
        s.flush()
        row = s.scalar(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc()).limit(1))
        click.echo(secret)
        click.echo(f"令牌 {row.id}，有效期至 {row.expires_at.isoformat()}（token id {row.id}, expires "
                   f"{row.expires_at.isoformat()}）", err=True)


@token.command("list")
@click.argument("username")
def token_list(username: str) -> None:
    """USERNAME's tokens: id, label, made, expires, state, uses. Never the tokens themselves."""
    from sqlalchemy import select

    from infra.accounts import User, token_expiry, tokens_of

    c = common.container()
    now = c.clock.now()
    with c.session_factory() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"用户 {username} 不存在（no such user）")
        rows = tokens_of(s, user)
    click.echo("id\tlabel\tcreated\texpires\tstate\tuses")
    for row in rows:
        expires = token_expiry(row)
        state = "revoked" if row.revoked else "expired" if expires <= now else "active"
        click.echo(f"{row.id}\t{row.label}\t{row.created_at.isoformat()}\t{expires.isoformat()}\t{state}\t{row.uses}")


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID (see `lianxin token list USER`): refused with 401 from its next request on."""
    from infra.accounts import revoke_token

    c = common.container()
    with c.session_factory() as s, s.begin():
        row = revoke_token(s, token_id)
        if row is None:
            raise click.ClickException(f"令牌 {token_id} 不存在，请用 lianxin token list USER 查看编号"
                                       f"（no such token id: see `lianxin token list USER`）")
    click.echo(f"令牌 {token_id} 已吊销（token {token_id} revoked）")


@main.group()
def audit() -> None:
    """Auditors' tools."""


@audit.command("verify")
@click.argument("cases", nargs=-1)
def audit_verify(cases) -> None:
    """Check each case (case number or internal id; none: every case): its journal's hash chain, then a replay of
    the journal against the stored state. Progress on stderr. Exit 0 all verified, 1 any case failed (each named
    with its first bad event), 2 a named case does not exist."""
    from sqlalchemy import select
    from tqdm import tqdm

    from engine.store import Case
    from services.case_lookup import case_numbers, find_cases
    from services.case_numbers import keys_for

    c = common.container()
    keys = keys_for(c.settings.secret_key, c.settings.previous_secret_keys)
    with c.session_factory() as s:
        if not cases:
            ids = list(s.scalars(select(Case.id).order_by(Case.id)))
        else:
            ids, missing = [], []
            for given in cases:
                hits = find_cases(s, given, keys)
                missing.extend([] if hits else [given])
                ids.extend(i for i in hits if i not in ids)
            if missing:
                click.echo(f"找不到案件：{'、'.join(missing)}（no such case; give a case number or id）", err=True)
                c.engine.dispose()
                sys.exit(2)
    bad = []
    for case_id in tqdm(ids, desc="verify", unit="case", file=sys.stderr):
        result = c.runtime.verify(case_id)
        if not result.ok:
            bad.append((case_id, result))
    with c.session_factory() as s:
        numbers = case_numbers(s, [case_id for case_id, _ in bad])
    c.engine.dispose()  # a caller in the same process (a test) keeps no open connection
    for case_id, result in bad:
        suffix = f" [{numbers[case_id]}]" if case_id in numbers else ""
        click.echo(f"案件 {case_id}: 第 {result.first_bad_seq} 号事件起校验失败：{result.reason}{suffix}")
    click.echo(f"{len(ids) - len(bad)}/{len(ids)} 个案件校验通过")
    sys.exit(1 if bad else 0)


@audit.command("seal")
def audit_seal() -> None:
    """Seal the journal events written before sealing began (once, right after upgrading to a version that seals
    them). Each case is sealed only if its hash chain and replay verify; an unsealed event written after sealing
    began is refused (its seal was removed). Exit 0 all sealed, 1 a case was refused (each named with why)."""
    c = common.container()
    result = c.runtime.seal_unsealed(actor="lianxin audit seal")
    for case_id, reason in result["refused"]:
        click.echo(f"案件 {case_id}: 未加封：{reason}")
    click.echo(f"已为 {result['cases']} 个案件的 {result['events']} 个事件加封，{len(result['refused'])} 个案件被拒绝"
               f"（sealed {result['events']} events of {result['cases']} cases, refused {len(result['refused'])}）")
    sys.exit(1 if result["refused"] else 0)


main.add_command(calendar)
main.add_command(notify)
main.add_command(exchange)
main.add_command(backup)
main.add_command(restore)
main.add_command(stats)
main.add_command(user)
main.add_command(security_log_group)
main.add_command(keys_group)
main.add_command(parties_group)
main.add_command(retention_group)
main.add_command(org_group)


if __name__ == "__main__":
    main()
