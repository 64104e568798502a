"""The administration area's part of `/api`: the clock (shown to everyone; moved only where clock control is on,
for demos and tests), and the cases in incident (list, detail, repair, move: web/admin/incidents.py)."""
from __future__ import annotations

from datetime import timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.clock import parse_instant
from services import incidents as incident_model

from ..auth import ApiError, current_principal, roles_required
from ..guards import visible_case_or_404
from ..http import api_part, body, container, ok
from . import incidents

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


# ---------------------------------------------------------------- cases in incident (web/admin/incidents.py)

def _version_of(data: dict) -> int | None:
    version = data.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise ApiError(400, "malformed", "version 必须是整数（version must be an integer）")
    return version


@bp.get("/admin/incidents")
@roles_required(*incidents.REPAIR_ROLES)
def list_incidents():
    p = current_principal()
    return ok({"incidents": incidents.listing(p), "confidential_hidden": incidents.hidden_confidential(p)})


@bp.get("/admin/incidents/<int:case_id>")
@roles_required(*incidents.REPAIR_ROLES)
def incident_case(case_id: int):
    visible_case_or_404(case_id)
    return ok(incidents.detail(case_id))


@bp.post("/admin/incidents/<int:case_id>/repair")
@roles_required(*incidents.REPAIR_ROLES)
def repair_incident(case_id: int):
    visible_case_or_404(case_id)
    data = body()
    if "value_json" in data:
        try:
            value = incident_model.parse_value(data["value_json"])
        except incident_model.RepairRefused as err:
            raise ApiError(422, "invalid", str(err)) from None
    elif "value" in data:
        value = data["value"]
    else:
        raise ApiError(400, "malformed", "需要 value（JSON 值）或 value_json（JSON 文本）（send value or value_json）")
    return ok(incidents.repair(current_principal(), case_id, str(data.get("key") or ""), value,
                               str(data.get("reason") or ""), retry=bool(data.get("retry")),
                               version=_version_of(data)))


@bp.post("/admin/incidents/<int:case_id>/move")
@roles_required(*incidents.REPAIR_ROLES)
def move_incident(case_id: int):
    visible_case_or_404(case_id)
    data = body()
    return ok(incidents.move(current_principal(), case_id, str(data.get("element_id") or ""),
                             str(data.get("reason") or ""), _version_of(data)))
