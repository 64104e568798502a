"""Deployment check of routing tables: every unit a decision table can suggest (an output column named `unit` or
`<something>.unit`, such as `unit_rule.unit` in routing.dmn) must be a unit of the organisation.

A quoted unit code (`"city_bureau"`) is checked as it is. An expression (`location + "_hrss"`) is evaluated in the
sandbox for every place a matter can arise in (the organisation's administrative levels; only the place a rule's
location cell names, when it names one): a rule that names no unit of the organisation for any place is refused;
places where it names none get no suggestion at run time, and the registrar chooses the unit at triage.
"""
from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

from engine.definitions import CompiledProcess, Problem, safe_parse_xml
from engine.sandbox import SandboxEnvironment

from .orgchart import OrgChart

LOCATION = "location"


def _is_unit_output(name: str) -> bool:
    return name == "unit" or name.endswith(".unit")


def problems_in(file_name: str, text: str, chart: OrgChart) -> list[Problem]:
    tree = safe_parse_xml(text.encode("utf-8"), file_name)
    root = tree.getroot()
    ns = {"dmn": root.nsmap.get(None) or ""}
    out: list[Problem] = []
    places = [u.code for u in chart.units.values() if u.kind in chart.tier_levels()]
    env = SandboxEnvironment()
    for decision in root.iterfind(".//dmn:decision", ns):
        table = decision.find("dmn:decisionTable", ns)
        if table is None:
            continue
        inputs = [(i.findtext("dmn:inputExpression/dmn:text", default="", namespaces=ns) or "").strip()
                  for i in table.iterfind("dmn:input", ns)]
        outputs = [o.get("name") or "" for o in table.iterfind("dmn:output", ns)]
        columns = [n for n, name in enumerate(outputs) if _is_unit_output(name)]
        if not columns:
            continue
        for number, rule in enumerate(table.iterfind("dmn:rule", ns), 1):
            cells = [(e.findtext("dmn:text", default="", namespaces=ns) or "").strip()
                     for e in rule.iterfind("dmn:inputEntry", ns)]
            at = dict(zip(inputs, cells, strict=False))
            entries = list(rule.iterfind("dmn:outputEntry", ns))
            for column in columns:
                if column >= len(entries):
                    continue
                entry = entries[column]
                text = (entry.findtext("dmn:text", default="", namespaces=ns) or "").strip()
                message = _cell_problem(text, chart, _places_of(at.get(LOCATION, "-"), places), env)
                if message:
                    where = f"决策表“{decision.get('name') or decision.get('id')}”第 {number} 条规则（{rule.get('id')}）" \
                            f"的 {outputs[column]} 列"
                    out.append(Problem(file_name, entry.sourceline, entry.get("id") or rule.get("id"),
                                       f"{where}：{message}"))
    return out


def _places_of(cell: str, places: list[str]) -> list[str]:
    """The places a rule's location cell admits when it names one literally (`"city"`), else every place."""
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError):
        return places
    return [value] if isinstance(value, str) else places


def _cell_problem(text: str, chart: OrgChart, places: list[str], env: SandboxEnvironment) -> str | None:
    if not text or text == "-":
        return None
    try:
        literal = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        literal = None
    else:
        if not isinstance(literal, str):
            return f"应为单位代码（加引号）或表达式，收到 {text}（a unit column takes a quoted unit code）"
        if not chart.has(literal):
            return (f"组织机构中没有单位“{literal}”，请改为组织机构中的单位代码（unknown unit {literal!r}; "
                    f"see processes/organisation.yaml）")
        return None
    named = []
    for place in places:
        try:
            value = env.evaluate(text, {LOCATION: place})
        except Exception:  # noqa: BLE001 - a cell needing other case data cannot be tried here
            return None
        if isinstance(value, str) and chart.has(value):
            return None
        named.append(str(value))
    examples = "、".join(named[:3])
    return (f"表达式 {text} 对任何问题发生地都得不到组织机构中的单位（如 {examples}），请改正"
            f"（the expression names no unit of the organisation for any place, e.g. {examples}）")


def deploy_check(organisation: Path | str) -> Callable[[list[CompiledProcess]], list[Problem]]:
    """A check for `Runtime(bundle_checks=...)`: refuses routing tables naming units the organisation lacks."""
    def check(compiled: list[CompiledProcess]) -> list[Problem]:
        if not Path(organisation).is_file():
            return []
        chart = OrgChart.from_yaml(Path(organisation))
        seen: dict[tuple[str, str], list[Problem]] = {}
        for process in compiled:
            for name, text in process.sources.items():
                if name.endswith(".dmn") and (name, text) not in seen:
                    seen[(name, text)] = problems_in(name, text, chart)
        return [p for found in seen.values() for p in found]
    return check
