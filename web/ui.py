"""The page shell shared by every audience: sign-in and sign-out, the navigation, the page guard, error pages.

Pages of each audience live in their own blueprint (`web/<area>/`, templates under `templates/<area>/`)
and extend `templates/base.html`. They guard themselves with `page_principal(*roles)`: not signed in sends
the browser to the sign-in page, a missing role is a logged 403 page that says who may open it.
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from services import inbox
from services.roles import ROLE_LABELS

from .auth import ApiError, Principal, current_principal, end_session
from .http import container
from .i18n import in_page_language
from .signin import login
from .visibility import URGENT_BOARD_ROLES

bp = Blueprint("ui", __name__)
log = logging.getLogger("lianxin.access")

# (endpoint, label, roles that see the link; None = every signed-in user). Links whose page is not
# registered are left out, so an area adds its page and the link appears.
NAVIGATION = [
    ("handling.tasks", "待办任务", None),
    ("handling.register", "来访登记", ("registrar", "county_office", "bureau", "admin")),
    ("handling.cases", "案件查询", None),
    ("urgent.board", "重大紧急事项", URGENT_BOARD_ROLES),
    ("lists.index", "四个清单", ("bureau", "jointmeeting", "leader", "county_office", "admin", "auditor")),
    ("stats.dashboard", "统计分析", ("bureau", "jointmeeting", "leader", "county_office", "admin", "auditor")),
    ("designer.index", "流程设计", ("designer", "admin")),
    ("audit.index", "审计", ("auditor", "admin")),
    ("security_log.page", "安全日志", ("auditor",)),
    ("totp.account_page", "二次验证", ("admin", "designer", "auditor")),
    ("calendar_web.admin_page", "工作日历", ("admin",)),
    ("organisation_admin.page", "组织机构", ("admin",)),
    ("orphans.page", "无人可办", ("admin",)),
    ("incidents.index", "故障案件", ("admin",)),
    ("outbox.page", "通知发件箱", ("admin",)),
    ("exchange.page", "上级系统交换", ("admin",)),
]


def page_principal(*roles: str) -> Principal:
    """The signed-in user of a page, or an exception that becomes the sign-in redirect or a 403 page."""
    p = current_principal()
    if p is None:
        raise SignInNeeded()
    if roles and not p.has_role(*roles):
        log.warning("refused page %s %s to %s (needs %s)", request.method, request.path, p.username, roles)
        names = "、".join(_(ROLE_LABELS[r]) if r in ROLE_LABELS else r for r in roles)
        raise ApiError(403, "forbidden", _("此页面仅限以下角色：%(roles)s。如需使用，请联系系统管理员。", roles=names))
    return p


class SignInNeeded(Exception):
    pass


def safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a signed-in user to another host."""
    if not target:
        return url_for("ui.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("ui.home")
    return target


@bp.app_context_processor
def shell_context():
    try:
        p = current_principal()  # read once per request (kept in g)
    except ApiError:  # a revoked bearer token: render the page as signed out
        p = None
    links = []
    if p is not None:
        for endpoint, label, roles in NAVIGATION:
            if endpoint in current_app.view_functions and (roles is None or p.has_role(*roles)):
                links.append((url_for(endpoint), _(label), request.endpoint == endpoint))
    inbox_url, unread = None, 0
    if p is not None and "inbox.page" in current_app.view_functions:
        inbox_url = url_for("inbox.page")
        c = container()
        unread = inbox.unread_count(c.extras.get("read_sessions", c.session_factory), p.username)
    return {"me": p, "nav_links": links, "role_labels": ROLE_LABELS, "inbox_url": inbox_url,
            "inbox_unread": unread}


@bp.get("/")
def home():
    p = current_principal()
    if p is None:
        return redirect(url_for("ui.login_page"))
    if "handling.tasks" in current_app.view_functions:
        if p.has_role("designer") and not p.has_role("registrar", "unit_handler") and \
                "designer.index" in current_app.view_functions:
            return redirect(url_for("designer.index"))
        if p.has_role("auditor") and "audit.index" in current_app.view_functions:
            return redirect(url_for("audit.index"))
        return redirect(url_for("handling.tasks"))
    definitions = container().runtime.list_definitions()
    return render_template("ui/home.html", definitions=definitions)


@bp.get("/favicon.ico")
def favicon():
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.route("/login", methods=["GET", "POST"])
def login_page():
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        try:
            login(username, request.form.get("password", ""), two_pages=True)
        except ApiError as err:
            if err.code == "second_factor_required":  # the code on a page of its own (web/account/pages.py)
                return redirect(url_for("totp.code_page", next=request.args.get("next") or None))
            error = _("用户名或密码错误，请重新输入。") if err.code == "unauthorized" else err.message
        else:
            return redirect(safe_next(request.args.get("next")))
    demo = container().settings.demo
    return render_template("ui/login.html", error=error, username=username, demo=demo), 401 if error else 200


@bp.post("/logout")
def logout():
    lang = session.get("lang")
    end_session()  # this cookie, and every other of the user's, is refused from now on
    if lang:
        session["lang"] = lang
    return redirect(url_for("ui.login_page"))


def init_shell(app) -> None:
    from flask_login import LoginManager
    from flask_wtf.csrf import CSRFProtect

    from .auth import load_session_user

    manager = LoginManager()
    manager.user_loader(load_session_user)
    manager.session_protection = "basic"
    manager.init_app(app)

    # Pages post forms with a `csrf_token` field; the JSON API checks its X-CSRF-Token header itself
    # (and accepts bearer tokens without one), so /api is left to it.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("WTF_CSRF_HEADERS", ["X-CSRF-Token", "X-CSRFToken"])
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf = CSRFProtect(app)

    @app.before_request
    def protect_forms():
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return None
        if request.path.startswith("/api/") or request.endpoint in PUBLIC_POSTS:
            return None
        if request.blueprint == "portal":  # the petitioners' portal checks its own token (web/portal_session.py)
            return None
        csrf.protect()
        return None

    @app.errorhandler(CSRFError)
    def csrf_failed(err):
        log.warning("CSRF check failed for %s %s: %s", request.method, request.path, err.description)
        if request.path.startswith("/api/"):
            from flask import jsonify
            return jsonify({"error": {"code": "csrf", "message": "缺少或错误的 CSRF 令牌（reload and retry）",
                                      "details": None}}), 403
        return render_template("ui/message.html", status=403, title=_("表单已过期"),
                               message=_("页面已过期或表单校验失败（CSRF），未保存任何内容。请刷新页面后重新提交。")), 403

    @app.errorhandler(SignInNeeded)
    def sign_in_needed(_err):
        return redirect(url_for("ui.login_page", next=request.full_path.rstrip("?")))


# Public pages that post without a session: the petitioner's progress query (rate-limited by code).
PUBLIC_POSTS = {"public.query_page"}


def page_error(err: ApiError):
    """HTML rendering of an ApiError raised while building a page."""
    titles = {401: _("请先登录"), 403: _("无权访问"), 404: _("未找到"), 409: _("操作冲突"), 422: _("内容有误")}
    return render_template("ui/message.html", status=err.status, title=titles.get(err.status, _("出错了")),
                           message=in_page_language(err.message)), err.status
