"""The administration area's paths in `/api/openapi.json`: the clock, notifications and the outbox, the report of
work nobody could do, cases in incident."""
from __future__ import annotations

from engine.effects import CHANNELS
from infra.channels import SIGNATURE_HEADER
from services.outbox_queries import FILTER_STATUSES

from ..http import op

CLOCK_PATHS = {
    "/api/clock": {"get": op("The clock", "clock"),
                   "post": op("Move the clock (clock control only)", "clock", body={"type": "object", "properties": {
                       "now": {"type": "string"}, "advance": {"type": "string"}}})},
}


def _query(name: str, kind: str = "string", enum: tuple | None = None) -> dict:
    schema: dict = {"type": kind}
    if enum:
        schema["enum"] = list(enum)
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _doc(summary: str, *, params: list | None = None, body: dict | None = None) -> dict:
    op: dict = {"summary": summary, "tags": ["notifications"],
                "responses": {"200": {"description": "OK"}, "401": {"description": "sign in first / bad signature"},
                              "403": {"description": "forbidden"}, "404": {"description": "not found"}}}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": body.get("required", False),
                             "content": {"application/json": {"schema": body["schema"]}}}
    return op


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_PAGE = [_query("limit", "integer"), _query("offset", "integer")]

NOTIFICATION_PATHS = {
    "/api/notifications": {"get": _doc("我的站内通知，最新在前，含未读数（my in-app notifications, unread count）",
                                       params=[_query("unread", "integer"), *_PAGE])},
    "/api/notifications/{id}/read": {"post": _doc("标为已读（mark read）", params=[_ID])},
    "/api/admin/outbox": {"get": _doc("通知发件箱，收件人脱敏（outbox with masked recipients; admins, auditors）",
                                      params=[_query("status", enum=FILTER_STATUSES), _query("channel", enum=CHANNELS),
                                              _query("case_id", "integer"), _query("from"), _query("to"), *_PAGE])},
    "/api/admin/outbox/{id}/resend": {"post": _doc(
        "重发投递失败的通知（re-queue a dead notification; admins）", params=[_ID],
        body={"schema": {"type": "object", "properties": {"template_version": {"type": "integer"}}}})},
    "/api/admin/notification-templates": {"get": _doc("通知模板及版本（templates, versions, fields）")},
    "/api/sms/status": {"post": _doc(
        f"短信网关送达回执，需 {SIGNATURE_HEADER} 签名（SMS delivery report, HMAC-signed）",
        body={"required": True, "schema": {"type": "object", "required": ["status"], "properties": {
            "idempotency_key": {"type": "string"}, "id": {"type": "string"},
            "status": {"type": "string", "enum": ["delivered", "failed"]}, "at": {"type": "string"},
            "error": {"type": "string"}}}})},
}

ORPHAN_PATHS = {
    "/api/admin/orphans": {"get": op("无人可办的待办（work nobody could do, placed with a petition office; admins）",
                                     "orphans")},
    "/api/admin/orphans/{id}/hand-back": {"post": op(
        "交回原单位，须该单位已有人担任该角色（hand an orphaned task back once its unit has someone; admins）",
        "orphans", params=[_ID])},
}

def _incident_doc(summary: str, *, body: dict | None = None) -> dict:
    op = _doc(summary, params=[_ID], body=body)
    op["tags"] = ["incidents"]
    op["responses"].update({"409": {"description": "the case is not in incident / changed meanwhile"},
                            "422": {"description": "refused: what to do (invalid JSON, form schema, unknown unit, "
                                                   "personal data, missing reason, unknown step)"}})
    return op


INCIDENT_PATHS = {
    "/api/admin/incidents": {"get": dict(_doc("故障案件：编号、流程及版本、出错环节、时间、原因及处理办法"
                                              "（cases in incident, in plain words; admins）"), tags=["incidents"])},
    "/api/admin/incidents/{id}": {"get": _incident_doc(
        "故障案件详情：出错环节及其数据、可移至的环节（failing steps with data, steps to move to; admins）")},
    "/api/admin/incidents/{id}/repair": {"post": _incident_doc(
        "修正出错环节的一个数据项，可随即重试（repair one data key, optionally retry; admins）",
        body={"required": True, "schema": {"type": "object", "required": ["key", "reason"], "properties": {
            "key": {"type": "string"}, "value": {}, "value_json": {"type": "string"},
            "reason": {"type": "string", "maxLength": 500}, "retry": {"type": "boolean"},
            "version": {"type": "integer"}}}})},
    "/api/admin/incidents/{id}/move": {"post": _incident_doc(
        "将故障案件移至本流程的另一环节（move the case to a step; admins）",
        body={"required": True, "schema": {"type": "object", "required": ["element_id", "reason"], "properties": {
            "element_id": {"type": "string"}, "reason": {"type": "string", "maxLength": 500},
            "version": {"type": "integer"}}}})},
}

OPENAPI_PATHS = {**CLOCK_PATHS, **NOTIFICATION_PATHS, **ORPHAN_PATHS, **INCIDENT_PATHS}
