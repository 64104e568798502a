"""二次交办 (second-level assignment): a petition office that received a matter passes it on, within its own
area, to the department or township that is to handle it; and the chain of hands a matter went through.

- Who may pass on: the petition office the matter was assigned to (its staff, in their office role: see
  services/work_placement.py), at the step "自办或二次交办" (form `second_assign.schema.json`), within
  `limits.reassign_days` (15 days from receiving it, 《信访工作条例》第二十二条).
- To whom: a unit of kind `department` or `township` of the office's own administrative level (东城县信访局: the
  departments and townships of 东城县). Anything else is refused at submission with the list of valid units
  (`scope_problems`, for every form field `"format": "lianxin-unit", "x-unit-scope": "subordinate"`), and again
  by the handler (`second_assign`) should a submission get past the form.
- After: the receiving unit signs, accepts and handles as the responsible unit; the passing office is the
  assigning office (`assignment["assigning_unit"]`): it decides objections, signs off (审核销号) and calls back.
- The chain (交办链): every dispatch of the case (`dispatch_case` results in the journal), in order:
  市信访局 → 东城县信访局 (交办) → 东城县人力资源和社会保障局 (二次交办), with dates.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from engine.handlers import HandlerContext
from engine.store import JournalEvent
from infra.driver_reads import DriverSelect

from .orgchart import OrgChart, OrgUnit, chart_for, default_chart

SECOND = "二次交办"
TARGET_KINDS = ("department", "township")
SCOPE_KEY, SUBORDINATE = "x-unit-scope", "subordinate"
UNIT_FORMAT = "lianxin-unit"


def subordinate_units(chart: OrgChart, office: str | None) -> list[OrgUnit]:
    """The units a petition office may pass a matter on to: departments and townships of its own level."""
    if not office or not chart.has(office) or chart.get(office).kind != "petition_office":
        return []
    level = chart.level_of(office).code
    out = []
    for unit in chart.units.values():
        if unit.kind in TARGET_KINDS:
            try:
                if chart.level_of(unit.code).code == level:
                    out.append(unit)
            except LookupError:
                continue
    return sorted(out, key=lambda u: u.code)


def refusal(chart: OrgChart, office: str | None, target) -> str | None:
    """Why `target` cannot receive the office's matter (Chinese, saying what to do), or None."""
    allowed = subordinate_units(chart, office)
    office_name = chart.name(office) if chart.has(office) else (office or "本单位")
    if not allowed:
        return f"{office_name}不是信访部门或本辖区没有可以二次交办的单位，不能二次交办，请选择“自办”"
    if not isinstance(target, str) or not target:
        return "请选择二次交办的承办单位"
    if not chart.has(target):
        return f"单位代码“{target}”不在组织机构中；请从本辖区单位中选择：{listing(allowed)}"
    if target not in {u.code for u in allowed}:
        return (f"{chart.name(target)}（{target}）不在{office_name}的辖区内，不能二次交办；"
                f"请从本辖区单位中选择：{listing(allowed)}")
    return None


def listing(units: list[OrgUnit]) -> str:
    return "、".join(f"{u.name}（{u.code}）" for u in units)


def scope_problems(schema: dict, data: dict, office: str | None,
                   chart: OrgChart | None = None) -> tuple[dict[str, str], list[dict]]:
    """For a task's submission: {field: message} for each subordinate-scoped unit field whose value the office
    may not pass a matter to, and the valid units [{code, name}] (empty when nothing is wrong)."""
    chart = chart or default_chart()
    errors: dict[str, str] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict) or prop.get(SCOPE_KEY) != SUBORDINATE:
            continue
        value = data.get(name)
        if value in (None, ""):
            continue  # required or not is the schema's business
        why = refusal(chart, office, value)
        if why:
            errors[name] = why
    if not errors:
        return {}, []
    return errors, [{"code": u.code, "name": u.name} for u in subordinate_units(chart, office)]


# ---------------------------------------------------------------- the handler

@dataclass
class SecondAssignInput:
    assignment: dict
    target: str


def second_assign(inp: SecondAssignInput, ctx: HandlerContext) -> dict:
    """二次交办：信访部门把收到的事项交本辖区的部门或乡镇办理；本部门成为交办机关（审核销号）。"""
    chart = chart_for(ctx)
    a = inp.assignment or {}
    office = a.get("unit")
    why = refusal(chart, office, inp.target)
    if why:
        raise ValueError(f"{why}（second assignment refused: target outside the office's area）")
    level = chart.level_of(inp.target)
    target = chart.get(inp.target)
    return {"unit": target.code, "unit_name": target.name, "county": level.code, "level": level.kind,
            "unit_kind": target.kind, "dispatch_type": SECOND, "assigning_unit": office,
            "basis": f"{chart.name(office)}二次交办", "note": str(ctx.data.get("second_note") or "")[:2000],
            "lead_unit": target.code, "co_units": [c for c in a.get("co_units") or [] if c.get("unit") != target.code],
            "passed_from": {"unit": office, "assigning_unit": a.get("assigning_unit"),
                            "dispatch_type": a.get("dispatch_type")}}


# ---------------------------------------------------------------- the chain

# The data of a case's service calls in journal order, in one statement built once (every case view asks).
_SERVICE_CALLS = select(JournalEvent.data).where(JournalEvent.case_id == bindparam("case_id"),
                                                 JournalEvent.type == "service.called").order_by(JournalEvent.seq)
_SERVICE_CALLS_READ = DriverSelect(_SERVICE_CALLS)  # through the driver (infra/driver_reads.py)


def chain(s, case_id: int, data: dict, chart: OrgChart | None = None) -> list[dict]:
    """The hands the matter went through, oldest first, from the journal's dispatches (`dispatch_case`):
    [{from, from_name, to, to_name, type, at}]. A dispatch journaled before `from` was recorded is read as
    coming from the registering unit."""
    chart = chart or default_chart()
    rows = [row.data for row in _SERVICE_CALLS_READ.rows(s, {"case_id": case_id})]
    out: list[dict] = []
    origin = data.get("registering_unit") or "city_bureau"
    for text in rows:
        try:
            call = json.loads(text or "{}")
        except ValueError:
            continue
        result = call.get("result") if isinstance(call, dict) else None
        if call.get("handler") != "dispatch_case" or not isinstance(result, dict) or not result.get("unit"):
            continue
        source = result.get("from") or (out[-1]["to"] if out and result.get("dispatch_type") == SECOND else origin)
        out.append({"from": source, "from_name": _name(chart, source), "to": result["unit"],
                    "to_name": _name(chart, result["unit"]), "type": result.get("dispatch_type") or "",
                    "at": result.get("at")})
    return out


def _name(chart: OrgChart, code: str | None) -> str:
    return chart.name(code) if chart.has(code) else (code or "")
