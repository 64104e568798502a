"""The facts a decision rests on, named once per form: a form's `x-facts` lists the case data to show above its
fields (审核销号: the reply, outcome, legal basis and co-units' opinions; 审核异议: the objection; ...), so every page
that shows the form shows the same facts (see docs/designer-guide.md, 决定所依据的情况).

    "x-facts": [
      {"key": "reply_notice.text", "title": "送达的答复意见书"},
      {"key": "reply_text", "title": "答复内容", "long": true},
      {"key": "co_opinions", "title": "协办单位意见", "fields": ["unit_name", "opinion"]}
    ]

- `key`: a dotted path into the case data (`reply_notice.service.served_on`; a number picks a list item);
- `title`: what the page calls it (Chinese; translated on English pages);
- `long` (optional): long text, shown with its line breaks;
- `fields` (optional): for a list of records, the fields shown for each record, joined by "：".

An entry whose data is missing or empty at that step is left out. Personal data is masked (services/masking.py)
when the viewer may not see it in full. Deployment refuses a malformed `x-facts` (engine/definitions.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from engine.clock import SHANGHAI
from engine.form_facts import FACTS_KEY, problems

from .masking import mask_personal_data

__all__ = ["FACTS_KEY", "Fact", "facts", "lookup", "problems"]

ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@dataclass(frozen=True)
class Fact:
    key: str
    title: str
    value: str = ""  # a single value, as text
    items: list[str] = field(default_factory=list)  # a list: one line each
    long: bool = False


def lookup(data: dict, path: str):
    """The value at a dotted `path` of `data` (None when any step is missing)."""
    value = data
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict):
        return "：".join(_text(v) for v in value.values() if _text(v))
    if isinstance(value, list):
        return "、".join(_text(v) for v in value if _text(v))
    text = str(value).strip()
    if ISO_MOMENT.match(text):  # a moment in time: as the office reads it, Beijing time
        moment = datetime.fromisoformat(text)
        return (moment.astimezone(SHANGHAI) if moment.tzinfo else moment).strftime("%Y-%m-%d %H:%M")
    return text


def _item(value, fields: list[str] | None) -> str:
    if isinstance(value, dict) and fields:
        return "：".join(t for t in (_text(value.get(f)) for f in fields) if t)
    return _text(value)


def facts(schema: dict, data: dict, *, full: bool = True) -> list[Fact]:
    """The `x-facts` of `schema` with their values in `data`, masked unless the viewer sees personal data in `full`;
    entries without a value at this step are left out."""
    out = []
    for spec in schema.get(FACTS_KEY) or []:
        if not isinstance(spec, dict) or not isinstance(spec.get("key"), str):
            continue
        key = spec["key"]
        value = lookup(data, key)
        if not full:
            value = mask_personal_data({key.rsplit(".", 1)[-1]: value})[key.rsplit(".", 1)[-1]]
        title = str(spec.get("title") or key)
        fields = spec.get("fields") if isinstance(spec.get("fields"), list) else None
        if isinstance(value, list) and (fields or any(isinstance(v, dict) for v in value)):
            items = [t for t in (_item(v, fields) for v in value) if t]
            if items:
                out.append(Fact(key, title, items=items, long=bool(spec.get("long"))))
            continue
        text = _text(value)
        if text:
            out.append(Fact(key, title, value=text, long=bool(spec.get("long"))))
    return out
