"""The petitioners' portal session (web/portal/): a cookie of its own, separate from the staff session.

`lianxin_portal` holds a signed (itsdangerous, the deployment's secret key, salt `lianxin-portal`) value
`{"sid": random, "phone": mobile or absent, "at": time}`; it is HttpOnly, SameSite=Lax, Secure behind HTTPS,
and expires after `portal_session_minutes` without a request. A staff session gives no portal access and the
portal cookie gives no staff access: neither reads the other's cookie. Signing in by SMS code makes a fresh
`sid` (no fixation); signing out drops the cookie.

CSRF: every POST of the portal carries `csrf_token`, the HMAC of the cookie's `sid` under the secret key; it is
checked before anything else (web/portal/pages.py), so a forged post with or without a session changes nothing.
The rate limits (web/limits.py) read the signed-in number from here.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "lianxin_portal"
SALT = "lianxin-portal"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _max_age() -> int:
    return current_app.extensions["lianxin"].settings.portal_session_minutes * 60


def current() -> dict:
    """This request's portal session (a new anonymous one when there is none or it expired)."""
    found = g.get("portal_session")
    if found is not None:
        return found
    found = {}
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            found = _serializer().loads(raw, max_age=_max_age())
        except BadSignature:  # also SignatureExpired
            found = {}
    if not isinstance(found, dict) or not isinstance(found.get("sid"), str):
        found = {"sid": secrets.token_urlsafe(24)}
    g.portal_session = found
    g.portal_session_changed = True  # re-sent on every answer: the expiry slides with activity
    return found


def phone() -> str | None:
    """The signed-in number, or None."""
    value = current().get("phone")
    return value if isinstance(value, str) else None


def sign_in(number: str) -> None:
    g.portal_session = {"sid": secrets.token_urlsafe(24), "phone": number}
    g.portal_session_changed = True


def sign_out() -> None:
    g.portal_session = {"sid": secrets.token_urlsafe(24)}
    g.portal_session_changed = True


def remember_pending(number: str) -> None:
    """The number a code was sent to (before sign-in), so the code form need not ask again."""
    session = dict(current())
    session["pending"] = number
    g.portal_session = session


def pending() -> str:
    value = current().get("pending")
    return value if isinstance(value, str) else ""


def csrf_token() -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, ("portal-csrf:" + current()["sid"]).encode(), hashlib.sha256).hexdigest()


def csrf_ok(sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(str(sent), csrf_token())


def save(response):
    """Write the portal cookie when this request used the portal session (after_request of the portal)."""
    if g.get("portal_session_changed"):
        response.set_cookie(COOKIE, _serializer().dumps(g.portal_session), max_age=_max_age(), httponly=True,
                            samesite="Lax", secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
                            path="/portal")
    return response
