"""Flask app factory. One package per area (web/<area>/: pages, its part of the JSON API, its OpenAPI part);
the areas' API parts are joined into the one blueprint `api`."""
from __future__ import annotations

import logging

from flask import Flask, request
from werkzeug.exceptions import HTTPException

MAX_REQUEST_BYTES = 10 * 1024 * 1024


# Blueprints of the audiences' pages (an error on one of them is a page, not JSON).
PAGE_BLUEPRINTS = {"ui", "handling", "casepage", "designer", "audit", "stats", "lists", "totp",
                    "security_log", "organisation_admin", "orphans", "incidents", "inbox", "outbox", "exchange",
                    "urgent"}


def register_areas(app: Flask) -> None:
    """Each area's blueprints (web/<area>/), and the JSON API joined from the areas' parts as the blueprint `api`."""
    from . import openapi, session_api
    from .account import pages as account
    from .admin import (
        api as admin_api,
        incidents,
        notifications,
        organisation as organisation_admin,
        orphans,
        outbox_page,
    )
    from .audit import api as audit_api, pages as audit, security_log
    from .calendar import pages as calendar
    from .casepage import api as casepage_api, pages as casepage
    from .designer import api as designer_api, pages as designer
    from .desk import api as desk_api, handling, lists
    from .exchange import pages as exchange
    from .http import join_api
    from .inbox import api as inbox_api, pages as inbox
    from .portal import pages as portal
    from .public import pages as public
    from .stats import pages as stats
    from .ui import bp as ui
    from .urgent import api as urgent_api, pages as urgent

    app.register_blueprint(join_api([session_api.bp, designer_api.bp, casepage_api.bp, audit_api.bp, desk_api.bp,
                                     admin_api.bp, orphans.api, inbox_api.bp, urgent_api.bp]))
    app.register_blueprint(openapi.bp)
    app.register_blueprint(calendar.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(ui)
    for area in (handling, casepage, designer, audit, stats, lists, account, security_log, organisation_admin,
                 orphans, incidents, inbox, outbox_page, exchange, urgent):
        app.register_blueprint(area.bp)


def create_app(container=None, test_config: dict | None = None) -> Flask:
    from .bootstrap import bootstrap

    c = container or bootstrap()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=c.settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    from .json_limits import install as bound_json_bodies

    bound_json_bodies(app)  # before anything reads a body: every JSON body is parsed with a nesting bound
    if test_config:
        app.config.update(test_config)
    app.extensions["lianxin"] = c
    from .request_session import install as share_read_sessions

    share_read_sessions(app, c)  # one read session per request on PostgreSQL (web/request_session.py)
    from .last_resort import keep_serving

    app.wsgi_app = keep_serving(app.wsgi_app)  # a BaseException from a view must not end the process
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("spiff").setLevel(logging.WARNING)  # a line per task state change, in every request

    from .i18n import init_i18n
    from .ui import init_shell

    init_i18n(app)
    init_shell(app)
    from .labels import init_labels

    init_labels(app)
    from .security_headers import install as send_security_headers

    send_security_headers(app)
    from .text_guard import check_request_text

    app.before_request(check_request_text)
    from .input_limits import install as bound_url_ids

    bound_url_ids(app)

    register_areas(app)
    from .limits import install as install_rate_limits

    install_rate_limits(app, c)  # sign-in, public query, inbound SMS (web/limits.py)
    from .security_events import install as audit_security_events

    audit_security_events(app)  # exports, deployments, settings changes -> the security log

    from engine.runtime import RuntimeError_

    from .http import ApiError, error_json

    # One error format for every JSON endpoint: {"error": {"code", "message", "details"}}.
    @app.errorhandler(ApiError)
    def api_error(err: ApiError):
        if not request.path.startswith("/api/") and request.blueprint in PAGE_BLUEPRINTS:
            from .ui import page_error
            return page_error(err)
        return error_json(err.status, err.code, err.message, err.details)

    @app.errorhandler(RuntimeError_)
    def runtime_error(err: RuntimeError_):
        return error_json(err.status, err.code, err.message, err.details)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        if request.path.startswith("/api/"):
            messages = {
                404: "接口不存在（no such endpoint）",
                405: "不支持此请求方法（method not allowed）",
                413: f"请求体过大，上限 {MAX_REQUEST_BYTES // (1024 * 1024)} MB（request body too large）",
            }
            code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(err.code, "error")
            return error_json(err.code, code, messages.get(err.code, err.description))
        return err

    return app
