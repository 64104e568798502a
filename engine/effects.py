"""Side effects that handlers ask for with `ctx.emit(kind, ...)`, written in the step's own transaction.

Three kinds are built in: `notify` (a row in the outbox, delivered later by the worker), `register`
(open, update or close a row of a case register such as the four lists; with `of_parent` the row of the case
that started this one), `confidential` (the case is seen only by the people of one unit from now on: the case
row's `confidential` and `confidential_unit`) and `start_case` (start a case of another deployed process, linked to
this one, in the same transaction right after the step). Deployments may add more sinks.
Every effect is journaled, so an auditor sees which step asked for which notification or list entry.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .journal import to_json
from .row_writes import rows_where
from .store import Case, CaseRegister, Outbox, ProcessDefinition

CHANNELS = ("inapp", "email", "sms")


class EffectError(ValueError):
    pass


@dataclass
class EffectContext:
    case: Case
    element_id: str | None
    now: datetime
    actor: str
    seq_hint: str  # unique per effect within the case's history (journal position + index)


Sink = Callable[[Session, dict, EffectContext], dict]


def notify(s: Session, payload: dict[str, Any], ctx: EffectContext) -> dict:
    channel = payload.get("channel", "inapp")
    if channel not in CHANNELS:
        raise EffectError(f"未知的通知渠道 {channel}（unknown channel; use one of {', '.join(CHANNELS)}）")
    recipient, template = payload.get("recipient"), payload.get("template")
    if not recipient or not template:
        raise EffectError("通知需要 recipient 和 template（a notification needs recipient and template）")
    key = payload.get("key") or hashlib.sha256(
        f"{ctx.case.id}|{ctx.seq_hint}|{channel}|{recipient}|{template}".encode()).hexdigest()[:40]
    s.add(Outbox(case_id=ctx.case.id, idempotency_key=key, channel=channel, recipient=str(recipient),
                 template=str(template), template_version=int(payload.get("template_version", 1)),
                 payload=to_json(payload.get("data", {})), status="pending", attempts=0,
                 next_attempt_at=ctx.now, created_at=ctx.now))
    return {"idempotency_key": key, "channel": channel, "template": template}


# A register's row, read through the driver (engine.row_writes: the session's copy, as the ORM's query gives it,
# for a fraction of the query's cost)
_REGISTER_ROW = "t.case_id = {p} AND t.register = {p} AND t.key = {p}"


def register(s: Session, payload: dict[str, Any], ctx: EffectContext) -> dict:
    name, key = payload.get("register"), payload.get("key")
    if not name or not key:
        raise EffectError("登记簿条目需要 register 和 key（a register entry needs register and key）")
    action = payload.get("action", "open")
    if action not in ("open", "update", "close"):
        raise EffectError(f"未知的登记簿操作 {action}（action must be open, update or close）")
    case_id = ctx.case.id
    if payload.get("of_parent"):  # a linked case keeps the row of the case that started it (a 督办 row)
        case_id = ctx.case.parent_case_id
        if case_id is None:
            raise EffectError("本案件不是由其他案件启动的，没有上级案件的登记簿（no parent case for of_parent）")
    row = next((o for o in s.new if isinstance(o, CaseRegister) and o.case_id == case_id
                and o.register == name and o.key == str(key)), None)  # opened earlier in this same step
    if row is None:
        row = next(iter(rows_where(s, CaseRegister, _REGISTER_ROW, (case_id, name, str(key)))), None)
    if row is None:
        if action != "open":
            raise EffectError(f"登记簿 {name} 中没有 {key}，无法{action}（no such entry to {action}）")
        row = CaseRegister(case_id=case_id, register=name, key=str(key), status="open", opened_at=ctx.now,
                           updated_at=ctx.now, data="{}")
        s.add(row)
    if "unit" in payload:
        row.unit = payload["unit"]
    if "person" in payload:
        row.person = payload["person"]
    if "data" in payload:
        row.data = to_json(payload["data"])
    row.updated_at = ctx.now
    if action == "close":
        row.status, row.closed_at = "closed", ctx.now
    elif action == "open":
        row.status, row.closed_at = "open", None
    out = {"register": name, "key": str(key), "action": action}
    if case_id != ctx.case.id:
        out["case_id"] = case_id
    return out


def confidential(s: Session, payload: dict[str, Any], ctx: EffectContext) -> dict:
    """Make the case confidential to one unit (`unit`: the one unit whose people may see it from now on, e.g. the
    discipline organ an accusation went to). Only ever tightens: a confidential case stays confidential."""
    unit = payload.get("unit")
    if not isinstance(unit, str) or not unit:
        raise EffectError("保密需要 unit（接收单位代码）（a confidential effect needs the receiving unit）")
    ctx.case.confidential = True
    ctx.case.confidential_unit = unit
    return {"confidential": True, "unit": unit}


def start_case(s: Session, payload: dict[str, Any], ctx: EffectContext) -> dict:
    """Checks the request only: the runtime starts the case once the step that asked for it has been saved
    (`Runtime._execute_in`), in the same transaction, with this case as its parent."""
    key, data = payload.get("process_key"), payload.get("data", {})
    if not isinstance(key, str) or not key or not isinstance(data, dict):
        raise EffectError("启动关联案件需要流程标识 process_key 和数据 data（start_case needs process_key and data）")
    if s.scalar(select(ProcessDefinition.id).where(ProcessDefinition.process_key == key).limit(1)) is None:
        raise EffectError(f"流程 {key} 尚未部署，无法启动关联案件（process {key} is not deployed）")
    return {"process_key": key, "parent_case_id": ctx.case.id}


BUILTIN_SINKS: dict[str, Sink] = {"notify": notify, "register": register, "confidential": confidential,
                                 "start_case": start_case}
