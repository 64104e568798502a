"""Choosing the responsible unit (属地管理、谁主管谁负责): the place where the matter arose, and within it the
department in charge of the category.

The petition case routes with the decision table `processes/routing.dmn`; `choose_unit` is the same rule as a
handler for the short demonstration process (`simple_case.bpmn`): `CATEGORY_DEPARTMENTS` names, per first-level
category, the unit-code suffix the table's rule gives (`tests/unit/test_routing_table.py` checks that both agree
for every category and place). Unit codes follow `<level>_<dept>` (e.g. county_a_env, city_edu; see
docs/organisation.md). Matters no department owns go to the place's petition office.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.handlers import HandlerContext

# category (内容分类, first level of processes/categories.yaml) -> department suffix of the unit code
CATEGORY_DEPARTMENTS = {
    "劳动社保": "hrss",
    "城乡建设": "housing",
    "住房保障": "housing",
    "环境保护": "env",
    "农村农业": "agri",
    "教育卫健": "edu",
    "政法综治": "police",
    "纪检监察": "cdi",
}

# kinds of unit the routing table can route to when the respondent (被反映单位) names one of them
RESPONDENT_KINDS = ("township",)


def petition_office_code(location: str) -> str:
    return "city_bureau" if location == "city" else f"{location}_office"


@dataclass
class ChooseUnitInput:
    category: str
    location: str  # unit code of the place where the matter arose, e.g. county_a


def choose_unit(inp: ChooseUnitInput, ctx: HandlerContext) -> dict:
    """按内容分类和问题发生地确定责任单位 (choose the responsible unit by category and location)."""
    if not inp.location:
        raise ValueError("问题发生地为空，无法确定责任单位（location is empty: fill in 问题发生地 at registration）")
    dept = CATEGORY_DEPARTMENTS.get(inp.category)
    unit = f"{inp.location}_{dept}" if dept else petition_office_code(inp.location)
    return {"unit": unit, "rule": "category" if dept else "default_petition_office"}


def respondent_unit(chart, text, location: str | None):
    """The unit the respondent (被反映单位或人员, free text at registration) names, when it is a unit of a kind the
    routing table routes to (RESPONDENT_KINDS) at the place of the matter: its code, its full name, or its name
    without the place's name (城关镇 for 东城县城关镇), as the whole text or its start ("城关镇人民政府"). None otherwise."""
    text = (text or "").strip() if isinstance(text, str) else ""
    if not text or not chart.has(location):
        return None
    try:
        level = chart.level_of(location)
    except LookupError:
        return None
    best = None
    for unit in chart.units.values():
        if unit.kind not in RESPONDENT_KINDS or unit.parent != level.code:
            continue
        short = unit.name.removeprefix(level.name)
        for name in (unit.code, unit.name, short):
            if name and (text == name or text.startswith(name)) and (best is None or len(name) > best[0]):
                best = (len(name), unit)
    return best[1] if best else None


@dataclass
class RemindInput:
    unit: str
    task: str
    level: str = "催办"


def remind(inp: RemindInput, ctx: HandlerContext) -> dict:
    """催办/督办记录 (a reminder or supervision record for a unit's overdue work)."""
    return {"unit": inp.unit, "task": inp.task, "level": inp.level, "at": ctx.now.isoformat()}
