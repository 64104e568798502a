"""Settings of the production entry point (`web.wsgi`), apart so that tests can apply them to their own app.

Behind a reverse proxy (README, 部署与运维) set `LIANXIN_PROXY_HOPS` to the number of proxies in front (usually 1)
so that the client's address (access log, the public query's wrong-code limit per address) and scheme come from
the proxy's X-Forwarded-* headers; without it every request would seem to come from the proxy, and five wrong
query codes from anyone would lock out everyone. Without the variable forwarded headers are not trusted.
`LIANXIN_HTTPS=1` marks the session (and remember-me) cookie Secure and sends Strict-Transport-Security; any
value but 0/1 (true/false, yes/no) stops the start rather than leaving cookies unprotected by a typo.
"""
from __future__ import annotations

import os

from werkzeug.middleware.proxy_fix import ProxyFix


def for_deployment(app, environ=os.environ):
    hops = int(environ.get("LIANXIN_PROXY_HOPS", "0") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    https = environ.get("LIANXIN_HTTPS", "").strip().lower()
    if https not in ("", "0", "1", "true", "false", "yes", "no"):
        raise ValueError(f"LIANXIN_HTTPS={https!r}: set 1 when browsers reach the app over HTTPS, "
                         "0 or unset otherwise")
    if https in ("1", "true", "yes"):  # also Strict-Transport-Security (web/security_headers.py)
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True, PREFERRED_URL_SCHEME="https")
    return app
