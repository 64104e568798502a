"""What changed between two deployed versions of a process: element by element, field by field, cell by cell.

A designer deploys a new version and an office runs its cases on it for months; the version list says who deployed
what and why, this module says what the files actually changed, so that no change hides behind "the diagrams are the
same". It compares the stored sources of two versions (`{file name: text}`), without running anything:

* BPMN: every element with an id (tasks, events, gateways, flows, lanes, the process itself) is added, removed,
  changed (with each changed field: name, documentation, attributes, properties such as the form, scripts,
  conditions, timer expressions and the day-limit settings they read, the handler and its parameters, the lane and
  its role, multi-instance) or moved only ("layout": its shape or edge in the diagram changed, nothing else).
* DMN: every changed cell by decision, row (rule id and position) and column (its label), old -> new; rules added,
  removed or moved (the first matching rule wins, so order matters); columns and the table's own fields. A changed
  output cell names the elements of the new version whose expressions read its variable: a day limit changed in
  `settings.dmn` names the timers (deadlines) it moves, which the process files themselves do not show.
* Forms (JSON Schema): every field (property path) added, removed or with changed keywords.
* Files added or removed; a file whose text changed without any of the above is "format only", never "no change".

Texts shown to people go through `_`, the page's gettext (Chinese is the message id). Files are parsed with the
engine's safe parser only.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace

from lxml import etree

from engine.definitions import BPMN_NS, LIANXIN_NS, NS, SPIFF_NS, DefinitionError, safe_parse_xml
from services.deadline_settings import SETTINGS

Translate = Callable[[str], str]
ADDED, REMOVED, CHANGED, LAYOUT, FORMAT = "added", "removed", "changed", "layout", "format"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"

# Elements whose children with an id are elements of their own (listed separately, not as fields of the parent).
_CONTAINERS = {"definitions", "process", "subProcess", "transaction", "adHocSubProcess", "collaboration",
               "laneSet", "childLaneSet"}
_STRUCTURE = {"laneSet", "childLaneSet"}  # grouping only: their lanes are what a designer sees
_REFERENCES = {"incoming", "outgoing", "flowNodeRef"}  # follow from the flows and lanes, which are listed
_SETTING_READ = re.compile(r"""limits\[\s*["']([\w.]+)["']\s*\]""")
_SETTING_LABELS = {s.name: s.label for s in SETTINGS}


def _same(text: str) -> str:
    return text


# ---------------------------------------------------------------------------------------------------- results

@dataclass(frozen=True)
class FieldChange:
    key: str
    label: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class ElementChange:
    file: str
    element_id: str
    tag: str
    type_label: str
    name: str
    change: str
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class CellChange:
    rule_id: str
    row: int
    old_row: int | None
    column_id: str
    column: str
    kind: str  # "input", "output" or "description"
    old: str
    new: str
    variable: str = ""  # an output's variable (e.g. limits.t4), an input's expression
    readers: tuple[str, ...] = ()  # elements of the new version whose expressions read that output


@dataclass(frozen=True)
class RuleChange:
    rule_id: str
    row: int | None  # in the new version
    old_row: int | None
    change: str  # added, removed, moved
    cells: dict[str, str] = field(default_factory=dict)  # column label -> text


@dataclass(frozen=True)
class DecisionChange:
    file: str
    decision_id: str
    name: str
    change: str
    fields: tuple[FieldChange, ...]
    cells: tuple[CellChange, ...]
    rules: tuple[RuleChange, ...]
    table: dict  # the new table (removed rows appended) with its changed cells marked, for a page


@dataclass(frozen=True)
class FormChange:
    file: str
    change: str
    fields: tuple[FieldChange, ...]


@dataclass(frozen=True)
class FileChange:
    name: str
    kind: str  # bpmn, dmn, form, other
    change: str  # added, removed, changed, layout, format


@dataclass
class VersionDiff:
    files: list[FileChange] = field(default_factory=list)
    elements: list[ElementChange] = field(default_factory=list)
    decisions: list[DecisionChange] = field(default_factory=list)
    forms: list[FormChange] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {k: sum(e.change == k for e in self.elements) for k in (ADDED, REMOVED, CHANGED, LAYOUT)}
        out["cells"] = sum(len(d.cells) for d in self.decisions)
        out["rules"] = sum(len(d.rules) for d in self.decisions)
        out["form_fields"] = sum(len(f.fields) for f in self.forms)
        return out

    def to_dict(self) -> dict:
        return {"files": [asdict(f) for f in self.files], "elements": [asdict(e) for e in self.elements],
                "decisions": [asdict(d) for d in self.decisions], "forms": [asdict(f) for f in self.forms],
                "counts": self.counts()}


# ---------------------------------------------------------------------------------------------------- entry point

def compare(old: Mapping[str, str], new: Mapping[str, str], _: Translate = _same) -> VersionDiff:
    """The changes from the files `old` to the files `new` ({file name: text}), in file-name order."""
    result = VersionDiff()
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        kind = _kind(name)
        found = _COMPARERS[kind](name, a, b, result, _)
        if a is None or b is None:
            change = ADDED if a is None else REMOVED
        else:
            change = found
        result.files.append(FileChange(name, kind, change))
    _find_readers(result, new)
    return result


def _kind(name: str) -> str:
    for suffix, kind in ((".bpmn", "bpmn"), (".dmn", "dmn"), (".json", "form")):
        if name.endswith(suffix):
            return kind
    return "other"


def _parse(name: str, text: str | None) -> etree._Element | None:
    if text is None:
        return None
    try:
        return safe_parse_xml(text.encode("utf-8"), name).getroot()
    except DefinitionError:
        return None


def _compare_other(name, a, b, result, _) -> str:
    return CHANGED


# ---------------------------------------------------------------------------------------------------- BPMN

@dataclass(frozen=True)
class _Snapshot:
    tag: str
    name: str
    fields: dict[str, str]


def _compare_bpmn(name: str, a: str | None, b: str | None, result: VersionDiff, _: Translate) -> str:
    old_root, new_root = _parse(name, a), _parse(name, b)
    if (a is not None and old_root is None) or (b is not None and new_root is None):
        return CHANGED  # not XML we can read (never the case for a deployed version)
    old, new = _bpmn_elements(old_root), _bpmn_elements(new_root)
    old_di, new_di = _diagram(old_root), _diagram(new_root)
    found = []
    for element_id in [*new, *(i for i in old if i not in new)]:
        change = _element_change(name, element_id, old.get(element_id), new.get(element_id), _)
        if change is None and element_id in old and old_di.get(element_id) != new_di.get(element_id):
            s = new[element_id]
            change = ElementChange(name, element_id, s.tag, _type_label(s.tag, _), s.name, LAYOUT)
        if change is not None:
            found.append(change)
    result.elements.extend(found)
    if any(c.change != LAYOUT for c in found):
        return CHANGED
    return LAYOUT if found or old_di != new_di else FORMAT


def _element_change(file: str, element_id: str, old: _Snapshot | None, new: _Snapshot | None,
                    _: Translate) -> ElementChange | None:
    s = new or old
    if old is None or new is None:
        values = s.fields
        fields = tuple(FieldChange(k, _field_label(k, _), None if old is None else v, v if old is None else None)
                       for k, v in values.items())
        return ElementChange(file, element_id, s.tag, _type_label(s.tag, _), s.name, ADDED if old is None else REMOVED,
                             fields)
    fields = _field_changes({"type": old.tag, **old.fields}, {"type": new.tag, **new.fields}, _)
    if not fields:
        return None
    return ElementChange(file, element_id, new.tag, _type_label(new.tag, _), new.name or old.name, CHANGED, fields)


def _field_changes(old: dict[str, str], new: dict[str, str], _: Translate) -> tuple[FieldChange, ...]:
    keys = [*old, *(k for k in new if k not in old)]
    return tuple(FieldChange(k, _field_label(k, _), old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k))


def _bpmn_elements(root: etree._Element | None) -> dict[str, _Snapshot]:
    if root is None:
        return {}
    lane_of = _lanes_by_node(root)
    out = {}
    for el in root.iter(f"{{{BPMN_NS}}}*"):
        if _tracked(el):
            tag = etree.QName(el).localname
            out[el.get("id")] = _Snapshot(tag, el.get("name") or "", _fields(el, tag, lane_of))
    return out


def _tracked(el: etree._Element) -> bool:
    """An element of its own: an id, inside a process, subprocess, collaboration or lane set (not a lane set)."""
    parent = el.getparent()
    return (bool(el.get("id")) and parent is not None and etree.QName(parent).localname in _CONTAINERS
            and etree.QName(el).localname not in _STRUCTURE)


def _lanes_by_node(root: etree._Element) -> dict[str, etree._Element]:
    lanes = {}
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):  # document order: an inner lane comes later and wins
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            if ref.text:
                lanes[ref.text.strip()] = lane
    return lanes


def _fields(el: etree._Element, tag: str, lane_of: dict[str, etree._Element]) -> dict[str, str]:
    fields: dict[str, str] = {}
    if el.get("name"):
        fields["name"] = el.get("name")
    for attr, value in sorted(el.attrib.items()):
        if attr not in ("id", "name"):
            fields[f"attr:{_attr_name(attr, el)}"] = value
    counts: dict[str, int] = {}
    for child in el:
        if isinstance(child.tag, str) and not _tracked(child) and etree.QName(child).localname not in _STRUCTURE:
            _child_fields(child, fields, counts)
    if tag == "lane":
        members = sorted((r.text or "").strip() for r in el.iterfind("bpmn:flowNodeRef", NS))
        fields["members"] = "、".join(m for m in members if m)
    lane = lane_of.get(el.get("id"))
    if lane is not None:
        # the lane's role is a field of the lane: listed once there, not again on each of its elements
        fields["lane"] = _labelled(lane.get("id"), lane.get("name"))
    return fields


def _child_fields(child: etree._Element, fields: dict[str, str], counts: dict[str, int]) -> None:
    q = etree.QName(child)
    if q.namespace == BPMN_NS and q.localname in _REFERENCES:
        return
    if q.namespace == BPMN_NS and q.localname in _BPMN_PARTS:
        _BPMN_PARTS[q.localname](child, fields)
        return
    counts[q.localname] = counts.get(q.localname, 0) + 1
    fields[f"other:{q.localname}#{counts[q.localname]}"] = _canon(child)


def _documentation(child, fields) -> None:
    fields["documentation"] = (child.text or "").strip()


def _text_part(key: str):
    def read(child, fields) -> None:
        fields[key] = (child.text or "").strip()
    return read


def _timer(child, fields) -> None:
    settings = []
    for tag, kind in (("timeDate", "date"), ("timeDuration", "duration"), ("timeCycle", "cycle")):
        found = child.find(f"bpmn:{tag}", NS)
        if found is not None:
            expression = (found.text or "").strip()
            fields[f"timer.{kind}"] = expression
            settings += _SETTING_READ.findall(expression)
    if settings:
        names = [f"limits.{s}" for s in settings]
        fields["timer.setting"] = "、".join(_labelled(n, _SETTING_LABELS.get(n)) for n in names)


def _multi_instance(child, fields) -> None:
    fields["loop"] = "sequential" if child.get("isSequential") == "true" else "parallel"
    for part in child:
        if isinstance(part.tag, str):
            local = etree.QName(part).localname
            fields[f"loop.{local}"] = (part.text or "").strip() or _canon(part)


def _extensions(child, fields) -> None:
    counts: dict[str, int] = {}
    for ext in child:
        if not isinstance(ext.tag, str):
            continue
        q = etree.QName(ext)
        reader = _SPIFF_PARTS.get(q.localname) if q.namespace == SPIFF_NS else None
        if reader is not None:
            reader(ext, fields)
        else:
            counts[q.localname] = counts.get(q.localname, 0) + 1
            fields[f"other:{q.localname}#{counts[q.localname]}"] = _canon(ext)


def _properties(ext, fields) -> None:
    for p in ext.iterfind("spiffworkflow:property", NS):
        if p.get("name"):
            fields[f"property:{p.get('name')}"] = p.get("value") or ""


def _operator(ext, fields) -> None:
    fields["operator"] = ext.get("id") or ""
    if ext.get("resultVariable"):
        fields["operator.result"] = ext.get("resultVariable")
    for p in ext.iterfind("spiffworkflow:parameters/spiffworkflow:parameter", NS):
        typed = f"（{p.get('type')}）" if p.get("type") else ""
        fields[f"operator.param:{p.get('id')}"] = f"{p.get('value') or ''}{typed}"


_BPMN_PARTS = {
    "documentation": _documentation,
    "conditionExpression": _text_part("condition"),
    "script": _text_part("script"),
    "timerEventDefinition": _timer,
    "multiInstanceLoopCharacteristics": _multi_instance,
    "extensionElements": _extensions,
}
_SPIFF_PARTS = {
    "properties": _properties,
    "serviceTaskOperator": _operator,
    "preScript": _text_part("preScript"),
    "postScript": _text_part("postScript"),
    "calledDecisionId": _text_part("decision"),
}


def _attr_name(attr: str, el: etree._Element) -> str:
    """`lianxin:role`, `spiffworkflow:...`, another tool's attribute with the prefix its file gives it
    (`camunda:assignee`), a BPMN attribute bare."""
    q = etree.QName(attr)
    if not q.namespace:
        return q.localname
    known = {LIANXIN_NS: "lianxin", SPIFF_NS: "spiffworkflow"}
    prefix = known.get(q.namespace) or next((p for p, uri in el.nsmap.items() if uri == q.namespace and p), "ns")
    return f"{prefix}:{q.localname}"


def _canon(el: etree._Element) -> str:
    """A compact, order-stable text of a part nobody named a field for (ids left out: modelers renumber them)."""
    attrs = ", ".join(f"{_attr_name(k, el)}={v}" for k, v in sorted(el.attrib.items()) if k != "id")
    text = (el.text or "").strip()
    children = "; ".join(_canon(c) for c in el if isinstance(c.tag, str))
    inner = " ".join(p for p in (f"({attrs})" if attrs else "", text, f"[{children}]" if children else "") if p)
    return f"{etree.QName(el).localname}{' ' + inner if inner else ''}"


def _diagram(root: etree._Element | None) -> dict[str, str]:
    """Where each element is drawn: its shape's bounds, its edge's waypoints, its label's bounds."""
    if root is None:
        return {}
    out = {}
    for tag in ("BPMNShape", "BPMNEdge"):
        for di in root.iter(f"{{{BPMNDI_NS}}}{tag}"):
            if di.get("bpmnElement"):
                out[di.get("bpmnElement")] = _canon(di)
    return out


def _labelled(key: str | None, label: str | None) -> str:
    return f"{label}（{key}）" if label and label != key else key or ""


# Fields holding expressions that run: where a decision's output is read.
_EXPRESSION_FIELDS = ("timer.", "condition", "script", "preScript", "postScript", "operator.param:", "loop.")


def _find_readers(result: VersionDiff, new: Mapping[str, str]) -> None:
    """Name, for each changed output cell, the elements of the new version that read its variable (a changed day
    limit in the settings table and the deadlines it moves)."""
    variables = {c.variable for d in result.decisions for c in d.cells if c.kind == "output" and c.variable}
    if not variables:
        return
    readers: dict[str, list[str]] = {v: [] for v in variables}
    for name, text in sorted(new.items()):
        if _kind(name) == "bpmn":
            for element_id, snapshot in _bpmn_elements(_parse(name, text)).items():
                expressions = " ".join(v for k, v in snapshot.fields.items() if k.startswith(_EXPRESSION_FIELDS))
                for variable in variables:
                    if _reads(expressions, variable):
                        readers[variable].append(_labelled(element_id, snapshot.name))
    result.decisions[:] = [replace(d, cells=tuple(replace(c, readers=tuple(readers.get(c.variable, ())))
                                                  if c.kind == "output" else c for c in d.cells))
                           for d in result.decisions]


def _reads(expressions: str, variable: str) -> bool:
    head, _dot, key = variable.rpartition(".")
    if not head:
        return re.search(rf"(?<![\w.\"']){re.escape(key)}\b", expressions) is not None
    quoted = rf"""["']{re.escape(key)}["']"""
    return re.search(rf"\b{re.escape(head)}\s*(\[\s*{quoted}\s*\]|\.get\(\s*{quoted}|\.{re.escape(key)}\b)",
                     expressions) is not None


# ---------------------------------------------------------------------------------------------------- DMN

@dataclass(frozen=True)
class _Column:
    id: str
    kind: str
    label: str
    fields: dict[str, str]


@dataclass(frozen=True)
class _Rule:
    id: str
    description: str
    cells: dict[str, str]  # column id -> text


@dataclass(frozen=True)
class _Decision:
    id: str
    name: str
    fields: dict[str, str]
    columns: dict[str, _Column]
    rules: list[_Rule]


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _children(el: etree._Element | None, local: str) -> list[etree._Element]:
    return [] if el is None else [c for c in el if _local(c) == local]


def _child_text(el: etree._Element | None, *path: str) -> str:
    for local in path:
        found = _children(el, local)
        el = found[0] if found else None
    return "" if el is None else (el.text or "").strip()


def _decisions(root: etree._Element | None) -> dict[str, _Decision]:
    if root is None:
        return {}
    out = {}
    for decision in (e for e in root.iter() if _local(e) == "decision"):
        tables = _children(decision, "decisionTable")
        table = tables[0] if tables else None
        columns = _columns(table)
        rules = [_rule(r, i, columns) for i, r in enumerate(_children(table, "rule"), 1)]
        fields = {"name": decision.get("name") or "", "description": _child_text(decision, "description")}
        if table is not None:
            fields["hitPolicy"] = table.get("hitPolicy", "UNIQUE")
            fields["aggregation"] = table.get("aggregation") or ""
        out[decision.get("id")] = _Decision(decision.get("id"), decision.get("name") or decision.get("id"),
                                            fields, {c.id: c for c in columns}, rules)
    return out


def _columns(table: etree._Element | None) -> list[_Column]:
    columns = []
    for i, inp in enumerate(_children(table, "input"), 1):
        expression = _child_text(inp, "inputExpression", "text")
        columns.append(_Column(inp.get("id") or f"input#{i}", "input", inp.get("label") or expression,
                               {"label": inp.get("label") or "", "expression": expression}))
    for i, out in enumerate(_children(table, "output"), 1):
        columns.append(_Column(out.get("id") or f"output#{i}", "output", out.get("label") or out.get("name") or "",
                               {"label": out.get("label") or "", "output": out.get("name") or "",
                                "typeRef": out.get("typeRef") or ""}))
    return columns


def _rule(rule: etree._Element, index: int, columns: list[_Column]) -> _Rule:
    inputs = [c for c in columns if c.kind == "input"]
    outputs = [c for c in columns if c.kind == "output"]
    cells = {}
    for entries, cols in ((_children(rule, "inputEntry"), inputs), (_children(rule, "outputEntry"), outputs)):
        for column, entry in zip(cols, entries, strict=False):  # a short row is read as far as it goes
            cells[column.id] = _child_text(entry, "text")
    return _Rule(rule.get("id") or f"#{index}", _child_text(rule, "description"), cells)


def _compare_dmn(name: str, a: str | None, b: str | None, result: VersionDiff, _: Translate) -> str:
    old_root, new_root = _parse(name, a), _parse(name, b)
    if (a is not None and old_root is None) or (b is not None and new_root is None):
        return CHANGED
    old, new = _decisions(old_root), _decisions(new_root)
    found = []
    for decision_id in [*new, *(i for i in old if i not in new)]:
        change = _decision_change(name, old.get(decision_id), new.get(decision_id), _)
        if change is not None:
            found.append(change)
    result.decisions.extend(found)
    if found:
        return CHANGED
    return LAYOUT if _dmn_layout(old_root) != _dmn_layout(new_root) else FORMAT


def _dmn_layout(root: etree._Element) -> list[str]:
    return [_canon(e) for e in root.iter() if _local(e) in ("DMNShape", "DMNEdge")]


_EMPTY_DECISION = _Decision("", "", {}, {}, [])


def _decision_change(file: str, old: _Decision | None, new: _Decision | None,
                     _: Translate) -> DecisionChange | None:
    change = ADDED if old is None else REMOVED if new is None else CHANGED
    old, new = old or _EMPTY_DECISION, new or _EMPTY_DECISION
    fields = list(_field_changes(old.fields, new.fields, _))
    for column_id in [*new.columns, *(c for c in old.columns if c not in new.columns)]:
        a, b = old.columns.get(column_id), new.columns.get(column_id)
        label = _("列“{name}”").format(name=(b or a).label)
        for key in [*(b or a).fields]:
            before, after = (a.fields.get(key) if a else None), (b.fields.get(key) if b else None)
            if before != after:
                fields.append(FieldChange(f"column:{column_id}:{key}", f"{label} {_field_label(key, _)}",
                                          before, after))
    cells, rules = _rule_changes(old, new, _)
    if change == CHANGED and not (fields or cells or rules):
        return None
    decision = new if new is not _EMPTY_DECISION else old
    return DecisionChange(file, decision.id, decision.name, change, tuple(fields), tuple(cells), tuple(rules),
                          _table(old, new, cells, _))


def _rule_changes(old: _Decision, new: _Decision, _: Translate) -> tuple[list[CellChange], list[RuleChange]]:
    old_rows = {r.id: (i, r) for i, r in enumerate(old.rules, 1)}
    new_ids = {r.id for r in new.rules}
    cells, rules = [], []
    for row, rule in enumerate(new.rules, 1):
        if rule.id not in old_rows:
            rules.append(RuleChange(rule.id, row, None, ADDED, _cells_by_label(rule, new)))
            continue
        old_row, before = old_rows[rule.id]
        if old_row != row:
            rules.append(RuleChange(rule.id, row, old_row, "moved"))
        cells += _cell_changes(before, rule, row, old_row, old, new, _)
    for rule_id, (old_row, rule) in old_rows.items():
        if rule_id not in new_ids:
            rules.append(RuleChange(rule_id, None, old_row, REMOVED, _cells_by_label(rule, old)))
    return cells, rules


def _cell_changes(before: _Rule, after: _Rule, row: int, old_row: int, old: _Decision, new: _Decision,
                  _: Translate) -> list[CellChange]:
    out = []
    for column_id, column in new.columns.items():
        if column_id in old.columns and before.cells.get(column_id, "") != after.cells.get(column_id, ""):
            variable = column.fields.get("output") or column.fields.get("expression") or ""
            out.append(CellChange(after.id, row, old_row, column_id, column.label, column.kind,
                                  before.cells.get(column_id, ""), after.cells.get(column_id, ""), variable))
    if before.description != after.description:
        out.append(CellChange(after.id, row, old_row, "description", _("规则说明"), "description",
                              before.description, after.description))
    return out


def _cells_by_label(rule: _Rule, decision: _Decision) -> dict[str, str]:
    return {decision.columns[c].label: text for c, text in rule.cells.items() if c in decision.columns}


def _table(old: _Decision, new: _Decision, cells: list[CellChange], _: Translate) -> dict:
    """The table as a page shows it: the new version's rows, then the removed rows; changed cells carry the old
    text, rows their change (added, removed, moved, changed or same)."""
    shown = new if new is not _EMPTY_DECISION else old
    changed = {(c.rule_id, c.column_id): c.old for c in cells}
    old_rows = {r.id: i for i, r in enumerate(old.rules, 1)}
    new_ids = {r.id for r in new.rules}
    columns = [{"id": c.id, "label": c.label, "kind": c.kind} for c in shown.columns.values()]
    rows = []
    for row, rule in enumerate(shown.rules, 1):
        state = _row_state(rule.id, row, old_rows, new_ids, changed, shown is old)
        rows.append(_row(rule, row, state, shown, changed))
    if shown is new:
        removed = [(i, r) for i, r in enumerate(old.rules, 1) if r.id not in new_ids]
        rows += [_row(r, i, REMOVED, old, {}) for i, r in removed]
    return {"columns": columns, "rows": rows}


def _row_state(rule_id, row, old_rows, new_ids, changed, only_old) -> str:
    if only_old:
        return REMOVED
    if rule_id not in old_rows:
        return ADDED
    if any(key[0] == rule_id for key in changed):
        return CHANGED
    return "moved" if old_rows[rule_id] != row else "same"


def _row(rule: _Rule, row: int, state: str, decision: _Decision, changed: dict) -> dict:
    cells = [{"text": rule.cells.get(c, ""), "changed": (rule.id, c) in changed, "old": changed.get((rule.id, c))}
             for c in decision.columns]
    return {"rule_id": rule.id, "row": row, "change": state, "description": rule.description, "cells": cells,
            "description_old": changed.get((rule.id, "description"))}


# ---------------------------------------------------------------------------------------------------- forms

def _compare_form(name: str, a: str | None, b: str | None, result: VersionDiff, _: Translate) -> str:
    try:
        old = _schema_fields(json.loads(a)) if a is not None else {}
        new = _schema_fields(json.loads(b)) if b is not None else {}
    except (ValueError, AttributeError):
        return CHANGED
    fields = []
    for path in [*new, *(p for p in old if p not in new)]:
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        keys = [k for k in {**(before or {}), **(after or {})} if (before or {}).get(k) != (after or {}).get(k)]
        title = (after or before).get("title")
        label = _labelled(path, title if isinstance(title, str) else None) if path else _("整个表单")
        fields.append(FieldChange(path, label, _keywords(before, keys), _keywords(after, keys)))
    if not fields:
        return FORMAT
    change = ADDED if a is None else REMOVED if b is None else CHANGED
    result.forms.append(FormChange(name, change, tuple(fields)))
    return CHANGED


def _schema_fields(schema: dict, path: str = "") -> dict[str, dict]:
    """Each field of a form (by dotted path; `[]` for the items of a list) with its own keywords."""
    own = {k: v for k, v in schema.items() if k not in ("properties", "items") or not isinstance(v, dict)}
    out = {path: own}
    for name, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, dict):
            out.update(_schema_fields(sub, f"{path}.{name}" if path else name))
    if isinstance(schema.get("items"), dict):
        out.update(_schema_fields(schema["items"], f"{path}[]"))
    return out


