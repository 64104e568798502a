"""Rate limits (Flask-Limiter), all in one place: sign-in, the public progress query, inbound SMS.

Counters live in Redis when `LIANXIN_REDIS_URL` is set, else in our database (infra/rate_limits.py), so every
web process of a deployment counts together. What is counted, and why so:

- Sign-in (the page and `POST /api/session` share the counters): wrong passwords per account and per client
  address, `signin_failures_per_*` in `signin_window_minutes`. Only failures count; once a counter is full every
  attempt is refused with 429, the right password too, until its window ends.
- Public query (the page /query and `GET /api/public/cases/<no>` share the counters): wrong case number or code
  per (case number, address) and per address. Not per case number alone: that would let anyone lock a
  petitioner out of their own case (five wrong codes from elsewhere). The case number is normalised first
  (spaces dropped, full-width to half-width, letters folded), so variants of one number count together.
- Inbound SMS: every request per gateway address, `sms_inbound_per_minute`.
- The petitioners' portal (web/portal/): SMS sign-in codes per mobile number and per address in an hour
  (`portal_codes_per_phone`, `portal_codes_per_address`; every request counts, so nobody can flood a number with
  codes), wrong codes per address with the sign-in failures (`signin_failures_per_address`), and online
  submissions per signed-in number and per address in a day (`portal_submissions_per_*`).
- The upstream system's push (`POST /api/exchange/inbound`): every request per address,
  `exchange_inbound_per_minute`.

A refusal is 429 with `Retry-After` (seconds) and says in Chinese when to try again: JSON under /api, a page
otherwise. Keys are digests: no username or case number is stored with a counter.
"""
from __future__ import annotations

import hashlib
import ipaddress
import math
import time
import unicodedata

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from limits.errors import StorageError

from infra.rate_limits import SCHEME
from services.case_lookup import normal_case_no

from . import portal_session


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def client_address() -> str:
    """The client's address as counted: an IPv6 address by its /64 network, since one subscriber usually holds a
    whole /64 and could otherwise take a fresh address for every guess."""
    address = request.remote_addr or "-"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _username() -> str:
    if request.is_json:
        data = request.get_json(silent=True)
        name = data.get("username") if isinstance(data, dict) else None
    else:
        name = request.form.get("username")
    return unicodedata.normalize("NFKC", name if isinstance(name, str) else "").strip().casefold()


def account_key() -> str:
    return "account:" + _digest(_username())


def address_key() -> str:
    return "address:" + _digest(client_address())


def _queried_case_no() -> str:
    return (request.view_args or {}).get("case_no") or request.values.get("case_no", "")


def case_address_key() -> str:
    return "case:" + _digest(normal_case_no(_queried_case_no()) + "|" + client_address())


def portal_phone_key() -> str:
    """The mobile number a code is asked for (the form's), or the signed-in one (a submission)."""
    number = request.form.get("phone") if request.endpoint == "portal.request_code" else portal_session.phone()
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", str(number or "")) if ch.isdigit())
    return "phone:" + _digest(digits[-11:])


def _failed_portal_signin(response) -> bool:
    return response.status_code == 401


def _no_query() -> bool:
    """The query page without a case number or code is only the form: nothing to count or refuse."""
    return request.endpoint == "public.query_page" and not (request.values.get("case_no")
                                                             or request.values.get("code"))


def _failed_signin(response) -> bool:
    """A 401, but not the one that asks for the second factor after a right password (web/signin.py)."""
    return response.status_code == 401 and not g.get("second_factor_step", False)


def _failed_query(response) -> bool:
    return response.status_code == 404


