"""The administration area's part of `/api`: the clock (shown to everyone; moved only where clock control is on,
for demos and tests)."""
from __future__ import annotations

from datetime import timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.clock import parse_instant

from ..auth import ApiError, roles_required
from ..http import api_part, body, container, ok

bp = api_part(__name__)


@bp.get("/clock")
def get_clock():
    c = container()
    return ok({"now": c.clock.now(), "control": c.settings.allow_clock_control})


@bp.post("/clock")
@roles_required("admin", "designer")
def set_clock():
    c = container()
    if not c.settings.allow_clock_control:
        raise ApiError(403, "forbidden", "时钟控制未启用（set LIANXIN_ALLOW_CLOCK_CONTROL=1 for demos and tests only）")
    data = body()
    if "now" in data:
        try:
            when = parse_instant(str(data["now"]))
        except ValueError:
            raise ApiError(400, "malformed", "now 必须是 ISO-8601 时间（now must be ISO-8601）") from None
    elif "advance" in data:
        when = c.clock.now() + _parse_duration(str(data["advance"]))
    else:
        raise ApiError(400, "malformed", "需要 now 或 advance（send now or advance）")
    return ok({"now": c.set_clock(when)})


def _parse_duration(text: str) -> timedelta:
    try:
        parts = TimerEventDefinition.parse_iso_duration(text)
    except Exception:
        raise ApiError(400, "malformed", "advance 必须是 ISO-8601 时长，如 P3D 或 PT4H（advance must be an ISO-8601 duration）") from None
    return timedelta(days=parts.get("days", 0) + 7 * parts.get("weeks", 0), hours=parts.get("hours", 0),
                     minutes=parts.get("minutes", 0), seconds=parts.get("seconds", 0))
