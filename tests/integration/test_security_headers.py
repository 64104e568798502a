"""Every page the app serves, walked from its URL map over the demo office: each response carries the security
headers (Content-Security-Policy with a nonce, X-Frame-Options, nosniff, Referrer-Policy), every inline <script>
and <style> carries that response's nonce, and no element has an on...= event handler or a javascript: URL. The
JSON API and static files carry the same headers; HSTS comes with LIANXIN_HTTPS."""
from __future__ import annotations

import io
import re
from itertools import product

import lxml.html
import pytest
from sqlalchemy import select

from infra.accounts import User
from services import audit_export, documents
from tests.support.web import page_sign_in
from web.deployment import for_deployment
from web.signin import PENDING_KEY

# Who tries a page, in this order, until one may see it (the signed-out visitor first, for the public pages).
VISITORS = ("", "admin", "bureau", "auditor", "designer", "registrar", "handler", "county", "leader", "jointmeeting")
NONCE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{16,})'")
QUERY = {"stats.drill": {"kpi": "received"}}  # pages that need a query to show anything
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href", "data")


def check_headers(r, where: str) -> str | None:
    """The headers every response must carry; returns the CSP nonce (None: a file or document that may run no
    script at all, as an attachment download or the HTML audit report)."""
    csp = r.headers.get("Content-Security-Policy", "")
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";"))
    assert r.headers.get("X-Frame-Options") == "DENY", where
    assert r.headers.get("X-Content-Type-Options") == "nosniff", where
    assert r.headers.get("Referrer-Policy") == "same-origin", where
    assert directives.get("frame-ancestors") == "'none'", f"{where}: {csp!r}"
    if "sandbox" in directives or (directives.get("default-src") == "'none'" and "script-src" not in directives):
        assert "allow-scripts" not in csp and "unsafe-eval" not in csp, f"{where}: {csp!r}"
        return None
    found = NONCE.search(csp)
    assert found, f"{where}: no script nonce in Content-Security-Policy {csp!r}"
    for name, value in (("object-src", "'none'"), ("base-uri", "'none'"), ("form-action", "'self'")):
        assert directives.get(name) == value, f"{where}: {name} is {directives.get(name)!r}"
    assert "unsafe-inline" not in directives["script-src"] and "unsafe-eval" not in csp, f"{where}: {csp}"
    assert "unsafe-inline" not in directives["style-src"], f"{where}: {csp}"
    return found.group(1)


def check_markup(html: str, nonce: str, where: str) -> None:
    doc = lxml.html.fromstring(html)
    for el in doc.iter("script", "style"):
        if el.tag == "script" and el.get("src"):
            assert el.get("src").startswith("/static/"), f"{where}: script from {el.get('src')}"
            continue
        assert el.get("nonce") == nonce, f"{where}: inline <{el.tag}> without this response's nonce: " \
                                         f"{lxml.html.tostring(el)[:200]!r}"
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue  # comments
        handlers = [name for name in el.attrib if name.lower().startswith("on")]
        assert not handlers, f"{where}: <{el.tag} {handlers}> (event handlers belong in static scripts)"
        for name in URL_ATTRIBUTES:
            value = re.sub(r"[\s\x00-\x1f]", "", el.get(name, "")).lower()
            assert not value.startswith("javascript:"), f"{where}: <{el.tag} {name}={el.get(name)!r}>"


@pytest.fixture
def demo(container):
    from engine.store import Case, Outbox, ProcessDefinition, WorkItem
    from services.store.casefiles import CaseAttachment
    from web.app import create_app
    from web.setup import initialise

    initialise(container, demo=True)
    app = create_app(container)
    clients = {"": app.test_client()}
    clients.update({name: page_sign_in(app, name) for name in VISITORS[1:]})
    # Half-way through a privileged sign-in: the password passed, the second factor's page is next (web/signin.py).
    pending = clients["pending second factor"] = app.test_client()
    with container.session_factory() as s:
        admin_id = s.scalar(select(User.id).where(User.username == "admin"))
    with pending.session_transaction() as session:
        session[PENDING_KEY] = {"user": admin_id, "version": 0, "at": container.clock.now().timestamp()}
    with container.session_factory() as s:
        case_ids = list(s.scalars(select(Case.id).order_by(Case.id)))
    assert case_ids, "the demo office has cases"
    api = app.test_client()
    token = api.post("/api/session", json={"username": "registrar", "password": "demo"}).get_json()["csrf_token"]
    r = api.post(f"/api/cases/{case_ids[0]}/attachments", headers={"X-CSRF-Token": token},
                 data={"file": (io.BytesIO(b"%PDF-1.4 materials"), "materials.pdf")})
    assert r.status_code == 201, r.get_json()
    with container.session_factory() as s, s.begin():  # an in-app notice in the handler's inbox (/inbox/{id}/open)
        now = container.clock.now()
        notice = Outbox(case_id=case_ids[0], idempotency_key="headers-inbox", channel="inapp", recipient="handler",
                        template="reminder", payload="{}", status="sent", attempts=1, created_at=now, sent_at=now)
        s.add(notice)
    with container.session_factory() as s:
        values = {
            "notification_id": [notice.id],
            "case_id": case_ids,
            "task_id": list(s.scalars(select(WorkItem.id).order_by(WorkItem.id))),
            "attachment_id": list(s.scalars(select(CaseAttachment.id))),
            "key": sorted(set(s.scalars(select(ProcessDefinition.process_key)))),
            "kind": sorted(documents.kinds()),
            "fmt": sorted(audit_export.EXPORTERS),
            "action": ["pause", "resume", "retry", "correct", "supervise", "handover"],  # the case page's actions
        }
    return app, clients, values


