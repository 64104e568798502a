"""The public area's paths in `/api/openapi.json`: the progress query and inbound SMS."""
from __future__ import annotations

from infra.channels import SIGNATURE_HEADER


def _doc(summary: str, responses: dict, **extra) -> dict:
    return {"summary": summary, "tags": ["public"],
            "responses": {k: {"description": v} for k, v in responses.items()}, **extra}


OPENAPI_PATHS = {
    "/api/sms/inbound": {"post": _doc(
        f"短信网关推送的上行短信，需 {SIGNATURE_HEADER} 签名：登记短信信访或记录评价（inbound SMS, HMAC-signed）",
        {"200": "handled (status: registered, rated, rating_not_found, rating_help, help; duplicate)",
         "400": "malformed", "401": "bad signature", "404": "no SMS gateway configured",
         "429": "too many messages from this address: retry after Retry-After seconds"},
        requestBody={"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["from", "id"], "properties": {
                "from": {"type": "string"}, "text": {"type": "string"}, "id": {"type": "string"},
                "at": {"type": "string"}}}}}})},
    "/api/public/cases/{case_no}": {"get": _doc(
        "凭编号和查询码查询公开办理进度，无需登录（public progress by case number and query code）",
        {"200": "dates, unit, stage", "404": "wrong case number or query code",
         "429": "too many wrong codes"},
        parameters=[{"name": "case_no", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "code", "in": "query", "required": True, "schema": {"type": "string"}}])},
}
