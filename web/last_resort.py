"""The last line behind every request: an error that is not an `Exception` must not end the worker process.

Flask turns every `Exception` of a view into a response, but lets any other `BaseException` through to the
WSGI server, whose worker process (or thread) then dies with the request. Scripts and service handlers are
already kept from raising one (engine.sandbox, engine.runtime make it an incident on the case); this wrapper
answers whatever still gets through with a JSON 500 and logs it. KeyboardInterrupt and SystemExit are the
process being stopped and pass.
"""
from __future__ import annotations

import json
import logging

log = logging.getLogger("lianxin.web")

MESSAGE = ("服务器处理此请求时出错，已记入日志；请稍后重试，如仍失败请联系管理员"
           "（the server could not handle this request and logged why: try again later, and tell an "
           "administrator if it keeps failing）")


def keep_serving(wsgi_app):
    def app(environ, start_response):
        try:
            return wsgi_app(environ, start_response)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # Flask has answered every Exception already
            log.exception("%s %s ended with %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                          exc.__class__.__name__)
            body = json.dumps({"error": {"code": "internal_error", "message": MESSAGE, "details": None}},
                              ensure_ascii=False).encode("utf-8")
            start_response("500 INTERNAL SERVER ERROR", [("Content-Type", "application/json; charset=utf-8"),
                                                         ("Content-Length", str(len(body)))])
            return [body]

    return app
