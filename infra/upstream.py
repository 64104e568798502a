"""The upstream petition information system over HTTP: the documented implementation of the port
`infra.ports.UpstreamSystem`, and the signature both directions of the exchange use (docs/exchange.md).

Signing: with the shared key (`LIANXIN_EXCHANGE_KEY`), a request carries
- `X-Lianxin-Timestamp`: the sending instant in whole seconds since 1970-01-01 UTC;
- `X-Lianxin-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`: the body, bound to its timestamp,
  so a captured request cannot be sent again later with a fresh timestamp.
The receiver refuses a request whose timestamp is further than the allowed skew from its own clock
(`LIANXIN_EXCHANGE_MAX_SKEW_SECONDS`), so an old request is refused even with its right signature; within the
window a replay changes nothing, because matters are idempotent by upstream number and reports by their key.

Reports: `POST <LIANXIN_EXCHANGE_UPSTREAM_URL>` with the report as JSON, signed as above, with the outbox row's
`Idempotency-Key`; any 2xx is accepted (JSON `{"id": ...}` optional: the upstream's receipt); anything else,
or no answer, is a failure the deliverer retries with backoff and finally keeps as a dead letter.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from datetime import datetime
from urllib.parse import urlsplit

from infra.channels import SIGNATURE_HEADER, ChannelConfigError, Message, post_for_id

TIMESTAMP_HEADER = "X-Lianxin-Timestamp"
MAX_RESPONSE_BYTES = 64 * 1024


def signature(key: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                                hashlib.sha256).hexdigest()


def signed_headers(key: str, body: bytes, now: datetime) -> dict[str, str]:
    timestamp = str(int(now.timestamp()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(key, timestamp, body)}


def refusal(key: str, body: bytes, timestamp: str | None, sent_signature: str | None, now: datetime,
            max_skew_seconds: int) -> str | None:
    """Why a signed request is refused (`bad_signature` or `stale`), or None when it is accepted."""
    text = (timestamp or "").strip()
    if not key or not text.isdigit() or not sent_signature:
        return "bad_signature"
    if not hmac.compare_digest(signature(key, text, body), sent_signature.strip()):
        return "bad_signature"
    if abs(now.timestamp() - int(text)) > max_skew_seconds:
        return "stale"
    return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class HttpUpstream:
    """Reports to the upstream system at `url`, signed with `key`. Also a delivery channel (`send`), so the
    outbox delivers rows of channel `upstream` through it."""

    def __init__(self, url: str, key: str, timeout: float = 10.0):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ChannelConfigError("上级信访信息系统地址必须是 http:// 或 https:// 地址"
                                     "（LIANXIN_EXCHANGE_UPSTREAM_URL must be http(s)）")
        if not key:
            raise ChannelConfigError("上报上级系统需要共享密钥 LIANXIN_EXCHANGE_KEY（the exchange needs a shared key）")
        self.url, self.key, self.timeout = url, key, timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    def report(self, report: dict, idempotency_key: str, now: datetime) -> str:
        body = json.dumps(report, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "Idempotency-Key": idempotency_key,
            **signed_headers(self.key, body, now)})
        return post_for_id(self._opener, request, self.timeout, ("上级信访信息系统", "upstream"))

    def send(self, message: Message) -> str:
        return self.report(message.data if message.data is not None else json.loads(message.body),
                           message.idempotency_key, message.now)
