"""Flask app factory. One blueprint per audience; the JSON API is `web.api`."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

MAX_REQUEST_BYTES = 10 * 1024 * 1024


# Blueprints of the audiences' pages, registered when their module exists (each area owns one module).
AREAS = ["handling_web", "casepage_web", "designer_web", "audit_web", "stats_web", "lists_web", "totp_web",
         "security_log_web"]
PAGE_BLUEPRINTS = {"ui", "handling", "casepage", "designer", "audit", "stats", "lists", "totp", "security_log"}


def register_areas(app: Flask) -> None:
    import importlib

    for name in AREAS:
        try:
            module = importlib.import_module(f"web.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"web.{name}":
                raise
            continue
        app.register_blueprint(module.bp)


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
    from .last_resort import keep_serving

    app.wsgi_app = keep_serving(app.wsgi_app)  # a BaseException from a view must not end the process
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("spiff").setLevel(logging.WARNING)  # a line per task state change, in every request

    from .i18n import init_i18n
    from .ui import bp as ui_bp, init_shell

    init_i18n(app)
    init_shell(app)
    from .security_headers import install as send_security_headers

    send_security_headers(app)
    from .text_guard import check_request_text

    app.before_request(check_request_text)
    from .input_limits import install as bound_url_ids

    bound_url_ids(app)

    from .api import bp as api_bp
    from .calendar_web import bp as calendar_bp
    from .notifications_web import bp as notifications_bp
    from .openapi import bp as openapi_bp
    from .public_web import bp as public_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(openapi_bp)
    app.register_blueprint(calendar_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(ui_bp)
    register_areas(app)
    from .limits import install as install_rate_limits

    install_rate_limits(app, c)  # sign-in, public query, inbound SMS (web/limits.py)
    from .security_events import install as audit_security_events

    audit_security_events(app)  # exports, deployments, settings changes -> the security log

    from engine.runtime import RuntimeError_

    from .api import to_jsonable
    from .auth import ApiError

    # One error format for every JSON endpoint: {"error": {"code", "message", "details"}}.
    @app.errorhandler(ApiError)
    def api_error(err: ApiError):
        if not request.path.startswith("/api/") and request.blueprint in PAGE_BLUEPRINTS:
            from .ui import page_error
            return page_error(err)
        return jsonify({"error": {"code": err.code, "message": err.message,
                                  "details": to_jsonable(err.details)}}), err.status

    @app.errorhandler(RuntimeError_)
    def runtime_error(err: RuntimeError_):
        return jsonify({"error": {"code": err.code, "message": err.message,
                                  "details": to_jsonable(err.details)}}), err.status

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        if request.path.startswith("/api/"):
            messages = {
                404: "接口不存在（no such endpoint）",
                405: "不支持此请求方法（method not allowed）",
                413: f"请求体过大，上限 {MAX_REQUEST_BYTES // (1024 * 1024)} MB（request body too large）",
            }
            code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(err.code, "error")
            return jsonify({"error": {"code": code, "message": messages.get(err.code, err.description),
                                      "details": None}}), err.code
        return err

    return app
