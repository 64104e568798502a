"""User-task forms from JSON Schema (processes/forms/*.schema.json): the fields to render, the submitted values
parsed back into JSON, and server-side validation with `jsonschema` (Draft 2020-12) giving one Chinese message
per field.

Field names in HTML are the JSON path joined with "-" (`petitioners-0-name`); error keys use the same path, so
a template puts each message next to its field. Values that do not parse (letters in a number) are kept as typed
so that validation reports them and the form shows them again unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from jsonschema import Draft202012Validator, FormatChecker

LONG_TEXT = 200  # strings allowed to be longer than this get a textarea
RADIO_MAX = 5  # enums with at most this many choices are radio buttons, else a select
UNIT_FORMAT = "lianxin-unit"  # a unit of the organisation: stored as its code, chosen by its name


@dataclass
class Field:
    name: str  # HTML name = error key
    title: str
    kind: str  # text, textarea, select, radio, yesno, checkbox, integer, number, date, lines, checkboxes, table, group,
    #           unit (one unit of the organisation, chosen by name), units (several)
    required: bool = False
    value: Any = None
    error: str | None = None
    options: list = field(default_factory=list)
    description: str = ""
    maxlength: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    columns: list[Field] = field(default_factory=list)  # table: one Field per column (template row)
    rows: list[list[Field]] = field(default_factory=list)  # table: the rows with values and errors
    children: list[Field] = field(default_factory=list)  # group (an object)
    max_items: int | None = None
    show_when: dict | None = None  # {controlling field: [values]}: the field applies (and is required) only then
    optional: bool = False  # shown only when show_when holds, and not required even then (x-show-when)
    unit_scope: str = ""  # unit fields: the scope of the choice (services/form_checks.py)
    display: Any = None  # unit fields: the unit's name (units: the names) shown for the stored code(s)

    @property
    def invalid(self) -> bool:
        return bool(self.error)


def _kind(prop: dict) -> str:
    t = prop.get("type")
    if "enum" in prop:
        return "radio" if len(prop["enum"]) <= RADIO_MAX else "select"
    if t == "boolean":
        return "checkbox" if "default" in prop else "yesno"
    if t in ("integer", "number"):
        return t
    if t == "string" and prop.get("format") == "date":
        return "date"
    if t == "string" and prop.get("format") == UNIT_FORMAT:
        return "unit"
    if t == "string":
        return "textarea" if (prop.get("maxLength") or 0) > LONG_TEXT else "text"
    if t == "object":
        return "group"
    if t == "array":
        items = prop.get("items") or {}
        if items.get("type") == "object":
            return "table"
        if items.get("format") == UNIT_FORMAT:
            return "units"
        return "checkboxes" if "enum" in items else "lines"
    return "text"


def conditions(schema: dict) -> dict[str, dict[str, list]]:
    """Fields that apply only for some answer of another field, read from the schema's own conditional
    requirements (`allOf: [{"if": {"properties": {"x": {"const": v}}}, "then": {"required": [...]}}]`):
    field -> {x: [values of x under which it is required]}. A field always required, or required under
    several controlling fields, is left out (always shown). The page hides the others until they apply."""
    always = set(schema.get("required", []))
    found: dict[str, dict[str, list]] = {}
    for rule in list(schema.get("allOf") or []) + ([schema] if "if" in schema else []):
        cond = ((rule.get("if") or {}).get("properties") or {})
        if len(cond) != 1:
            continue
        (ctrl, spec), = cond.items()
        values = [spec["const"]] if "const" in spec else list(spec.get("enum") or [])
        if not values:
            continue
        for name in (rule.get("then") or {}).get("required", []):
            if name not in always and name != ctrl:
                found.setdefault(name, {}).setdefault(ctrl, []).extend(v for v in values
                                                                       if v not in found[name].get(ctrl, []))
    return {name: ctrls for name, ctrls in found.items() if len(ctrls) == 1}


def build_fields(schema: dict, values: dict | None = None, errors: dict | None = None,
                 prefix: str = "", unit_names: dict | None = None, hidden: set | None = None) -> list[Field]:
    """`unit_names` (code -> name) shows unit fields by name; `hidden` leaves fields out (those this case has not)."""
    values, errors, names = values or {}, errors or {}, unit_names or {}
    required = set(schema.get("required", []))
    applies = conditions(schema) if not prefix else {}
    optional: set[str] = set()  # shown only for some answers, but not required then either
    for key, prop in (schema.get("properties") or {}).items():  # `x-show-when` names the condition itself
        if not prefix and isinstance(prop, dict) and isinstance(prop.get("x-show-when"), dict) and key not in applies:
            applies[key] = prop["x-show-when"]
            optional.add(key)
    out = []
    for key, prop in (schema.get("properties") or {}).items():
        if hidden and key in hidden:
            continue
        name = f"{prefix}{key}"
        kind = _kind(prop)
        f = Field(name=name, title=prop.get("title") or key, kind=kind, required=key in required,
                  value=values.get(key, prop.get("default")), error=errors.get(name),
                  description=prop.get("description", ""), maxlength=prop.get("maxLength"),
                  minimum=prop.get("minimum"), maximum=prop.get("maximum"), max_items=prop.get("maxItems"),
                  show_when=applies.get(key), optional=key in optional)
        if "enum" in prop:
            f.options = list(prop["enum"])
        elif kind == "checkboxes":
            f.options = list(prop["items"]["enum"])
        if kind == "group":
            f.children = build_fields(prop, values.get(key) or {}, errors, prefix=f"{name}-")
        if kind == "table":
            items = prop["items"]
            f.columns = build_fields(items, {}, {}, prefix=f"{name}-__i__-")
            rows = values.get(key) if isinstance(values.get(key), list) else []
            if not rows:
                rows = [{}]
            f.rows = [build_fields(items, row if isinstance(row, dict) else {}, errors, prefix=f"{name}-{i}-")
                      for i, row in enumerate(rows)]
        if kind == "lines" and isinstance(f.value, list):
            f.value = "\n".join(str(v) for v in f.value)
        if kind in ("unit", "units"):
            spec = prop.get("items") if kind == "units" else prop
            f.unit_scope = spec.get("x-unit-scope") or prop.get("x-unit-scope") or "all"
            shown = f.value if isinstance(f.value, list) else [] if f.value in (None, "") else [f.value]
            shown = [names.get(v, v) if isinstance(v, str) else str(v) for v in shown]
            f.display = shown if kind == "units" else (shown[0] if shown else "")
        out.append(f)
    return out


# ---------------------------------------------------------------- parsing a submitted form

def _scalar(prop: dict, raw: str | None):
    """None when empty; a parsed value; or the raw text when it does not parse (validation reports it)."""
    if raw is None:
        return None
    text = raw.strip()
    if text == "":
        return None
    t = prop.get("type")
    if t == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if t == "number":
        try:
            return float(text) if any(ch in text for ch in ".eE") else int(text)
        except ValueError:
            return text
    if t == "boolean":
        return {"true": True, "on": True, "1": True, "false": False, "0": False}.get(text, text)
    return text


def parse_form(schema: dict, form, prefix: str = "") -> dict:
    """The JSON document a submitted HTML form stands for (`form` is a werkzeug MultiDict)."""
    data: dict = {}
    for key, prop in (schema.get("properties") or {}).items():
        name = f"{prefix}{key}"
        kind = _kind(prop)
        if kind == "checkbox":
            data[key] = form.get(name) in ("on", "true", "1")
        elif kind == "group":
            sub = parse_form(prop, form, prefix=f"{name}-")
            if sub:
                data[key] = sub
        elif kind == "table":
            indexes = sorted({int(k.split("-")[len(name.split("-"))]) for k in form
                              if k.startswith(f"{name}-") and k.split("-")[len(name.split("-"))].isdigit()})
            rows = [parse_form(prop["items"], form, prefix=f"{name}-{i}-") for i in indexes]
            rows = [r for r in rows if r]
            if rows:
                data[key] = rows
        elif kind in ("checkboxes", "units"):
            chosen = [v.strip() for v in form.getlist(name) if v and v.strip()]
            if chosen:
                data[key] = chosen
        elif kind == "lines":
            lines = [ln.strip() for ln in (form.get(name) or "").splitlines() if ln.strip()]
            if lines:
                data[key] = lines
        else:
            value = _scalar(prop, form.get(name))
            if value is not None:
                data[key] = value
    return data


# ---------------------------------------------------------------- validation

def _title_at(schema: dict, path: list) -> str:
    node = schema
    title = ""
    for part in path:
        if isinstance(part, int):
            node = node.get("items") or {}
            continue
        node = (node.get("properties") or {}).get(part) or {}
        title = node.get("title") or str(part)
    return title


def _message(schema: dict, err, path: list) -> str:
    """The field's message in the page's language (message ids are the Chinese texts; web/translations/forms):
    Chinese on Chinese pages and in the API's JSON, English where the request asks for it (?lang=en)."""
    v, val = err.validator, err.validator_value
    title = _title_at(schema, path)
    if v == "required":
        return _("请填写“%(title)s”", title=_(title) if title else title)
    if v == "minLength":
        return _("不能为空") if val == 1 else _("至少 %(n)s 个字", n=val)
    if v == "maxLength":
        return _("最多 %(n)s 个字，现有 %(have)s 个", n=val, have=len(err.instance))
    if v in ("enum", "const"):
        return _("请从列表中选择")
    if v == "type":
        wanted = val if isinstance(val, str) else val[0]
        texts = {"integer": _("请填写整数"), "number": _("请填写数字"), "boolean": _("请选择“是”或“否”")}
        return texts.get(wanted) or _("格式不对，应为 %(type)s", type=wanted)
    if v == "minimum":
        return _("不能小于 %(n)s", n=val)
    if v == "maximum":
        return _("不能大于 %(n)s", n=val)
    if v == "minItems":
        return _("至少填写 %(n)s 项", n=val)
    if v == "maxItems":
        return _("最多 %(n)s 项", n=val)
    if v == "format" and val == "date":
        return _("请按“年-月-日”填写日期，如 2026-03-02")
    if v == "pattern":
        return _("格式不对")
    return err.message


