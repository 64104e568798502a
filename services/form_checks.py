"""Checks of submitted form data that JSON Schema cannot make: units (`"format": "lianxin-unit"`) and fields the
case requires (`x-case-requires`). The same checks run for the task API, the task page and registration, so bad
input is refused at submission (422 with what to do) instead of stopping the case later as an incident.

Form-schema conventions (see docs/designer-guide.md, 表单中的单位):

- `{"type": "string", "format": "lianxin-unit"}` is a unit of the organisation, stored as its code and chosen on
  the page by its name; an array whose `items` have that format is a list of units. `"x-unit-scope"` narrows the
  choice: `"all"` (default: any unit), `"routable"` (the units the acting office may route to: see
  `routable_units`) or `"subordinate"` (those without the office itself: 二次交办 within its own area, which
  services/second_assignment.py narrows to the office's county).
- `"x-unit-default": "unit_rule.unit"` names case data (a dotted path) that stands for the field when it is left
  empty; the default must then be a unit in scope, and never the acting office itself (that one only when
  chosen explicitly).
- `"x-show-when": {"route": ["交办转送"]}` on a property: it applies (is shown, checked, defaulted) only for those
  answers of another field of the same form.
- `"x-case-requires": [{"case": {"assignment.dispatch_type": "交办"}, "when": {"handle_action": ["答复"]},
  "required": ["completion_report", ...], "reason": "交办事项须报送办结报告"}]` at the top of a form: those fields
  are required when the case data and the form's own answers match (the fields are shown only when the case
  matches).
"""
from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field

from .orgchart import OrgChart

FORMAT = "lianxin-unit"
SCOPE_KEY = "x-unit-scope"
DEFAULT_KEY = "x-unit-default"
SHOW_KEY = "x-show-when"
CASE_REQUIRES_KEY = "x-case-requires"
SCOPES = ("all", "routable", "subordinate")
NOT_ROUTABLE_KINDS = ("joint_meeting_office",)  # besides the administrative levels (county, city, province)


@dataclass(frozen=True)
class UnitChoice:
    code: str
    name: str
    kind: str
    level: str  # the name of the administrative level the unit belongs to (东城县)
    own: bool = False  # the acting office itself: only when chosen explicitly

    def json(self) -> dict:
        return {"code": self.code, "name": self.name, "kind": self.kind, "level": self.level, "own": self.own}


# ---------------------------------------------------------------- scopes

# The routable units of the chart last asked about, by office (and its every unit, for the scope `all`): a completion
# asks up to three times and every one walks each unit's ancestors. A chart is never changed once built
# (services.orgchart.ChartSource builds a new one when the organisation changes), so a new chart object empties the
# table.
_ROUTABLE: dict = {"chart": None, "by_office": {}}


def routable_units(chart: OrgChart, office: str) -> list[UnitChoice]:
    """The units `office` may route (转送、交办) a matter to: every unit at the office's administrative level and the
    levels below it, except the levels themselves (governments) and joint-meeting offices; the office itself comes
    last, marked `own` (it handles a matter only when chosen explicitly)."""
    return _kept(chart, office, lambda: _routable_units(chart, office))


def _kept(chart: OrgChart, key, make) -> list[UnitChoice]:
    """A copy of the list `make()` gives for `key` of this chart, made once per chart (see `_ROUTABLE`)."""
    kept = _ROUTABLE
    if kept["chart"] is not chart:
        kept = {"chart": chart, "by_office": {}}
        _ROUTABLE.update(kept)  # replaced whole (not cleared), so a thread reading the old table is not disturbed
    key = (key, len(chart.units))  # and a unit added to or taken from a chart by hand (tests) is seen
    if key not in kept["by_office"]:
        kept["by_office"][key] = make()
    return list(kept["by_office"][key])


def _routable_units(chart: OrgChart, office: str) -> list[UnitChoice]:
    if not chart.has(office):
        return []
    top = chart.level_of(office).code
    out = []
    for unit in chart.units.values():
        if unit.kind in chart.tier_levels() or unit.kind in NOT_ROUTABLE_KINDS:
            continue
        if top not in {a.code for a in chart.ancestors(unit.code)}:
            continue
        out.append(_choice(chart, unit.code, own=unit.code == office))
    return sorted(out, key=lambda c: (c.own, c.level != chart.name(top), c.level, c.code))


