"""Every JSON request body is parsed with a bound on nesting (engine/bounded_json.py) and, through Flask's request
limit, on size: a body nested too deep is answered 400 with a JSON error saying what to do, before any view or
sign-in check runs, instead of a RecursionError and a 500.

The bound is applied in the app's JSON provider, which `request.get_json()` (silent or not) goes through, so no
view can forget it. The error is raised as an ApiError rather than a ValueError so that `get_json(silent=True)`
does not turn it into "no body".
"""
from __future__ import annotations

from flask.json.provider import DefaultJSONProvider

from engine import bounded_json

from .auth import ApiError

MAX_JSON_DEPTH = bounded_json.MAX_DEPTH


def too_deep(max_depth: int) -> ApiError:
    return ApiError(400, "too_deep",
                    f"JSON 嵌套超过 {max_depth} 层，请减少嵌套层数后重新提交"
                    f"（the JSON body nests deeper than {max_depth} levels: flatten it and send again）",
                    {"max_depth": max_depth})


class BoundedJSONProvider(DefaultJSONProvider):
    ensure_ascii = False

    def loads(self, s: str | bytes, **kwargs):
        try:
            return bounded_json.loads(s, max_depth=MAX_JSON_DEPTH, **kwargs)
        except bounded_json.JsonTooDeep as err:
            raise too_deep(err.max_depth) from None


def install(app) -> None:
    app.json = BoundedJSONProvider(app)