def install(app: Flask, c) -> Limiter:
    """A limiter for this app on the deployment's storage, and the limits on their endpoints."""
    settings = c.settings
    if settings.redis_url:
        uri, options, now = settings.redis_url, {"wrap_exceptions": True}, time.time
    else:
        def now() -> float:
            return c.clock.now().timestamp()

        uri, options = f"{SCHEME}://", {"engine": c.engine, "clock": now, "wrap_exceptions": True}
    limiter = Limiter(key_func=address_key, app=app, storage_uri=uri, storage_options=options,
                      strategy="fixed-window", headers_enabled=False, key_prefix=settings.rate_limit_prefix)
    app.extensions["lianxin_limits"] = (limiter, now)

    def per(amount: int, minutes: int) -> str:
        return f"{amount} per {minutes} minutes"

    signin_window = settings.signin_window_minutes
    query_window = settings.query_window_minutes
    signin = [
        limiter.shared_limit(per(settings.signin_failures_per_account, signin_window), "signin-account",
                             key_func=account_key, methods=["POST"], deduct_when=_failed_signin),
        limiter.shared_limit(per(settings.signin_failures_per_address, signin_window), "signin-address",
                             key_func=address_key, methods=["POST"], deduct_when=_failed_signin),
    ]
    query = [
        limiter.shared_limit(per(settings.query_failures_per_case_address, query_window), "query-case",
                             key_func=case_address_key, exempt_when=_no_query, deduct_when=_failed_query),
        limiter.shared_limit(per(settings.query_failures_per_address, query_window), "query-address",
                             key_func=address_key, exempt_when=_no_query, deduct_when=_failed_query),
    ]
    sms = [limiter.shared_limit(f"{settings.sms_inbound_per_minute} per minute", "sms-inbound",
                                key_func=address_key)]
    exchange = [limiter.shared_limit(f"{settings.exchange_inbound_per_minute} per minute", "exchange-inbound",
                                     key_func=address_key)]
    for endpoint, limits in (("api.create_session", signin), ("ui.login_page", signin),
                             ("public.public_case", query), ("public.query_page", query),
                             ("public.sms_inbound", sms), ("exchange.inbound", exchange),
                             *_portal_limits(limiter, settings, per)):
        view = app.view_functions[endpoint]
        for limit in limits:
            view = limit(view)
        app.view_functions[endpoint] = view

    app.register_error_handler(RateLimitExceeded, too_many)
    app.register_error_handler(StorageError, counters_unreachable)
    return limiter


def _portal_limits(limiter: Limiter, settings, per) -> list[tuple[str, list]]:
    """SMS codes per number and address (each request), wrong codes per address, submissions per number and
    address (each POST), for the portal's endpoints."""
    codes = [
        limiter.shared_limit(per(settings.portal_codes_per_phone, 60), "portal-code-phone",
                             key_func=portal_phone_key, methods=["POST"]),
        limiter.shared_limit(per(settings.portal_codes_per_address, 60), "portal-code-address",
                             key_func=address_key, methods=["POST"]),
    ]
    wrong = [limiter.shared_limit(per(settings.signin_failures_per_address, settings.signin_window_minutes),
                                  "portal-signin-address", key_func=address_key, methods=["POST"],
                                  deduct_when=_failed_portal_signin)]
    submissions = [
        limiter.shared_limit(per(settings.portal_submissions_per_phone, 1440), "portal-submit-phone",
                             key_func=portal_phone_key, methods=["POST"]),
        limiter.shared_limit(per(settings.portal_submissions_per_address, 1440), "portal-submit-address",
                             key_func=address_key, methods=["POST"]),
    ]
    return [("portal.request_code", codes), ("portal.sign_in", wrong), ("portal.submit", submissions)]


def retry_after() -> int:
    """Seconds until the counter that refused this request starts afresh (at least 1)."""
    limiter, now = current_app.extensions["lianxin_limits"]
    breached = limiter.current_limit
    if breached is None:
        return 60
    return max(1, math.ceil(breached.window[0] - now()))


def too_many(_err: RateLimitExceeded):
    seconds = retry_after()
    minutes = max(1, math.ceil(seconds / 60))
    if request.path.startswith("/api/"):
        response = jsonify({"error": {
            "code": "too_many_attempts",
            "message": f"尝试次数过多，请 {minutes} 分钟后再试（too many attempts; try again in {minutes} minutes）",
            "details": {"retry_after": seconds}}})
    else:
        page = "portal/message.html" if request.blueprint == "portal" else "ui/message.html"
        response = render_template(page, status=429, title=_("尝试次数过多"),
                                   message=_("尝试次数过多，请 %(minutes)s 分钟后再试。", minutes=minutes))
    response = current_app.make_response((response, 429))
    response.headers["Retry-After"] = str(seconds)
    return response


def counters_unreachable(err: StorageError):
    """The counters cannot be read (Redis down): refuse rather than let guesses through unlimited."""
    current_app.logger.error("rate-limit storage unreachable: %s", err.storage_error)
    if request.path.startswith("/api/"):
        response = jsonify({"error": {
            "code": "unavailable",
            "message": "服务暂时不可用，请 1 分钟后再试（temporarily unavailable: try again in a minute; "
                       "operators: check LIANXIN_REDIS_URL）",
            "details": None}})
    else:
        response = render_template("ui/message.html", status=503, title=_("服务暂时不可用"),
                                   message=_("服务暂时不可用，请 1 分钟后再试。"))
    response = current_app.make_response((response, 503))
    response.headers["Retry-After"] = "60"
    return response
