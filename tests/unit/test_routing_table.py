"""The routing table (processes/routing.dmn) against the shipped organisation and categories: every first-level
category has its own rule, every category and place reaches a unit of the demo organisation (never the city
bureau for a city matter that a department owns), and choose_unit (the short process's handler) agrees with it."""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from lxml import etree

from services.orgchart import OrgChart
from services.routing import CATEGORY_DEPARTMENTS, ChooseUnitInput, choose_unit

ROOT = Path(__file__).resolve().parents[2]
NS = "{https://www.omg.org/spec/DMN/20191111/MODEL/}"
PLACES = ("county_a", "county_b", "city")


def rules() -> list[dict]:
    root = etree.parse(str(ROOT / "processes" / "routing.dmn")).getroot()
    table = next(root.iter(f"{NS}decisionTable"))
    labels = [i.get("label") for i in table.findall(f"{NS}input")]
    outputs = [o.get("name") for o in table.findall(f"{NS}output")]
    out = []
    for rule in table.findall(f"{NS}rule"):
        cells = dict(zip(labels, (e.findtext(f"{NS}text").strip() for e in rule.findall(f"{NS}inputEntry")), strict=True))
        cells.update(zip(outputs, (e.findtext(f"{NS}text").strip() for e in rule.findall(f"{NS}outputEntry")), strict=True))
        out.append(dict(cells, id=rule.get("id")))
    return out


def categories() -> list[str]:
    return [c["name"] for c in yaml.safe_load((ROOT / "processes" / "categories.yaml").read_text("utf-8"))["categories"]]


def first_rule(category: str) -> dict:
    """The first rule that matches the category alone (no subcategory, no respondent)."""
    for rule in rules():
        if rule["问题类别"] != "-" or rule["被反映单位类别"] != "-":
            continue
        cell = rule["内容分类"]
        if cell == "-" or cell == f'"{category}"' or (cell.startswith("? in") and f'"{category}"' in cell):
            return rule
    raise AssertionError(category)


def unit_of(rule: dict, place: str) -> str:
    return eval(rule["unit_rule.unit"], {"__builtins__": {}}, {"location": place})  # noqa: S307 - our own table


def test_every_category_has_its_own_rule_and_reaches_a_unit_of_the_organisation():
    chart = OrgChart.from_yaml()
    for category in categories():
        rule = first_rule(category)
        assert rule["id"] != "Rule_default", category
        assert rule["unit_rule.dispatch"] in ('"转送"', '"交办"') and rule["unit_rule.basis"].strip('"'), rule
        for place in PLACES:
            unit = unit_of(rule, place)
            assert chart.has(unit), (category, place, unit)
            if category != "其他":
                assert chart.get(unit).kind not in ("petition_office",), (category, place, unit)
                assert re.fullmatch(rf"{place}_[a-z]+", unit), unit


def test_choose_unit_agrees_with_the_table():
    for category in categories():
        rule = first_rule(category)
        for place in PLACES:
            assert choose_unit(ChooseUnitInput(category, place), None)["unit"] == unit_of(rule, place), (category, place)
    assert set(CATEGORY_DEPARTMENTS) == set(categories()) - {"其他"}
