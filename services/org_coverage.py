"""No orphan work: every (role, unit) pair the routing can hand a task to has at least one person holding it.

The pairs come from the processes as deployed, never from a list kept here:

- the units: every unit the routing table (the DMN decision with the output `unit_rule.unit`, `processes/
  routing.dmn`) gives for every place a matter can arise in (the units whose kind is a tier level: counties,
  cities, the province) and for every township there that can be named as the respondent; where the table names a
  unit the organisation lacks, the fallback of 核定责任单位 (the place's petition office) instead;
- the roles: those of the user tasks whose `unit` property is the responsible unit (`assignment["unit"]`):
  承办人 (unit_handler) for 签收、受理、办理, 单位负责人 (leader) for 审批延期 in the shipped process.

Those pairs are **required** (`Gap.required`): an import that would leave one without a holder is refused, and so
is a deployment whose routing table would produce one (once the organisation has any holder of those roles; a new
installation whose people are not yet imported is only told). The units an office may choose at triage (every unit
of a kind that receives work: departments, townships, courts, discipline and organisation departments, petition
offices) are **advised**: a missing holder there is listed as a warning, since nothing routes to them unasked.

A holder is an active user with the role in the unit, or in an ancestor unit with `subunits` (as the task list
and the notices resolve it, infra.accounts.MembershipDirectory).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import func, select

from engine.definitions import CompiledProcess, Problem
from engine.sandbox import SandboxEnvironment
from engine.store import ProcessDefinition
from infra.accounts import Membership as MembershipRow, User

from . import work_placement
from .orgchart import OrgChart
from .routing import RESPONDENT_KINDS

ROUTING_OUTPUT = "unit_rule.unit"
ASSIGNED_UNIT = 'assignment["unit"]'
# kinds of unit an office may hand a matter to (交办/转送) when it chooses the unit itself
RECEIVING_KINDS = ("department", "township", "political_legal", "discipline", "organisation", "petition_office")
# the roles the organisation may give (services.roles) and the receivers of route-outs (services.casework)
_DMN_NS = "{https://www.omg.org/spec/DMN/20191111/MODEL/}"


@dataclass(frozen=True)
class Gap:
    role: str
    unit: str
    unit_name: str
    why: str
    required: bool

    def text(self) -> str:
        level = "必须" if self.required else "建议"
        return (f"{self.unit_name}（{self.unit}）没有人担任 {self.role}（{level}有人：{self.why}）"
                f"（no holder of role {self.role} in unit {self.unit})")


# ---------------------------------------------------------------- what the processes route to

def assignment_roles(user_task_tables: Iterable[dict]) -> set[str]:
    """Roles of the user tasks that the responsible unit does (their `unit` property is assignment["unit"])."""
    roles = set()
    for table in user_task_tables:
        for task in (table or {}).values():
            unit = (task.get("unit") or "").replace("'", '"').replace(" ", "")
            if unit == ASSIGNED_UNIT and task.get("role"):
                roles.add(task["role"])
    return roles


def _routing_cells(dmn_text: str) -> list[tuple[str, str]]:
    """(rule id, unit output cell) of each rule of a decision whose output is `unit_rule.unit`."""
    try:
        root = etree.fromstring(dmn_text.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return []
    cells = []
    for table in root.iter(f"{_DMN_NS}decisionTable"):
        outputs = [o.get("name") for o in table.findall(f"{_DMN_NS}output")]
        if ROUTING_OUTPUT not in outputs:
            continue
        at = outputs.index(ROUTING_OUTPUT)
        for rule in table.findall(f"{_DMN_NS}rule"):
            entries = rule.findall(f"{_DMN_NS}outputEntry")
            if at < len(entries):
                cells.append((rule.get("id") or "", (entries[at].findtext(f"{_DMN_NS}text") or "").strip()))
    return cells


def routing_units(chart: OrgChart, dmn_texts: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """unit code -> why it can be routed to (the rule and the place); and the places whose table gives a unit
    the organisation lacks while they have no petition office to fall back to (place -> that candidate)."""
    sandbox = SandboxEnvironment(cpu_seconds=0.5)
    cells = [cell for text in dmn_texts for cell in _routing_cells(text)]
    places = [u for u in chart.units.values() if u.kind in chart.tier_levels()]
    out: dict[str, str] = {}
    missing: dict[str, str] = {}
    for place in places:
        respondents = [u for u in chart.units.values() if u.parent == place.code and u.kind in RESPONDENT_KINDS]
        for rule_id, cell in cells:
            for respondent in [None, *respondents]:
                registration = {"subcategory": "", "respondent_unit": respondent.code if respondent else "",
                                "respondent_kind": respondent.kind if respondent else ""}
                try:
                    candidate = sandbox.evaluate(cell, {"location": place.code, "registration": registration,
                                                        "category": "", "subcategory": ""})
                except Exception:  # noqa: BLE001 - a cell that needs more facts: deployment lints the table itself
                    continue
                if not isinstance(candidate, str) or not candidate:
                    continue
                if chart.has(candidate):
                    out.setdefault(candidate, f"决策表 {rule_id}，问题发生地 {place.name}")
                    continue
                try:
                    office = chart.petition_office(place.code)
                except LookupError:
                    missing.setdefault(place.code, candidate)
                    continue
                out.setdefault(office.code, f"候选单位 {candidate} 不存在时由{place.name}信访部门交办（核定责任单位）")
    return out, missing


# ---------------------------------------------------------------- who holds what

Membership = tuple[str, str, bool]  # (role, unit, include_subunits) of an active user


def holds(chart: OrgChart, memberships: Iterable[Membership]) -> Callable[[str, str], bool]:
    held = {(role, unit, bool(sub)) for role, unit, sub in memberships}
    direct = {(role, unit) for role, unit, _sub in held}
    below = {(role, unit) for role, unit, sub in held if sub}

    def plain_holder(role: str, unit: str) -> bool:
        if (role, unit) in direct:
            return True
        if not chart.has(unit):
            return False
        return any((role, up.code) in below for up in chart.ancestors(unit, include_self=False))

    def holder(role: str, unit: str) -> bool:
        if plain_holder(role, unit):
            return True
        # A petition office's own work is done by its staff in their office role (services/work_placement.py).
        if role in work_placement.OFFICE_WORK and chart.has(unit) and chart.get(unit).kind == work_placement.PETITION_OFFICE:
            staff = work_placement.office_role(chart, unit)
            return staff is not None and plain_holder(staff, unit)
        return False
    return holder


def gaps(chart: OrgChart, memberships: Iterable[Membership], roles: Iterable[str], dmn_texts: Iterable[str],
         *, advised: bool = True) -> list[Gap]:
    """Every (role, unit) pair without a holder: the required ones (routing table, fallback) first."""
    roles = sorted(set(roles))
    holder = holds(chart, memberships)
    required, missing = routing_units(chart, dmn_texts)
    out = [Gap("—", place, chart.name(place), f"决策表给出的候选单位 {candidate} 不存在，本地又没有信访部门（petition_office）"
               "可以兜底", True) for place, candidate in sorted(missing.items())]
    out += [Gap(role, unit, chart.name(unit), why, True)
            for unit, why in sorted(required.items()) for role in roles if not holder(role, unit)]
    if advised:
        out += [Gap(role, u.code, u.name, "办理单位可由信访部门选定（可选承办单位）", False)
                for u in sorted(chart.units.values(), key=lambda u: u.code)
                if u.kind in RECEIVING_KINDS and u.code not in required for role in roles if not holder(role, u.code)]
    return out


# ---------------------------------------------------------------- reading the database

def memberships_in(s) -> list[Membership]:
    return [(role, unit, bool(sub)) for role, unit, sub in s.execute(
        select(MembershipRow.role, MembershipRow.unit_code, MembershipRow.include_subunits)
        .join(User, User.id == MembershipRow.user_id)
        .where(User.active.is_(True)))]


def deployed_routing(s) -> tuple[set[str], list[str]]:
    """The assignment roles and the DMN texts of the newest version of every deployed process."""
    newest = select(ProcessDefinition.process_key, func.max(ProcessDefinition.version).label("v")) \
        .group_by(ProcessDefinition.process_key).subquery()
    rows = s.execute(select(ProcessDefinition.meta_json, ProcessDefinition.sources_json).join(
        newest, (newest.c.process_key == ProcessDefinition.process_key) & (newest.c.v == ProcessDefinition.version)))
    tables, texts = [], {}
    for meta_json, sources_json in rows:
        tables.append(json.loads(meta_json or "{}").get("user_tasks") or {})
        for name, text in json.loads(sources_json or "{}").items():
            if name.endswith(".dmn"):
                texts[name] = text
    return assignment_roles(tables), list(texts.values())


# ---------------------------------------------------------------- the deployment check

def deploy_check(read_sessions, chart_source: Callable[[], OrgChart]) -> Callable[[list[CompiledProcess]], list[Problem]]:
    """A check for `Runtime(bundle_checks=...)`: refuses a bundle whose routing table can route work to a (role,
    unit) pair nobody holds. Skipped while nobody holds any of those roles at all (a new installation, or a test
    without people): there is nobody yet to whom work could go, and the import of the organisation checks it."""
    def check(compiled: list[CompiledProcess]) -> list[Problem]:
        roles = assignment_roles(cp.user_tasks for cp in compiled)
        texts = {name: text for cp in compiled for name, text in cp.sources.items() if name.endswith(".dmn")}
        if not roles or not texts:
            return []
        with read_sessions() as s:
            memberships = memberships_in(s)
        if not any(role in roles for role, _unit, _sub in memberships):
            return []
        chart = chart_source()
        name = next(iter(sorted(n for n, t in texts.items() if _routing_cells(t))), "routing.dmn")
        return [Problem(name, None, None, f"部署被拒绝：{gap.text()}；请先在“组织机构”中为该单位指定人员，或修改决策表")
                for gap in gaps(chart, memberships, roles, texts.values(), advised=False)]
    return check