# Lianxin's own keywords on a top-level field (JSON Schema ignores them; deployment accepts them):
#   "x-default": "today" | value   filled in when the field is left out or empty ("today": the Beijing date of
#                                   the submission), e.g. the date of service 送达日期 and its method 直接送达;
#   "x-not-after": "today" | field  a date field may not lie after today / after that date field;
#   "x-not-before": "today" | field a date field may not lie before today / before that date field.
TODAY = "today"


def with_defaults(schema: dict, data: dict, today: date) -> dict:
    """A copy of `data` with each top-level field that has `x-default` filled when left out or empty."""
    out = dict(data)
    for key, prop in (schema.get("properties") or {}).items():
        if "x-default" in prop and out.get(key) in (None, ""):
            out[key] = today.isoformat() if prop["x-default"] == TODAY else prop["x-default"]
    return out


def _bound(value, data: dict, today: date):
    if value == TODAY:
        return today, "今天（today）"
    other = data.get(value)
    try:
        return (date.fromisoformat(other), f"“{value}”（{other}）") if isinstance(other, str) else (None, "")
    except ValueError:
        return None, ""


def date_bound_errors(schema: dict, data: dict, today: date) -> dict[str, str]:
    """{field: message} for every date field outside its `x-not-after` / `x-not-before` bounds."""
    props = schema.get("properties") or {}
    errors: dict[str, str] = {}
    for key, prop in props.items():
        raw = data.get(key)
        if not isinstance(raw, str) or not raw:
            continue
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            continue  # the format check reports it
        for keyword, later in (("x-not-after", True), ("x-not-before", False)):
            if keyword not in prop:
                continue
            limit, said = _bound(prop[keyword], data, today)
            if limit is None:
                continue
            if said != "今天（today）":
                said = f"“{(props.get(prop[keyword]) or {}).get('title') or prop[keyword]}”（{limit.isoformat()}）"
            if later and value > limit:
                errors.setdefault(key, f"不能晚于{said}，请改正（may not be later）")
            elif not later and value < limit:
                errors.setdefault(key, f"不能早于{said}，请改正（may not be earlier）")
    return errors


def validate(schema: dict, data: dict, today: date | None = None) -> dict[str, str]:
    """{field name: message} for every problem (empty when valid); the first message per field wins. With
    `today`, date fields are also checked against their `x-not-after` / `x-not-before` bounds."""
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    errors: dict[str, str] = {}
    if today is not None:
        errors.update(date_bound_errors(schema, data, today))
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        path = list(err.absolute_path)
        if err.validator == "required":
            instance = err.instance if isinstance(err.instance, dict) else {}
            for missing in err.validator_value:
                if missing not in instance:
                    key = "-".join(map(str, path + [missing]))
                    errors.setdefault(key, _message(schema, err, path + [missing]))
            continue
        key = "-".join(map(str, path)) or "_form"
        errors.setdefault(key, _message(schema, err, path))
    return errors


def error_list(schema: dict, errors: dict[str, str]) -> list[dict]:
    """Errors for a JSON response: [{field, title, message}]."""
    return [{"field": k, "title": _title_at(schema, [int(p) if p.isdigit() else p for p in k.split("-")])
             if k != "_form" else "", "message": m} for k, m in errors.items()]
