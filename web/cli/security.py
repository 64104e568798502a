"""`lianxin user ...` (passwords, second factor, lockout, roles) and `lianxin security-log ...` (export, purge,
verify). Every change is written to the security log with the command as its actor.

The operator's CLI runs on the server with the database credentials; it needs no second factor (whoever runs it
can read the database already) and its bearer tokens (`lianxin token create`) are unchanged: they are made for
integrations, expire, and are revoked with `lianxin token revoke`.
"""
from __future__ import annotations

import getpass
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path

import click
from sqlalchemy import select

from engine.clock import SHANGHAI
from infra import lockout, password_rules, second_factor, security_log
from infra.accounts import Membership, Unit, User, set_password

from . import common


@contextmanager
def _container() -> Iterator:
    """The container for one command; its connections are closed when the command ends."""
    from ..bootstrap import bootstrap

    c = bootstrap()
    try:
        common.require_current_schema(c)  # the database at the newest revision, or a message saying to run init
        yield c
    finally:
        c.engine.dispose()


def _actor(command: str) -> str:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "?"
    return f"lianxin {command} ({who})"[:64]


def _user(s, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"没有用户 {username}（no such user）")
    return user


def _record(s, c, command: str, kind: str, detail: dict) -> None:
    security_log.append_in(s, at=c.clock.now(), actor=_actor(command), kind=kind, detail=detail)


@click.group()
def user() -> None:
    """Accounts: password, second factor (TOTP), lockout, roles."""


@user.command("set-password")
@click.argument("username")
@click.password_option("--password", prompt="新密码（new password）")
def set_password_command(username: str, password: str) -> None:
    """Set a user's password (the password rules apply); their sessions end."""
    with _container() as c:
        try:
            password_rules.check(password, username)
        except password_rules.PasswordRuleError as err:
            raise click.ClickException(err.message) from None
        with c.session_factory() as s, s.begin():
            set_password(_user(s, username), password)
            _record(s, c, "user set-password", "password_change", {"user": username})
        click.echo(f"已设置 {username} 的密码（password set）")


@user.command("enrol-totp")
@click.argument("username")
def enrol_totp(username: str) -> None:
    """Enrol a user's authenticator: prints the secret, its otpauth URI and ten recovery codes, once. Hand them
    to the user in person; a factor enrolled before is replaced."""
    with _container() as c:
        box = second_factor.SecretBox(c.settings.secret_key, c.settings.previous_secret_keys)
        with c.session_factory() as s, s.begin():
            user_id = _user(s, username).id
            secret, codes = second_factor.enrol_now(s, user_id, box, c.clock.now())
            _record(s, c, "user enrol-totp", "second_factor", {"action": "enrolled_by_operator", "user": username})
        click.echo(f"密钥（secret）: {secret}")
        click.echo(f"链接（otpauth URI）: {second_factor.provisioning_uri(secret, username)}")
        click.echo("恢复码（recovery codes, each works once）:")
        for code in codes:
            click.echo(f"  {code}")


@user.command("reset-totp")
@click.argument("username")
def reset_totp(username: str) -> None:
    """Remove a user's authenticator and recovery codes (a lost phone); enrol again with enrol-totp."""
    with _container() as c:
        with c.session_factory() as s, s.begin():
            removed = second_factor.reset(s, _user(s, username).id)
            _record(s, c, "user reset-totp", "second_factor", {"action": "reset", "user": username, "had_one": removed})
        click.echo(f"已重置 {username} 的二次验证（second factor reset）" if removed else f"{username} 未绑定验证器（none enrolled）")


@user.command("unlock")
@click.argument("username")
def unlock(username: str) -> None:
    """Lift a lockout before it runs out."""
    with _container() as c:
        with c.session_factory() as s, s.begin():
            lifted = lockout.unlock(s, _user(s, username).id)
            _record(s, c, "user unlock", "lockout", {"action": "unlocked", "user": username})
        click.echo(f"已解锁 {username}（unlocked）" if lifted else f"{username} 未被锁定（not locked）")


