"""The exchange's path in `/api/openapi.json`: the upstream system's signed push of a matter."""
from __future__ import annotations

from infra.channels import SIGNATURE_HEADER
from infra.upstream import TIMESTAMP_HEADER

OPENAPI_PATHS = {
    "/api/exchange/inbound": {"post": {
        "summary": f"上级信访信息系统推送转送、交办的信访事项，需 {TIMESTAMP_HEADER} 与 {SIGNATURE_HEADER} 签名"
                   "（a matter pushed by the upstream system, HMAC-signed; docs/exchange.md）",
        "tags": ["exchange"], "security": [],
        "parameters": [{"name": TIMESTAMP_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
                       {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "description": "docs/exchange/inbound.schema.json"}}}},
        "responses": {k: {"description": v} for k, v in {
            "201": "registered: upstream_no, case_id, case_no, duplicate=false",
            "200": "registered before (duplicate=true): the same case",
            "401": "bad_signature, or stale (timestamp outside the allowed skew); nothing stored",
            "404": "the exchange is not configured (LIANXIN_EXCHANGE_KEY)",
            "422": "invalid: details.problems lists each problem (path, message); nothing stored",
            "429": "too many requests from this address: retry after Retry-After seconds"}.items()}}},
}
