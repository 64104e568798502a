"""Requests from the SMS gateway (delivery reports to the administration area, inbound messages to the public
area): the body, after its HMAC signature is checked."""
from __future__ import annotations

import logging

from flask import request

from engine import bounded_json
from infra.channels import SIGNATURE_HEADER, signature_ok

from .http import ApiError, container
from .notify_setup import sms_channel

log = logging.getLogger("lianxin.notifications")


def signed_gateway_json(what: str):
    """The body of a request from the SMS gateway, after checking its HMAC signature (refused and logged when
    missing or wrong). Returns the parsed JSON, or None when it is not JSON."""
    channel = sms_channel(container().settings)
    if channel is None:
        raise ApiError(404, "not_configured", "未配置短信渠道（no SMS gateway is configured）")
    raw = request.get_data(cache=False)
    if not signature_ok(channel.secret, raw, request.headers.get(SIGNATURE_HEADER)):
        log.warning("SMS %s refused: bad or missing %s from %s", what, SIGNATURE_HEADER, request.remote_addr)
        raise ApiError(401, "bad_signature", f"签名错误（missing or wrong {SIGNATURE_HEADER}）")
    try:
        return bounded_json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):  # bounded_json.JsonTooDeep is a ValueError: "not JSON" too
        return None
