"""Choosing the responsible unit (属地管理、谁主管谁负责): the county where the matter arose, and within it the
department in charge of the category. Matters no department owns go to the county's petition office.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.handlers import HandlerContext

# category (内容分类) -> department kind code used in unit codes, e.g. county_a_hrss
CATEGORY_DEPARTMENTS = {
    "劳动社保": "hrss",
    "城乡建设": "housing",
    "住房保障": "housing",
}


@dataclass
class ChooseUnitInput:
    category: str
    location: str  # unit code of the county where the matter arose, e.g. county_a


def choose_unit(inp: ChooseUnitInput, ctx: HandlerContext) -> dict:
    """按内容分类和问题发生地确定责任单位 (choose the responsible unit by category and location)."""
    if not inp.location:
        raise ValueError("问题发生地为空，无法确定责任单位（location is empty: fill in 问题发生地 at registration）")
    dept = CATEGORY_DEPARTMENTS.get(inp.category)
    unit = f"{inp.location}_{dept}" if dept else f"{inp.location}_office"
    return {"unit": unit, "rule": "category" if dept else "default_petition_office"}


@dataclass
class RemindInput:
    unit: str
    task: str
    level: str = "催办"


def remind(inp: RemindInput, ctx: HandlerContext) -> dict:
    """催办/督办记录 (a reminder or supervision record for a unit's overdue work)."""
    return {"unit": inp.unit, "task": inp.task, "level": inp.level, "at": ctx.now.isoformat()}