def _keywords(values: dict | None, keys: list[str]) -> str | None:
    if values is None:
        return None
    return "；".join(f"{k}: {json.dumps(values[k], ensure_ascii=False)}" for k in keys if k in values)


_COMPARERS = {"bpmn": _compare_bpmn, "dmn": _compare_dmn, "form": _compare_form, "other": _compare_other}


# ---------------------------------------------------------------------------------------------------- labels

def _field_label(key: str, _: Translate) -> str:
    if key in _plain_labels(_):
        return _plain_labels(_)[key]
    prefix, _sep, rest = key.partition(":")
    if prefix == "property":
        return _property_labels(_).get(rest) or _("属性 {name}").format(name=rest)
    if prefix == "attr":
        return _attribute_labels(_).get(rest) or _("属性 {name}").format(name=rest)
    if prefix == "operator.param":
        return _("处理程序参数 {name}").format(name=rest)
    if key.startswith("loop."):
        return _("多实例 {name}").format(name=key[5:])
    return _("其他内容 {name}").format(name=rest.split("#")[0] if rest else key)


def _plain_labels(_: Translate) -> dict[str, str]:
    return {
        "type": _("元素类型"), "name": _("名称"), "documentation": _("说明"), "condition": _("条件"),
        "script": _("脚本"), "preScript": _("前置脚本"), "postScript": _("后置脚本"),
        "timer.date": _("计时器到期时间（timeDate）"), "timer.duration": _("计时器时长（timeDuration）"),
        "timer.cycle": _("计时器周期（timeCycle）"), "timer.setting": _("计时器读取的时限设置"),
        "operator": _("处理程序"), "operator.result": _("处理结果变量"), "decision": _("决策表"),
        "loop": _("多实例"), "lane": _("所在泳道"), "members": _("泳道中的元素"),
        "hitPolicy": _("命中策略"), "aggregation": _("汇总方式"), "description": _("说明"),
        "label": _("标题"), "expression": _("输入表达式"), "output": _("输出变量"), "typeRef": _("类型"),
    }


