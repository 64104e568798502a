"""Which role a user task is offered to, when a model says it the standard's way rather than Lianxin's.

Lianxin's own notation is `lianxin:role` on a lane or the task property `role`. Models drawn in other tools say
it with BPMN resource assignments (`potentialOwner`, `humanPerformer`, `performer`: a formalExpression or a
`resourceRef` to a `bpmn:resource`) or only with the lane's name. The engine knows no roles of its own: the
composition root hands in a `RoleCatalogue` (the organisation's roles with their labels, and the lane table
the designers edit), and a name maps to a role when it is the role's code or its label.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ASSIGNMENT_TAGS = ("potentialOwner", "humanPerformer", "performer")
# `group(x)`, `role(x)`, `candidateGroups(x)` and a quoted name are common ways tools write "the role x".
_WRAPPED = re.compile(r"^(?:group|role|candidateGroups?|user)\s*\(\s*(.*?)\s*\)$", re.IGNORECASE)


@dataclass(frozen=True)
class LaneRow:
    lane: str
    role: str
    line: int | None = None


@dataclass(frozen=True)
class RoleCatalogue:
    """`roles` maps a role code to its label; `lanes` are the rows of the lane table (`file`)."""
    roles: dict[str, str]
    lanes: tuple[LaneRow, ...] = ()
    file: str = "lane_roles.yaml"
    problems: tuple[tuple[int | None, str, str], ...] = field(default=())  # (line, row, message) of a bad table

    def role_named(self, name: str | None) -> str | None:
        """The role code that `name` is (its code or its label), or None."""
        name = _plain(name)
        if not name:
            return None
        if name in self.roles:
            return name
        return next((code for code, label in self.roles.items() if label == name), None)

    def lane_row(self, lane_name: str | None) -> LaneRow | None:
        name = (lane_name or "").strip()
        return next((row for row in self.lanes if row.lane == name), None) if name else None

    def known(self) -> str:
        return "、".join(f"{code}（{label}）" for code, label in self.roles.items())

    def cache_key(self) -> str:
        return repr((sorted(self.roles.items()), self.lanes, self.problems))


@dataclass(frozen=True)
class Assignment:
    """One resource assignment of a task: the element that says it, the name it gives, the role it maps to."""
    element: etree._Element
    tag: str
    name: str | None
    role: str | None


def assignments(task: etree._Element, resources: dict[str, etree._Element],
                catalogue: RoleCatalogue) -> list[Assignment]:
    """Every potentialOwner/humanPerformer/performer of a task with the role it names (None when unknown)."""
    out = []
    for child in task:
        if not isinstance(child.tag, str) or etree.QName(child).namespace != BPMN_NS:
            continue
        tag = etree.QName(child).localname
        if tag not in ASSIGNMENT_TAGS:
            continue
        name = _assigned_name(child, resources)
        out.append(Assignment(child, tag, name, catalogue.role_named(name)))
    return out


def resources_of(root: etree._Element) -> dict[str, etree._Element]:
    """The file's `bpmn:resource` elements by id (they are declared beside the processes)."""
    return {el.get("id"): el for el in root.iter(f"{{{BPMN_NS}}}resource") if el.get("id")}


def _assigned_name(element: etree._Element, resources: dict[str, etree._Element]) -> str | None:
    ref = element.find(f"{{{BPMN_NS}}}resourceRef")
    ref_text = (ref.text or "").strip() if ref is not None else element.get("resourceRef")
    if ref_text:
        resource = resources.get(ref_text.split(":")[-1])
        return (resource.get("name") or resource.get("id")) if resource is not None else ref_text
    expression = element.find(f"{{{BPMN_NS}}}resourceAssignmentExpression")
    if expression is None:
        return None
    formal = next((el for el in expression.iter() if isinstance(el.tag, str) and el is not expression), None)
    return _plain(formal.text if formal is not None else expression.text)


def _plain(text: str | None) -> str:
    text = (text or "").strip()
    m = re.match(r"^[$#]\{(.*)\}$", text, re.DOTALL)
    if m:
        text = m.group(1).strip()
    m = _WRAPPED.match(text)
    if m:
        text = m.group(1).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    return text