def units_in_scope(chart: OrgChart, scope: str, office: str | None) -> list[UnitChoice]:
    if scope == "routable":
        return routable_units(chart, office or "")
    if scope == "subordinate":  # 二次交办: the units of the office's own area, never the office itself
        return [c for c in routable_units(chart, office or "") if not c.own]
    return _kept(chart, ("all", office), lambda: sorted((_choice(chart, code, own=code == office)
                                                          for code in chart.units), key=lambda c: c.code))


def _choice(chart: OrgChart, code: str, own: bool = False) -> UnitChoice:
    unit = chart.get(code)
    try:
        level = chart.level_of(code).name
    except LookupError:
        level = ""
    return UnitChoice(code, unit.name, unit.kind, level, own)


def search(chart: OrgChart, scope: str, office: str | None, q: str = "", limit: int = 50) -> list[UnitChoice]:
    """Units in scope whose name (or code) contains `q`, names first."""
    q = (q or "").strip()
    found = units_in_scope(chart, scope, office)
    if q:
        found = [c for c in found if q in c.name] + [c for c in found if q not in c.name and q.lower() in c.code]
    return found[:limit]


# ---------------------------------------------------------------- the unit fields of a form

@dataclass(frozen=True)
class UnitField:
    name: str
    title: str
    many: bool
    scope: str
    default: str | None
    show_when: dict | None


def unit_fields(schema: dict) -> list[UnitField]:
    out = []
    for key, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        many = prop.get("type") == "array" and (prop.get("items") or {}).get("format") == FORMAT
        if prop.get("format") == FORMAT or many:
            spec = prop.get("items") if many else prop
            out.append(UnitField(key, prop.get("title") or key, many,
                                 (spec.get(SCOPE_KEY) or prop.get(SCOPE_KEY) or "all"),
                                 prop.get(DEFAULT_KEY), prop.get(SHOW_KEY)))
    return out


def applies(show_when: dict | None, data: dict) -> bool:
    return not show_when or all(data.get(ctrl) in values for ctrl, values in show_when.items())


def case_value(case_data: dict, path: str):
    value = case_data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def names_to_codes(schema: dict, data: dict, chart: OrgChart, office: str | None) -> dict:
    """The page sends units by name: each name found in the field's scope (else in the organisation) becomes its
    code; codes stay; anything else stays as typed, for the check to refuse with the list."""
    out = dict(data)
    for f in unit_fields(schema):
        if f.name not in out:
            continue
        by_name = {}
        for c in reversed(units_in_scope(chart, "all", office)):
            by_name.setdefault(c.name, c.code)
        for c in units_in_scope(chart, f.scope, office):
            by_name[c.name] = c.code
        value = out[f.name]
        out[f.name] = ([_code(by_name, v) for v in value] if f.many and isinstance(value, list)
                       else _code(by_name, value))
    return out


def _code(by_name: dict[str, str], value):
    return by_name.get(value.strip(), value.strip()) if isinstance(value, str) else value


# ---------------------------------------------------------------- the checks

@dataclass
class Problem:
    """A problem with one field: `message` is a Chinese message id with `%(name)s` fields from `params`, so the web
    layer shows it in the page's language (`text()` is the Chinese)."""
    field: str
    title: str
    message: str
    units: list[UnitChoice] | None = None  # the valid choices, for a unit field
    params: dict = dataclass_field(default_factory=dict)

    def text(self) -> str:
        return self.message % self.params if self.params else self.message

    def json(self) -> dict:
        out = {"field": self.field, "title": self.title, "message": self.text()}
        if self.units is not None:
            out["valid_units"] = [{"code": c.code, "name": c.name} for c in self.units]
        return out


