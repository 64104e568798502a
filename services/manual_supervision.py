"""A 督办 issued by hand from the case page: the supervising office does not wait for the deadline to turn red.

It is the same 督办 as the automatic one (services/supervision.py `supervise`): a row of the supervision list, a
notice to the unit holding the case's open task and its head, and the linked supervision-feedback case in which
the unit reports back in writing. Only who asks and why differ: the person must hold the supervising role in the
office that supervises that unit (`supervisor_of`: the petition office one level up), and writes the reason.
The act is journaled on the case (`case.supervised`, with the unit, the office, the reason and the feedback case).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.case_chain import append_case_events, lock_case
from engine.commands import StartCase
from engine.effects import EffectContext
from engine.handlers import HandlerContext
from engine.journal import PendingEvent
from engine.store import Case, CaseRegister

from . import four_lists
from .orgchart import OrgChart, chart_for
from .refusals import Refused
from .supervision import FEEDBACK_PROCESS, SuperviseInput, supervise, supervising_role, supervisor_of

MAX_REASON_CHARS = 500


class SupervisionRefused(Refused):
    """The 督办 cannot be issued: `status` 403 (not the supervising office), 409 (nothing open to supervise) or
    422 (no reason)."""


@dataclass(frozen=True)
class Target:
    """What a manual 督办 of the case would do: which task of which unit, by which office (shown before it is done)."""
    task_name: str
    element_id: str
    unit: str
    unit_name: str
    role: str
    office: str
    office_name: str
    office_role: str
    due_at: datetime | None


def chart_of(runtime) -> OrgChart:
    return chart_for(SimpleNamespace(ports=runtime.ports))


def target(view, chart: OrgChart) -> Target | None:
    """The open task a 督办 of the case addresses (the first one held by a unit the chart knows and that has a
    supervisor), or None."""
    assignment = (view.data or {}).get("assignment")
    assigning = assignment.get("assigning_unit") if isinstance(assignment, dict) else None
    for t in view.tasks:
        if not t.unit or not chart.has(t.unit):
            continue
        office = supervisor_of(chart, t.unit, assigning)
        if office is None:
            continue
        return Target(t.name, t.element_id, t.unit, chart.name(t.unit), t.role or "unit_handler", office.code,
                      office.name, supervising_role(chart, office.code), t.due_at)
    return None


def may_issue(tgt: Target | None, holds: Callable[[str, str | None], bool]) -> bool:
    return tgt is not None and holds(tgt.office_role, tgt.office)


def issue(runtime, s: Session, case_id: int, actor: str, holds: Callable[[str, str | None], bool],
          reason: str, now: datetime, *, supervises: bool = False) -> dict:
    """Issue the 督办 inside the caller's transaction; returns what was done (row key, feedback case id).
    `supervises`: the caller works in an office that issues 督办 at all (web/visibility.py decides); only they are told
    that there is nothing to supervise, everyone else is refused."""
    text = (reason or "").strip()
    view = runtime.get_case(case_id)
    chart = chart_of(runtime)
    tgt = target(view, chart) if view.status != "completed" else None
    if tgt is None:
        if not supervises:
            raise SupervisionRefused(403, "督办由承办单位的上一级信访部门发出，您不能督办本件。")
        raise SupervisionRefused(409, "本件已办结，无需督办。" if view.status == "completed"
                                 else "本件当前没有由承办单位办理的待办任务，无需督办。")
    if not holds(tgt.office_role, tgt.office):
        raise SupervisionRefused(403, "督办「%(unit)s」由其上一级信访部门「%(office)s」发出，您不在该部门，不能督办本件。",
                                 {"unit": tgt.unit_name, "office": tgt.office_name})
    if not text:
        raise SupervisionRefused(422, "请写明督办理由。")
    if len(text) > MAX_REASON_CHARS:
        raise SupervisionRefused(422, "督办理由请控制在 %(n)s 字以内。", {"n": MAX_REASON_CHARS})
    lock_case(s, case_id)
    case = s.get(Case, case_id)
    data = dict(view.data or {})
    # the keys already used in the case's supervision list (also those written by earlier manual 督办)
    taken = s.scalars(select(CaseRegister.key).where(CaseRegister.case_id == case_id,
                                                     CaseRegister.register == four_lists.REGISTERS["督办"])).all()
    lists = dict(data.get("four_lists") or {}) if isinstance(data.get("four_lists"), dict) else {}
    lists["督办"] = dict(lists.get("督办") or {}, **{k: {} for k in taken})
    data["four_lists"] = lists
    ports = dict(runtime.ports)
    directory = getattr(runtime.script_engine, "directory", None)
    if directory is not None:
        ports.setdefault("directory", directory(s))
    ctx = HandlerContext(case_id=case_id, element_id=tgt.element_id, now=now, actor=actor, data=data, ports=ports)
    supervise(SuperviseInput(kind="督办", unit=tgt.unit, task=tgt.task_name, by=tgt.office, role=tgt.role,
                             note=text, due=tgt.due_at.isoformat() if tgt.due_at else ""), ctx)
    key, started = None, None
    for i, (kind, payload) in enumerate(ctx.effects):
        if kind == "start_case":
            started = runtime.execute(StartCase(payload["process_key"], dict(payload.get("data") or {}),
                                                parent_case_id=case_id), actor, session=s)
            continue
        if kind == "register":
            key = payload.get("key") or key
        sink = runtime.script_engine.sinks[kind]
        sink(s, payload, EffectContext(case, tgt.element_id, now, actor, f"{case.last_seq}.manual.{i}"))
    done = {"key": key, "unit": tgt.unit, "unit_name": tgt.unit_name, "office": tgt.office,
            "office_name": tgt.office_name, "task": tgt.task_name, "reason": text,
            "feedback_case_id": started.id if started is not None else None,
            "feedback_process": FEEDBACK_PROCESS}
    append_case_events(s, case_id, [PendingEvent("case.supervised", actor, now, tgt.element_id, done)])
    return done