def page_urls(app, values) -> list[tuple[str, list[str]]]:
    """Each GET page route of the URL map with every way of filling its parameters (pages only: not /api, not
    static files, which are checked apart). Built before any request: requests made inside this request context
    would share its `g`, and with it the signed-in user."""
    found = []
    with app.test_request_context():
        from flask import url_for

        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in rule.methods or rule.rule.startswith("/api/") or rule.endpoint == "static":
                continue
            names = sorted(rule.arguments)
            missing = [n for n in names if not values.get(n)]
            assert not missing, f"{rule.rule}: no demo value for {missing}"
            found.append((rule.rule, [url_for(rule.endpoint, **dict(zip(names, combo, strict=True)), **QUERY.get(rule.endpoint, {}))
                                      for combo in product(*(values[n] for n in names))]))
    return found


def test_every_page_sends_the_security_headers_and_no_inline_script(demo):
    app, clients, values = demo
    seen_pages = 0
    for rule, urls in page_urls(app, values):
        shown = False
        for visitor, url in product(clients, urls):
            r = clients[visitor].get(url)
            nonce = check_headers(r, f"{url} as {visitor or 'signed out'} ({r.status_code})")
            if r.mimetype == "text/html" and nonce is None:
                assert not list(lxml.html.fromstring(r.get_data(as_text=True)).iter("script")), url
            elif r.mimetype == "text/html":
                check_markup(r.get_data(as_text=True), nonce, f"{url} as {visitor or 'signed out'}")
            if r.status_code == 200 or (r.status_code in (301, 302) and "/login" not in r.location):  # home: a start page
                shown = True
                seen_pages += r.mimetype == "text/html"
                break
        assert shown, f"{rule}: no demo user could open it ({urls[:3]}...; last {r.status_code} {r.location})"
    assert seen_pages >= 20, seen_pages


def test_two_responses_have_different_nonces(demo):
    _app, clients, _values = demo
    first, second = (check_headers(clients["bureau"].get("/stats"), "/stats") for _ in range(2))
    assert first != second


def test_the_api_and_static_files_send_the_headers_too(demo):
    _app, clients, values = demo
    case_id = values["case_id"][0]
    for url in ("/api/process-definitions", f"/api/cases/{case_id}", "/api/nothing-here", "/static/lianxin.css",
                "/static/form-fields.js", "/api/openapi.json"):
        with clients["admin"].get(url) as r:  # static files are streamed: closed here
            check_headers(r, f"{url} ({r.status_code})")
    r = clients[""].get(f"/api/cases/{case_id}")  # refused: still with the headers
    assert r.status_code == 401
    check_headers(r, "/api/cases signed out")


def test_https_sends_strict_transport_security_and_secure_cookies(sqlite_container):
    from web.app import create_app

    plain = create_app(sqlite_container).test_client().get("/login")
    assert "Strict-Transport-Security" not in plain.headers
    app = for_deployment(create_app(sqlite_container), {"LIANXIN_HTTPS": "1", "LIANXIN_PROXY_HOPS": "1"})
    r = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(r.headers["Strict-Transport-Security"].split("=")[1]) >= 180 * 24 * 3600
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["REMEMBER_COOKIE_SECURE"] is True
    cookies = r.headers.getlist("Set-Cookie")
    assert cookies and all("Secure" in c and "HttpOnly" in c for c in cookies)


def test_an_unknown_https_value_stops_the_start(sqlite_container):
    from web.app import create_app

    with pytest.raises(ValueError, match="LIANXIN_HTTPS"):
        for_deployment(create_app(sqlite_container), {"LIANXIN_HTTPS": "on"})


def test_the_html_audit_report_runs_no_script_and_keeps_its_own_style(demo):
    """The report is a file people keep: no nonce inside it; its policy allows no script at all."""
    _app, clients, values = demo
    r = clients["auditor"].get(f"/audit/cases/{values['case_id'][0]}/export/html")
    assert r.status_code == 200 and r.mimetype == "text/html"
    csp = dict((d.strip().split(" ", 1) + [""])[:2] for d in r.headers["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'none'" and "script-src" not in csp and csp["frame-ancestors"] == "'none'"
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
    doc = lxml.html.fromstring(r.get_data(as_text=True))
    assert not list(doc.iter("script")) and len(list(doc.iter("style"))) == 1