def unit_problems(schema: dict, data: dict, chart: OrgChart, office: str | None,
                  case_data: dict | None = None) -> list[Problem]:
    """Every unit field with a code that is unknown or outside its scope; an empty field whose default (case data)
    is not usable."""
    problems = []
    for f in unit_fields(schema):
        if not applies(f.show_when, data):
            continue
        valid = units_in_scope(chart, f.scope, office)
        codes = {c.code for c in valid}
        value = data.get(f.name)
        if value in (None, "", []):
            if f.default and case_data is not None:
                problem = _default_problem(f, case_value(case_data, f.default), chart, codes, office)
                if problem:
                    problems.append(Problem(f.name, f.title, problem[0], valid, problem[1]))
            continue
        values = value if isinstance(value, list) else [value]
        bad = [v for v in values if not isinstance(v, str) or v not in codes]
        if bad:
            message, params = _bad_message(f, bad, chart, f.scope)
            problems.append(Problem(f.name, f.title, message, valid, params))
    return problems


def _bad_message(f: UnitField, bad: list, chart: OrgChart, scope: str) -> tuple[str, dict]:
    unknown = [str(v) for v in bad if not (isinstance(v, str) and chart.has(v))]
    outside = [chart.name(v) for v in bad if isinstance(v, str) and chart.has(v)]
    if unknown:
        return "组织机构中没有单位“%(units)s”，请按名称从列表中选择", {"units": "、".join(unknown)}
    if scope == "routable":
        return "“%(units)s”不在本机关可转送交办的范围内，请按名称从列表中选择", {"units": "、".join(outside)}
    return "“%(units)s”不可选，请按名称从列表中选择", {"units": "、".join(outside)}


def _default_problem(f: UnitField, default, chart: OrgChart, codes: set[str],
                     office: str | None) -> tuple[str, dict] | None:
    if not default:
        return "没有建议的%(title)s，请选择", {"title": f.title}
    if not chart.has(default):
        return "建议的%(title)s“%(unit)s”不在组织机构中，请选择", {"title": f.title, "unit": default}
    if default == office:
        return ("建议的%(title)s是本机关“%(unit)s”：本机关自行办理须明确选择",
                {"title": f.title, "unit": chart.name(default)})
    if default not in codes:
        return ("建议的%(title)s“%(unit)s”不在本机关可转送交办的范围内，请选择",
                {"title": f.title, "unit": chart.name(default)})
    return None


def case_requirements(schema: dict, case_data: dict) -> list[dict]:
    """The `x-case-requires` rules whose case condition holds for this case."""
    return [rule for rule in schema.get(CASE_REQUIRES_KEY) or []
            if all(case_value(case_data, path) == want for path, want in (rule.get("case") or {}).items())]


def case_problems(schema: dict, data: dict, case_data: dict) -> list[Problem]:
    problems = []
    props = schema.get("properties") or {}
    for rule in case_requirements(schema, case_data):
        if not applies(rule.get("when"), data):
            continue
        for name in rule.get("required") or []:
            if data.get(name) in (None, "", []):
                title = (props.get(name) or {}).get("title") or name
                reason = rule.get("reason") or ""
                problems.append(Problem(name, title, "请填写“%(title)s”（%(reason)s）" if reason else "请填写“%(title)s”",
                                        params={"title": title, "reason": reason}))
    return problems


def case_only_fields(schema: dict, case_data: dict) -> set[str]:
    """Fields that exist for some cases only (named by an `x-case-requires` rule whose case does not match)."""
    named = {n for rule in schema.get(CASE_REQUIRES_KEY) or [] for n in rule.get("required") or []}
    shown = {n for rule in case_requirements(schema, case_data) for n in rule.get("required") or []}
    return named - shown


def check(schema: dict, data: dict, chart: OrgChart, office: str | None, case_data: dict | None = None
          ) -> list[Problem]:
    """Every problem of `data` beyond its JSON Schema (units, fields the case requires)."""
    problems = unit_problems(schema, data, chart, office, case_data)
    if case_data is not None:
        problems += case_problems(schema, data, case_data)
    return problems


def has_checks(schema: dict) -> bool:
    return bool(unit_fields(schema) or schema.get(CASE_REQUIRES_KEY))
