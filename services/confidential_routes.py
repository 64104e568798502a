"""Deployment check: an accusation's route stays confidential.

Who may see a case that went to the discipline organ is decided by a property, not by an element id: the route
element has `<spiffworkflow:property name="confidential" value="True"/>` (the engine marks the case confidential
when it reaches it, engine.scripting) and the route-out names the receiving unit (the `confidential` effect,
services.casework.route_out). A new version whose accusation route no longer carries the property would let the
next accusations be read by every office that handled them before; deployment refuses it, naming the file, the line
and the element. The accusation route is found by what it does: a service task calling `route_out` with the kind
"纪检监察".
"""
from __future__ import annotations

from collections.abc import Callable

from engine.definitions import BPMN_NS, CompiledProcess, Problem, safe_parse_xml
from engine.scripting import CONFIDENTIAL_PROPERTY

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
HANDLER = "route_out"
ACCUSATION_KIND = '"纪检监察"'  # the parameter's value is a Python expression: the string literal


def _literal(value: str | None) -> str:
    return (value or "").strip().replace("'", '"')


def _confidential(task) -> bool:
    for prop in task.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS):
        if prop.get("name") == CONFIDENTIAL_PROPERTY:
            return (prop.get("value") or "").strip().lower() in ("true", "1", "yes")
    return False


def accusation_routes(source: str, name: str) -> list[tuple[str, int | None, bool]]:
    """(element id, line, confidential) of every accusation route in a BPMN file."""
    root = safe_parse_xml(source.encode("utf-8"), name).getroot()
    found = []
    for task in root.iter(f"{{{BPMN_NS}}}serviceTask"):
        operator = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
        if operator is None or operator.get("id") != HANDLER:
            continue
        kinds = [_literal(p.get("value")) for p in operator.iterfind("spiffworkflow:parameters/spiffworkflow:parameter",
                                                                     NS) if p.get("id") == "kind"]
        if ACCUSATION_KIND in kinds:
            found.append((task.get("id"), task.sourceline, _confidential(task)))
    return found


def problems_for(process: CompiledProcess) -> list[Problem]:
    out = []
    for name, source in sorted(process.sources.items()):
        if not name.lower().endswith(".bpmn"):
            continue
        for element, line, confidential in accusation_routes(source, name):
            if not confidential:
                out.append(Problem(name, line, element, (
                    f"检举控告的去向（route_out，kind “纪检监察”）必须保密：请在元素 {element} 上保留属性 "
                    f"{CONFIDENTIAL_PROPERTY} = True，否则移送后的案件会被原经办单位看到（the accusation route must keep "
                    f"the property {CONFIDENTIAL_PROPERTY}=True; without it the case would be visible outside the "
                    "discipline organ）")))
    return out


def deploy_check() -> Callable[[list[CompiledProcess]], list[Problem]]:
    """A check for `Runtime(bundle_checks=...)`."""
    def check(compiled: list[CompiledProcess]) -> list[Problem]:
        seen: set[tuple] = set()
        problems = []
        for process in compiled:
            for p in problems_for(process):
                if (p.file, p.element_id) not in seen:  # a file shared by several processes: named once
                    seen.add((p.file, p.element_id))
                    problems.append(p)
        return problems
    return check
