"""Security headers on every response, pages, API and static files alike.

The Content-Security-Policy lets a page run only scripts served by the app itself ('self', the bundles under
web/static) and inline `<script>` elements that carry this response's nonce (`{{ csp_nonce() }}` in a template;
the pages use it only on their JSON data blocks, which are never executed). No 'unsafe-inline', no 'unsafe-eval',
so an injected `<script>`, an `on...=` attribute or a `javascript:` URL does not run even if some text ever
reached a page unescaped. Inline `<style>` elements need the nonce too. Style *attributes* are allowed: the
diagram and chart libraries (bpmn-js, dmn-js, ECharts) write them into the markup they generate (tooltips,
palettes, overlays, popup menus), and a style attribute cannot run script.

Behind HTTPS (`LIANXIN_HTTPS=1`, web/deployment.py) the session cookie is Secure and Strict-Transport-Security
is sent; the header is keyed on that setting rather than on each request's scheme, so that a proxy that forgot
X-Forwarded-Proto does not silently drop it.
"""
from __future__ import annotations

import secrets

from flask import Flask, g

HSTS_SECONDS = 365 * 24 * 3600  # a year, as browsers' preload lists ask; only sent when LIANXIN_HTTPS is on


def csp_nonce() -> str:
    """This response's nonce (made on first use, one per request)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


def content_security_policy(nonce: str) -> str:
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",  # icons the diagram libraries embed as data: URLs
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


# A self-contained document the app hands out (the audit report in HTML, which people also save and open from
# disk): it runs no script at all and keeps its one <style> element, which carries no nonce since the file must
# stand alone. A view sets it as its response's Content-Security-Policy; the hook keeps a policy a view set (also
# the `sandbox` of attachment downloads), adding frame-ancestors if it lacks it.
DOCUMENT_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
                   "form-action 'none'; frame-ancestors 'none'")


def install(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def security_headers(response):
        headers = response.headers
        own = headers.get("Content-Security-Policy")
        if own is None:
            headers["Content-Security-Policy"] = content_security_policy(csp_nonce())
        elif "frame-ancestors" not in own:  # a view's own policy (a download's sandbox): never in a frame either
            headers["Content-Security-Policy"] = f"{own}; frame-ancestors 'none'"
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        # same-origin, not no-referrer: under HTTPS the CSRF check of forms compares the Referer with the host.
        headers["Referrer-Policy"] = "same-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers["Strict-Transport-Security"] = f"max-age={HSTS_SECONDS}"
        return response
