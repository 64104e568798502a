"""JSON from outside with a bound on nesting: `loads` refuses a document nested deeper than `max_depth`.

Python's parser recurses once per level, so `[[[[...` 100,000 deep ends in a RecursionError, which is not the
ValueError every caller of `json.loads` expects and surfaced as a 500 before sign-in. No document this system
takes (case data, forms, a calendar, a form's JSON Schema) comes near the bound. The size of a document is bounded
where it is read (the request body limit, the file size limit of a definition), not here.
"""
from __future__ import annotations

import json

MAX_DEPTH = 64


class JsonTooDeep(ValueError):
    def __init__(self, max_depth: int):
        super().__init__(f"JSON nested deeper than {max_depth} levels")
        self.max_depth = max_depth


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, **kwargs):
    """`json.loads(text)`, or JsonTooDeep when the document nests deeper than `max_depth` arrays and objects."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:  # far deeper than any bound: the parser gave up before finishing
        raise JsonTooDeep(max_depth) from None
    if depth_exceeds(value, max_depth):
        raise JsonTooDeep(max_depth)
    return value


def depth_exceeds(value, max_depth: int) -> bool:
    """Whether `value` nests more than `max_depth` containers, without recursion (each container visited once)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