@user.command("grant")
@click.argument("username")
@click.argument("role")
@click.argument("unit")
@click.option("--subunits", is_flag=True, help="the role holds in the unit's subunits too")
def grant(username: str, role: str, unit: str, subunits: bool) -> None:
    """Give a user a role in a unit."""
    with _container() as c:
        with c.session_factory() as s, s.begin():
            user_id = _user(s, username).id
            if s.get(Unit, unit) is None:
                raise click.ClickException(f"没有单位 {unit}（no such unit）")
            held = s.scalar(select(Membership).where(Membership.user_id == user_id, Membership.unit_code == unit,
                                                     Membership.role == role))
            if held is not None:
                raise click.ClickException(f"{username} 已有 {unit} 的 {role} 角色（already held）")
            s.add(Membership(user_id=user_id, unit_code=unit, role=role, include_subunits=subunits))
            _record(s, c, "user grant", "role_change",
                    {"action": "granted", "user": username, "role": role, "unit": unit, "subunits": subunits})
        click.echo(f"已授予 {username} {unit} 的 {role} 角色（granted）")


@user.command("revoke-role")
@click.argument("username")
@click.argument("role")
@click.argument("unit")
def revoke_role(username: str, role: str, unit: str) -> None:
    """Take a role in a unit from a user."""
    with _container() as c:
        with c.session_factory() as s, s.begin():
            user_id = _user(s, username).id
            rows = s.scalars(select(Membership).where(Membership.user_id == user_id, Membership.role == role,
                                                      Membership.unit_code == unit)).all()
            for row in rows:
                s.delete(row)
            _record(s, c, "user revoke-role", "role_change",
                    {"action": "revoked", "user": username, "role": role, "unit": unit, "removed": len(rows)})
        click.echo(f"已撤销 {len(rows)} 项角色（revoked）")


@click.group("security-log")
def security_log_group() -> None:
    """The security audit log: export, verify, purge."""


def _since(value: str | None) -> datetime | None:
    return datetime.combine(date.fromisoformat(value), time(), SHANGHAI) if value else None


@security_log_group.command("export")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), help="write JSON lines here")
@click.option("--syslog", "address", help="send to a syslog receiver HOST:PORT (UDP, RFC 5424)")
@click.option("--since", help="only rows from this day (YYYY-MM-DD)")
def export(path: Path | None, address: str | None, since: str | None) -> None:
    """Export the log as a JSON-lines file or to syslog."""
    if not path and not address:
        raise click.UsageError("give --file or --syslog")
    with _container() as c:
        with c.extras["read_sessions"]() as s:
            if path:
                count = 0
                with path.open("w", encoding="utf-8") as f:
                    for line in security_log.json_lines(s, _since(since)):
                        f.write(line + "\n")
                        count += 1
                click.echo(f"已导出 {count} 条到 {path}（exported）")
            if address:
                host, _, port = address.rpartition(":")
                sent = security_log.to_syslog(s, (host or "127.0.0.1", int(port)), since=_since(since),
                                              socktype=socket.SOCK_DGRAM)
                click.echo(f"已发送 {sent} 条到 syslog {address}（sent）")


@security_log_group.command("verify")
def verify() -> None:
    """Check the log's hash chain; exit 1 on a broken chain."""
    with _container() as c:
        with c.extras["read_sessions"]() as s:
            check = security_log.verify(s)
        if check.ok:
            click.echo(f"安全审计日志完整，共 {check.rows} 条（chain intact）")
            return
        click.echo(f"第 {check.first_bad_seq} 条：{check.problem}")
        sys.exit(1)


@security_log_group.command("purge")
@click.option("--before", required=True, help="remove rows older than this day (YYYY-MM-DD)")
def purge(before: str) -> None:
    """Remove the oldest rows, older than --before; refused for rows younger than the retention period."""
    with _container() as c:
        with c.session_factory() as s, s.begin():
            try:
                removed = security_log.purge(s, before=_since(before), now=c.clock.now(),
                                             keep_days=c.settings.security_log_keep_days, actor=_actor("security-log purge"))
            except security_log.RetentionError as err:
                raise click.ClickException(str(err)) from None
        click.echo(f"已删除 {removed} 条（removed）")