def _property_labels(_: Translate) -> dict[str, str]:
    return {"form": _("表单"), "role": _("办理角色"), "unit": _("办理单位")}


def _attribute_labels(_: Translate) -> dict[str, str]:
    return {
        "lianxin:role": _("泳道角色"), "lianxin:kind": _("计时器用途"), "attachedToRef": _("附着于"),
        "cancelActivity": _("中断任务"), "sourceRef": _("起点"), "targetRef": _("终点"), "default": _("默认出口"),
        "calledElement": _("调用的流程"), "isExecutable": _("可执行"), "messageRef": _("消息"),
        "processRef": _("流程"),
    }


def _type_label(tag: str, _: Translate) -> str:
    return _type_labels(_).get(tag, tag)


def _type_labels(_: Translate) -> dict[str, str]:
    return {
        "process": _("流程"), "participant": _("池"), "lane": _("泳道"), "sequenceFlow": _("顺序流"),
        "messageFlow": _("消息流"), "startEvent": _("开始事件"), "endEvent": _("结束事件"),
        "intermediateCatchEvent": _("中间捕获事件"), "intermediateThrowEvent": _("中间抛出事件"),
        "boundaryEvent": _("边界事件"), "task": _("任务"), "userTask": _("用户任务"), "manualTask": _("手工任务"),
        "scriptTask": _("脚本任务"), "serviceTask": _("服务任务"), "sendTask": _("发送任务"),
        "receiveTask": _("接收任务"), "businessRuleTask": _("业务规则任务"), "callActivity": _("调用活动"),
        "subProcess": _("子流程"), "exclusiveGateway": _("排他网关"), "inclusiveGateway": _("包容网关"),
        "parallelGateway": _("并行网关"), "textAnnotation": _("文本注释"), "association": _("关联"),
        "message": _("消息"), "error": _("错误"), "signal": _("信号"), "escalation": _("升级"),
        "dataObjectReference": _("数据对象"), "dataObject": _("数据对象"),
    }
