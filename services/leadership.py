"""The 13710 leader track: the county that owns the case, its case-owning leader (包案领导) and task force
(化解专班). The milestones themselves (1/3/7/10 working days) are timers in `processes/leader_13710.bpmn`,
with their day limits in `processes/settings.dmn`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engine.handlers import HandlerContext

from . import four_lists
from .notify import send
from .orgchart import chart_for


@dataclass
class ScopeInput:
    unit: str
    receiving_leader: str = ""
    received_at: str = ""  # the leader's receipt (领导接访, i.e. its registration): the 13710 clock starts there


def case_owner_scope(inp: ScopeInput, ctx: HandlerContext) -> dict:
    """确定包案县（区）：责任单位所在的县，以及该县的信访部门；13710 计时自领导接访（登记）之日起算，
    未给出接访时间的（逐级上交）自此时起算。"""
    started_at = ctx.now.isoformat()
    if inp.received_at:
        try:
            received = datetime.fromisoformat(str(inp.received_at))
        except ValueError:
            raise ValueError(f"领导接访时间“{inp.received_at}”不是有效的时间（received_at must be an ISO instant）") from None
        if received.tzinfo is None:
            raise ValueError(f"领导接访时间“{inp.received_at}”缺少时区（received_at needs a time zone）")
        started_at = min(received, ctx.now).isoformat()
    chart = chart_for(ctx)
    county = chart.level_of(inp.unit)
    office = chart.petition_office(county.code)
    return {"county": county.code, "county_name": county.name, "county_office": office.code,
            "unit": inp.unit, "receiving_leader": inp.receiving_leader or ctx.data.get("receiving_leader"),
            "group_or_policy": bool(ctx.data.get("is_group_or_policy", False)), "started_at": started_at}


@dataclass
class OwnerInput:
    owner_leader: str
    task_force: list = field(default_factory=list)
    county: str = ""
    unit: str = ""
    case_no: str = ""
    milestones: dict | None = None


def name_case_owner(inp: OwnerInput, ctx: HandlerContext) -> dict:
    """登记包案领导和化解专班：写入领导包案清单和稳控责任清单（仅记录责任），通知包案领导和专班成员单位。"""
    leader = (inp.owner_leader or "").strip()
    if not leader:
        raise ValueError("必须明确县级包案领导（owner_leader is required）")
    members = [str(m).strip() for m in (inp.task_force or []) if str(m).strip()]
    if not members:
        raise ValueError("化解专班至少要有一个成员单位（the task force needs at least one member）")
    chart = chart_for(ctx)
    notice = send(ctx, [{"unit": inp.county, "role": "leader"}] + [{"unit": m, "role": "unit_handler"}
                                                                    for m in members if chart.has(m)],
                  "包案通知", {"case_no": inp.case_no, "leader": leader, "task_force": "、".join(
                      chart.name(m) if chart.has(m) else m for m in members)})
    lists = four_lists.put(ctx, "包案", f"包案-{inp.case_no or ctx.case_id}", {
        "case_id": ctx.case_id, "case_no": inp.case_no, "unit": inp.county, "leader": leader,
        "task_force": members, "responsible_unit": inp.unit, "status": "化解中", "milestones": inp.milestones,
        "notified": notice["to"]})
    # Stabilisation = responsibility for resolving the matter and keeping the work orderly (维稳责任); which
    # unit and which leader answer for it. No field about the petitioner exists or is accepted here.
    return four_lists.put(ctx, "稳控", f"稳控-{inp.case_no or ctx.case_id}", {
        "case_id": ctx.case_id, "case_no": inp.case_no, "unit": ctx.data.get("stabilisation_unit") or inp.unit,
        "leader": leader, "item": "落实化解稳定责任（依法及时就地解决诉求，不得限制信访人依法信访）",
        "status": "落实中"}, lists)
