"""Authorization matrix: every endpoint of the app (read from its url_map, so new endpoints are checked too)
against every role and unit relation — own unit, the parent county and city, the sibling county, another
department of the same county, the discipline track, anonymous — with an explicit policy per endpoint.

Three cases: A in 东城县 (county_a_hrss signs it), B in 西山县 (county_b_hrss), D an accusation routed to 东城县纪委监委
(the discipline track: only its receiver and the read-only auditor see it). Every request is made with the
principal's own signed-in session (cookie and CSRF token, as the browser and the API clients do). A refusal must
be 401, 403, 404 or the sign-in redirect; an allowed call must not be refused; and no response to anyone may
contain the case number, title or petitioner of a case that person may not see (zero leaks, lists included).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.support.db import demo_office
from tests.support.web import csrf_of

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
ANON = "anonymous"
PRINCIPALS = [ANON, "registrar", "handler", "county", "leader", "bureau", "jointmeeting", "designer", "auditor",
              "admin", "handler_b", "county_b", "leader_b", "handler_housing", "jm_a", "review_a", "cdi_a"]

# Who sees each case (the unit relations spelled out, not computed by the code under test):
VISIBLE = {
    "A": {"registrar",  # registered it, and triaged it at the city bureau
          "handler",  # own unit county_a_hrss
          "county", "leader",  # 东城县 with its subunits (the parent county)
          "bureau", "jointmeeting",  # the city with its subunits
          "designer", "auditor", "admin"},  # see every ordinary case
    # not: handler_b, county_b, leader_b, jm_b (sibling county), handler_housing (another department of the same
    # county), jm_a (the county joint-meeting office without subunits), review_a, cdi_a, anonymous
    "B": {"registrar", "handler_b", "leader_b", "bureau", "jointmeeting", "designer", "auditor", "admin"},
    # (county_b holds its role in 西山县信访局 only, not in the county with subunits: it does not see B)
    "D": {"cdi_a", "auditor"},  # the discipline track: neither admin nor designer nor the registrar
}
# Who may act on the open task of a case (claim, complete, hand over): its unit and role, and admins.
TASK_ACTORS = {"A": {"handler", "admin"}, "B": {"handler_b", "admin"}}
TASK_READERS = {"A": {"handler", "admin", "designer", "auditor"}, "B": {"handler_b", "admin", "designer", "auditor"}}


@dataclass(frozen=True)
class Policy:
    """anyone (anonymous too), session (signing in and out: answers 401 or a redirect by design, so only
    server errors and leaks are checked), signed_in, roles (needs one of `roles`), case (sees the case, and holds one of
    `roles` if given), task (may act on / read the case's open task), webhook (signed by the SMS gateway or the upstream system), portal
    (a petitioner's portal session only: refused to every staff session; tests/integration/test_portal.py)."""
    kind: str
    roles: frozenset = field(default_factory=frozenset)
    writes: bool = True  # an auditor (read-only) is refused when the request changes something


def anyone():
    return Policy("anyone")


def signed_in():
    return Policy("signed_in")


def roles(*names):
    return Policy("roles", frozenset(names))


def case(*names):
    return Policy("case", frozenset(names))


def task(kind="act"):
    return Policy(f"task_{kind}")


def governed():
    """A clock act the regulation does not allow on these cases at their stage (services/clock_governance.py):
    refused to everyone, whatever their role."""
    return Policy("governed")


REGISTER_ROLES = ("registrar", "county_office", "bureau", "admin")
DESIGNERS = ("designer", "admin")
STATS_ROLES = ("bureau", "jointmeeting", "leader", "county_office", "admin", "auditor")
AUDIT_ROLES = ("auditor", "admin")
URGENT_BOARD_ROLES = ("registrar", "county_office", "bureau", "jointmeeting", "leader", "admin", "auditor")

# (endpoint, method) -> policy. An endpoint the app gains must be added here (see the last test).
POLICY: dict[tuple[str, str], Policy] = {
    ("static", "GET"): anyone(),
    ("ui.favicon", "GET"): anyone(),
    ("openapi.openapi", "GET"): anyone(),
    ("api.create_session", "POST"): Policy("session"),
    ("api.delete_session", "DELETE"): Policy("session"),
    ("api.get_session", "GET"): signed_in(),
    ("api.change_password", "PUT"): signed_in(),
    ("api.get_clock", "GET"): anyone(),
    ("api.set_clock", "POST"): roles("admin", "designer"),
    ("ui.home", "GET"): signed_in(),
    ("ui.login_page", "GET"): anyone(),
    ("ui.login_page", "POST"): Policy("session"),
    ("ui.logout", "POST"): Policy("session"),
    # the public side: the query code is the key; SMS webhooks need the gateway's signature
    ("public.public_case", "GET"): anyone(),
    ("public.query_page", "GET"): anyone(),
    ("public.query_page", "POST"): anyone(),
    ("public.sms_inbound", "POST"): Policy("webhook"),
    # the petitioners' portal: its own session by SMS code (web/portal_session.py); no staff session opens it
    ("portal.index", "GET"): anyone(),
    ("portal.request_code", "POST"): Policy("session"),
    ("portal.sign_in", "POST"): Policy("session"),
    ("portal.sign_out", "POST"): Policy("session"),
    ("portal.submit_form", "GET"): Policy("portal"),
    ("portal.submit", "POST"): Policy("portal"),
    ("portal.case", "GET"): Policy("portal"),
    ("portal.rate", "POST"): Policy("portal"),
    ("portal.request_review", "POST"): Policy("portal"),
    ("portal.withdraw", "POST"): Policy("portal"),
    ("portal.document", "GET"): Policy("portal"),
    ("portal.document_pdf", "GET"): Policy("portal"),
    ("notifications.sms_status", "POST"): Policy("webhook"),
    # definitions and the designer
    ("api.list_definitions", "GET"): signed_in(),
    ("api.deploy_definitions", "POST"): roles(*DESIGNERS),
    ("api.start_instance", "POST"): roles(*DESIGNERS),
    **{(f"designer.{e}", "GET"): roles(*DESIGNERS) for e in (
        "index", "edit", "versions", "diff", "migrate_page", "list_handlers", "list_forms", "list_roles",
        "get_process", "get_versions", "get_diff")},
    ("designer.save_draft", "PUT"): roles(*DESIGNERS),
    ("designer.discard_draft", "DELETE"): roles(*DESIGNERS),
    **{(f"designer.{e}", "POST"): roles(*DESIGNERS) for e in (
        "validate", "deploy", "migration_check", "migration_run", "import_api", "import_page", "save_lane_roles_page")},
    ("designer.get_lane_roles", "GET"): roles(*DESIGNERS),
    ("designer.lane_roles_page", "GET"): roles(*DESIGNERS),
    ("designer.put_lane_roles", "PUT"): roles(*DESIGNERS),
    # registration
    ("handling.api_register", "POST"): roles(*REGISTER_ROLES),
    ("handling.api_repeats", "POST"): roles(*REGISTER_ROLES),
    ("api.list_units", "GET"): signed_in(),  # unit names and codes for the forms' unit pickers
    ("handling.register", "GET"): roles(*REGISTER_ROLES),
    ("handling.register", "POST"): roles(*REGISTER_ROLES),
    # a case
    ("api.get_case", "GET"): case(),
    ("api.case_history", "GET"): case(),
    ("api.export_case", "GET"): case(),
    ("api.case_access_log", "GET"): case(*AUDIT_ROLES),
    ("api.verify_case", "GET"): case(*AUDIT_ROLES),
    ("api.replay_case", "GET"): case(*AUDIT_ROLES),
    ("api.deliver_message", "POST"): case("admin", "bureau", "jointmeeting", "registrar", "review_body"),
    # retry: admins and the city bureau; a confidential case (D) only by the people of the discipline body holding it
    ("api.retry_incidents", "POST"): Policy("retry", frozenset({"admin", "bureau"})),
    ("api.pause_case", "POST"): governed(),  # only during a 复核 (none of these cases): refused to everyone
    ("api.resume_case", "POST"): case("review_body", "bureau", "admin"),
    ("api.extend_deadline", "POST"): governed(),  # petition cases govern their clocks (services/clock_governance.py)
    ("api.correct_deadline", "POST"): case("admin"),
    ("casepage.case_page", "GET"): case(),
    ("casepage.diagram_json", "GET"): case(),
    ("casepage.comments_json", "GET"): case(),
    ("casepage.attachments_json", "GET"): case(),
    ("casepage.download_json", "GET"): case(),
    ("casepage.download_page", "GET"): case(),
    ("casepage.document_html", "GET"): case(),
    ("casepage.document_pdf", "GET"): case(),
    ("casepage.add_comment_json", "POST"): case(),
    ("casepage.upload_json", "POST"): case(),
    ("casepage.add_comment_form", "POST"): case(),
    ("casepage.upload_form", "POST"): case(),
    # the case page's actions (issue #18): checked with `supervise` (the city bureau supervises A's and B's units)
    ("casepage.action_confirm", "GET"): case("bureau"),
    ("casepage.action_do", "POST"): case("bureau"),
    ("api.supervise_case", "POST"): case("bureau"),
    # 问责 (services/accountability.py): the records of a case are read with the case; recorded by the offices that
    # supervise a unit of the case (A: the city bureau, and the county office for its department; an empty body is
    # then 422, never a refusal), refused to everyone else
    ("api.case_accountability", "GET"): case(),
    ("api.record_accountability", "POST"): case("bureau", "county_office"),
    # 重大紧急事项: flagged by the registrar or a unit handler who sees the case (web/visibility.py); the live board
    # for the petition offices and the leaders (rows limited to the cases they see)
    ("api.urgent_flag_case", "POST"): case("registrar", "unit_handler"),
    ("urgent.flag_form", "GET"): case("registrar", "unit_handler"),
    ("urgent.flag_submit", "POST"): case("registrar", "unit_handler"),
    ("api.urgent_board", "GET"): roles(*URGENT_BOARD_ROLES),
    ("urgent.board", "GET"): roles(*URGENT_BOARD_ROLES),
    # the 登记回执 with the query code from the registration page (a form post: not the auditor's; without a code: 400)
    ("casepage.receipt_with_code", "POST"): case(),
    ("casepage.receipt_pdf_with_code", "POST"): case(),
    ("audit.history", "GET"): case(*AUDIT_ROLES),
    ("audit.replay", "GET"): case(*AUDIT_ROLES),
    ("audit.access", "GET"): case(*AUDIT_ROLES),
    ("audit.export", "GET"): case(*AUDIT_ROLES),
    ("audit.index", "GET"): roles(*AUDIT_ROLES),
    ("audit.verification_page", "GET"): roles(*AUDIT_ROLES),
    ("audit.request_verification", "POST"): roles(*AUDIT_ROLES),
    ("api.list_verification_runs", "GET"): roles(*AUDIT_ROLES),
    ("api.request_verification_run", "POST"): roles(*AUDIT_ROLES),
    ("api.get_verification_run", "GET"): roles(*AUDIT_ROLES),
    # work
    ("api.list_tasks", "GET"): signed_in(),
    ("handling.tasks", "GET"): signed_in(),
    ("handling.cases", "GET"): signed_in(),
    ("handling.api_cases", "GET"): signed_in(),
    ("handling.save_filter", "POST"): signed_in(),
    ("handling.delete_filter", "POST"): signed_in(),
    ("api.claim_task", "POST"): task(),
    ("api.unclaim_task", "POST"): task(),
    ("api.complete_task", "POST"): task(),
    ("handling.api_reassign", "POST"): task(),
    ("handling.api_delegate", "POST"): task(),
    ("handling.task_action", "POST"): task(),
    ("handling.task_form", "POST"): task(),
    ("handling.task_form", "GET"): task("read"),
    ("api.overdue_by_unit", "GET"): signed_in(),
    ("api.list_register", "GET"): signed_in(),
    ("lists.index", "GET"): roles(*STATS_ROLES),
    ("lists.export", "GET"): roles(*STATS_ROLES),
    ("lists.accountability_page", "GET"): roles(*STATS_ROLES),
    ("lists.accountability_export", "GET"): roles(*STATS_ROLES),
    ("api.accountability_report", "GET"): roles(*STATS_ROLES),
    # statistics
    **{(f"stats.{e}", "GET"): roles(*STATS_ROLES) for e in (
        "api_stats", "api_stats_annual", "api_stats_cases", "api_stats_rankings", "api_snapshots", "dashboard",
        "drill", "export")},
    ("stats.api_freeze", "POST"): roles("bureau", "admin"),
    # notifications
    ("notifications.my_notifications", "GET"): signed_in(),
    ("notifications.read_notification", "POST"): signed_in(),
    ("notifications.admin_outbox", "GET"): roles("admin", "auditor"),
    ("notifications.admin_resend", "POST"): roles("admin"),
    ("notifications.admin_templates", "GET"): roles("admin", "designer"),
    # work nobody could do (无人可办): the administrators' report and hand-back
    ("api.orphans_json", "GET"): roles("admin"),
    ("api.hand_back_json", "POST"): roles("admin"),
    ("orphans.page", "GET"): roles("admin"),
    ("orphans.hand_back_page", "POST"): roles("admin"),
    # the inbox (each user's own notices) and the outbox page
    ("inbox.page", "GET"): signed_in(),
    ("inbox.open_notice", "GET"): signed_in(),
    ("inbox.mark_read", "POST"): signed_in(),
    ("inbox.mark_unread", "POST"): signed_in(),
    ("inbox.mark_all_read", "POST"): signed_in(),
    ("api.inbox_list", "GET"): signed_in(),
    ("api.inbox_read", "POST"): signed_in(),
    ("api.inbox_unread", "POST"): signed_in(),
    ("api.inbox_read_all", "POST"): signed_in(),
    ("outbox.page", "GET"): roles("admin"),
    ("outbox.resend_row", "POST"): roles("admin"),
    # the exchange with the upstream system: its signed push, and the administrators' page of its reports
    ("exchange.inbound", "POST"): Policy("webhook"),
    ("exchange.page", "GET"): roles("admin"),
    ("exchange.resend_report", "POST"): roles("admin"),
    # the working-day calendar
    ("calendar_web.list_years", "GET"): signed_in(),
    ("calendar_web.get_year", "GET"): signed_in(),
    ("calendar_web.due", "GET"): signed_in(),
    ("calendar_web.put_year", "PUT"): roles("admin"),
    ("calendar_web.admin_page", "GET"): roles("admin"),
    ("calendar_web.admin_import", "POST"): roles("admin"),
    # the organisation: its page, the import (preview and apply) and the export, administrators only
    ("organisation_admin.page", "GET"): roles("admin"),
    ("organisation_admin.export", "GET"): roles("admin"),
    ("organisation_admin.preview", "POST"): roles("admin"),
    ("organisation_admin.apply", "POST"): roles("admin"),
    # the second factor (web/account/pages.py): the code page of signing in, one's own enrolment, an admin's reset
    ("totp.code_page", "GET"): Policy("session"),
    ("totp.code_page", "POST"): Policy("session"),
    ("totp.account_page", "GET"): signed_in(),
    ("totp.account_begin", "POST"): signed_in(),
    ("totp.account_confirm", "POST"): signed_in(),
    ("totp.api_begin", "POST"): signed_in(),
    ("totp.api_confirm", "POST"): signed_in(),
    ("totp.api_reset", "DELETE"): roles("admin"),
    ("totp.api_unlock", "POST"): roles("admin"),
    # the security audit log: auditors only, administrators refused too (their own actions are in it)
    # cases in incident (故障案件): the administrators repair, retry and move them
    ("incidents.index", "GET"): roles("admin"),
    # a case's incident pages: admins, for the cases they may see (never a confidential case: web/visibility.py)
    ("incidents.case", "GET"): case("admin"),
    ("incidents.repair_form", "POST"): case("admin"),
    ("incidents.retry_form", "POST"): case("admin"),
    ("incidents.move_form", "POST"): case("admin"),
    ("api.list_incidents", "GET"): roles("admin"),
    ("api.incident_case", "GET"): case("admin"),
    ("api.repair_incident", "POST"): case("admin"),
    ("api.move_incident", "POST"): case("admin"),
    ("security_log.page", "GET"): roles("auditor"),
    ("security_log.list_events", "GET"): roles("auditor"),
    ("security_log.verify", "GET"): roles("auditor"),
    ("security_log.export", "GET"): roles("auditor"),
}
# Run last, in this order: they sign in again or out, ending the session the other checks use.
SESSION_ENDING = ["api.create_session", "ui.login_page", "ui.logout", "api.delete_session"]
READ_ONLY_EXEMPT = {"api.create_session", "api.delete_session", "ui.login_page", "ui.logout",
                    "api.change_password",  # everyone changes their own password, auditors too
                    # and enrols their own second factor
                    "totp.account_begin", "totp.account_confirm", "totp.api_begin", "totp.api_confirm",
                    # asking for a verification run of every journal changes no case: auditors may
                    "audit.request_verification", "api.request_verification_run"}


def user_roles() -> dict[str, set[str]]:
    org = yaml.safe_load((ROOT / "processes" / "organisation.yaml").read_text(encoding="utf-8"))
    return {u["username"]: {r["role"] for r in u.get("roles", [])} for u in org["demo_users"]}


# ---------------------------------------------------------------- the office with its three cases

@dataclass
class CaseUnderTest:
    label: str
    id: int
    case_no: str
    title: str
    petitioner: str
    task_id: int | None

    def markers(self) -> list[str]:
        return [self.case_no, self.title, self.petitioner]


@pytest.fixture(scope="module")
def office(sqlite_template, tmp_path_factory):
    from web.app import create_app

    c = demo_office(sqlite_template, tmp_path_factory.mktemp("matrix"))
    app = create_app(c)
    anonymous = app.test_client()
    page = anonymous.get("/login").get_data(as_text=True)  # the sign-in form carries a CSRF token
    clients = {ANON: (anonymous, csrf_of(page))}
    for name in PRINCIPALS[1:]:
        client = app.test_client()
        r = client.post("/api/session", json={"username": name, "password": "demo"})
        assert r.status_code == 201, (name, r.get_json())
        clients[name] = (client, r.get_json()["csrf_token"])
    cases = {label: register(clients, label, location, accusation)
             for label, location, accusation in (("A", "county_a", False), ("B", "county_b", False),
                                                 ("D", "county_a", True))}
    yield app, clients, cases
    c.engine.dispose()


def register(clients, label: str, location: str, accusation: bool) -> CaseUnderTest:
    client, token = clients["registrar"]
    title = f"矩阵{label}{uuid.uuid4().hex[:8].upper()}号事项"
    petitioner = f"甄{label}{uuid.uuid4().hex[:8].upper()}"  # not a part of the title: each is looked for alone
    body = {"channel": "来访", "title": title, "request": f"请求处理{title}", "category": "劳动社保",
            "location": location, "petitioners": [{"name": petitioner, "phone": "13900000000"}]}
    if accusation:
        body["nature"], body["respondent_level"] = "检举控告", "县管"
    r = client.post("/api/cases", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    view = client.get(f"/api/cases/{made['id']}").get_json()
    [triage] = view["tasks"]
    route = "检举控告" if accusation else "交办转送"
    r = client.post(f"/api/tasks/{triage['id']}/complete", headers={"X-CSRF-Token": token},
                    json={"data": {"route": route}, "version": view["version"]})
    assert r.status_code == 200, r.get_json()
    tasks = r.get_json()["tasks"]
    return CaseUnderTest(label, made["id"], made["case_no"], title, petitioner, tasks[0]["id"] if tasks else None)


# ---------------------------------------------------------------- requests and the oracle

def url_for_rule(rule, target: CaseUnderTest | None, cases) -> str | None:
    values = {}
    for arg in rule.arguments:
        if arg == "case_id":
            values[arg] = target.id
        elif arg == "task_id":
            if target is None or target.task_id is None:
                return None
            values[arg] = target.task_id
        elif arg == "action" and rule.endpoint.startswith("casepage."):
            values[arg] = "supervise"
        elif arg == "case_no":
            values[arg] = cases["A"].case_no
        else:
            values[arg] = {"key": "simple_case", "name": "复查申请", "register": "leader_case", "year": 2026,
                           "fmt": "json", "kind": "reply", "action": "claim", "filename": "lianxin.css",
                           "attachment_id": 1, "notification_id": 1, "filter_id": 1}.get(arg, 1)
    url = rule.build(values, append_unknown=False)[1]
    return url


JSON_BODIES = {
    "api.complete_task": {"data": {}},
    "handling.api_reassign": {"to": "nobody"},
    "handling.api_delegate": {"to": "nobody"},
    "api.deliver_message": {"payload": {}},
    "api.pause_case": {"reason": "矩阵检查"},
    "api.resume_case": {"reason": "矩阵检查"},
    "api.extend_deadline": {"days": 1, "reason": "矩阵检查"},
    "api.correct_deadline": {"due_date": "2026-06-30", "reason": "矩阵检查"},
    "casepage.add_comment_json": {"body": "矩阵检查意见"},
    "api.start_instance": {"data": {}},
}


def call(client, token, endpoint: str, method: str, url: str):
    if method == "GET":
        return client.get(url)
    if url.startswith("/api/"):
        return client.open(url, method=method, json=JSON_BODIES.get(endpoint, {}),
                           headers={"X-CSRF-Token": token} if token else {})
    form = {"csrf_token": token or "", "body": "矩阵检查意见", "to": "nobody"}
    return client.open(url, method=method, data=form)


def expected_allowed(policy: Policy, who: str, method: str, endpoint: str, target: CaseUnderTest | None,
                     held: dict[str, set[str]]) -> bool | None:
    if policy.kind == "session":
        return None
    if policy.kind == "anyone":
        return True
    if policy.kind in ("webhook", "governed", "portal") or who == ANON:
        return False
    mine = held[who]
    if method != "GET" and mine <= {"auditor"} and endpoint not in READ_ONLY_EXEMPT:
        return False  # the auditor reads and changes nothing
    if policy.kind == "signed_in":
        return True
    if policy.kind == "roles":
        return bool(mine & policy.roles)
    return _allowed_on_case(policy, who, mine, target)


def _allowed_on_case(policy: Policy, who: str, mine: set[str], target: CaseUnderTest) -> bool:
    if policy.kind == "case":
        return who in VISIBLE[target.label] and (not policy.roles or bool(mine & policy.roles))
    if policy.kind == "retry":  # the roles, or on the confidential case (D) anyone of the body that sees it
        return who in VISIBLE[target.label] and (target.label == "D" or bool(mine & policy.roles))
    if policy.kind == "task_act":
        return who in TASK_ACTORS[target.label]
    if policy.kind == "task_read":
        return who in TASK_READERS[target.label]
    raise AssertionError(policy)


def to_sign_in(response) -> bool:
    """The staff sign-in page, or the portal's (its SMS-code sign-in is its start page)."""
    where = response.headers.get("Location", "")
    return response.status_code in (302, 303) and ("/login" in where or where.rstrip("/").endswith("/portal"))


def refused(response) -> bool:
    """Not for this person: 401, 403, 404 (hiding that it exists) or the sign-in page."""
    return response.status_code in (401, 403, 404) or to_sign_in(response)


def turned_away(response) -> bool:
    """What an allowed call must never get (a 404 for an id that does not exist is an answer, not a refusal)."""
    return response.status_code in (401, 403) or to_sign_in(response)


def leaks(response, who: str, cases, url: str) -> list[str]:
    if not (response.mimetype or "").startswith(("text/", "application/json")):
        return []
    text = response.get_data(as_text=True)
    found = []
    for label, c in cases.items():
        if who in VISIBLE[label]:
            continue
        found += [f"{label}:{m}" for m in c.markers() if m in text and m not in url]
    return found


def targets_of(rule, policy: Policy, cases):
    if "task_id" in rule.arguments:
        return [cases["A"], cases["B"]]
    if "case_id" in rule.arguments:
        return list(cases.values())
    return [None]


def checked_rules(app):
    rules = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (rule.endpoint, method) in POLICY:
                rules.append((rule, method))
    # reads first, then changes; signing out last (it ends the session the other checks use)
    def order(rm):
        rule, method = rm
        last = SESSION_ENDING.index(rule.endpoint) + 1 if rule.endpoint in SESSION_ENDING else 0
        return last, method != "GET", rule.rule

    return sorted(rules, key=order)


def test_every_endpoint_answers_each_role_and_unit_relation_as_its_policy_says(office):
    app, clients, cases = office
    held = user_roles()
    wrong, leaked, seen = [], [], 0
    for rule, method in checked_rules(app):
        policy = POLICY[(rule.endpoint, method)]
        for target in targets_of(rule, policy, cases):
            url = url_for_rule(rule, target, cases)
            if url is None:
                continue
            for who in PRINCIPALS:
                client, token = clients[who]
                response = call(client, token, rule.endpoint, method, url)
                seen += 1
                allowed = expected_allowed(policy, who, method, rule.endpoint, target, held)
                if response.status_code >= 500:
                    wrong.append(f"{method} {url} as {who}: server error {response.status_code}")
                elif allowed is None:
                    pass
                elif allowed and turned_away(response):
                    wrong.append(f"{method} {url} as {who}: refused ({response.status_code}) but the policy "
                                 f"allows it")
                elif not allowed and not refused(response):
                    wrong.append(f"{method} {url} as {who}: answered {response.status_code} but the policy "
                                 f"refuses it: {response.get_data(as_text=True)[:200]}")
                leaked += [f"{method} {url} as {who}: {m}" for m in leaks(response, who, cases, url)]
                response.close()  # file downloads stream from an open file
    assert seen > 1000
    assert wrong == []
    assert leaked == []


def row_counts(app) -> dict[str, int]:
    from sqlalchemy import func, select

    from engine.db import Base
    from services import schema  # noqa: F401

    c = app.extensions["lianxin"]
    with c.session_factory() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables
                if t.name != "access_log"}


def test_every_form_and_cookie_authenticated_change_needs_the_csrf_token(office):
    """Signed in as admin (allowed nearly everywhere) with a session cookie: every unsafe request without the
    CSRF token, or with another session's token, is refused and changes nothing."""
    app, _, cases = office
    client, foreign_client = app.test_client(), app.test_client()  # fresh sessions: the matrix signed out
    assert client.post("/api/session", json={"username": "admin", "password": "demo"}).status_code == 201
    foreign = foreign_client.post("/api/session", json={"username": "bureau", "password": "demo"}).get_json()[
        "csrf_token"]
    before = row_counts(app)
    checked, wrong = 0, []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            policy = POLICY.get((rule.endpoint, method))
            if policy is None or policy.kind in ("anyone", "webhook") or rule.endpoint in (
                    "api.create_session", "api.delete_session"):
                # Nothing to forge: no session to ride on (the SMS webhooks are signed instead); signing out
                # through the API needs a DELETE, which no cross-site form can send.
                continue
            url = url_for_rule(rule, cases["A"], cases)
            if url is None:
                continue
            for sent in (None, foreign):
                if url.startswith("/api/"):
                    r = client.open(url, method=method, json=JSON_BODIES.get(rule.endpoint, {}),
                                    headers={"X-CSRF-Token": sent} if sent else {})
                    ok = r.status_code == 403 and r.get_json()["error"]["code"] == "csrf"
                else:
                    form = {"body": "伪造的请求", "to": "nobody", **({"csrf_token": sent} if sent else {})}
                    r = client.open(url, method=method, data=form)
                    ok = r.status_code in (400, 403) and "CSRF" in r.get_data(as_text=True)
                r.close()
                checked += 1
                if not ok:
                    wrong.append(f"{method} {url} with {'a foreign' if sent else 'no'} token: {r.status_code}")
    assert checked > 40
    assert wrong == []
    assert row_counts(app) == before
    assert client.get("/api/session").status_code == 200  # still signed in: nothing was done in its name


def test_every_endpoint_of_the_app_has_a_policy(office):
    app, _, _ = office
    missing = sorted(f"{method} {rule.rule} ({rule.endpoint})" for rule in app.url_map.iter_rules()
                     for method in rule.methods - {"HEAD", "OPTIONS"} if (rule.endpoint, method) not in POLICY)
    assert missing == [], ("add a policy entry to POLICY in tests/reliability/test_access_matrix.py for each new "
                           "endpoint (who may call it), so the access matrix checks it: " + "; ".join(missing))


def test_lists_searches_and_figures_name_no_case_their_reader_may_not_see(office):
    """The lists with their filters and searches (and every KPI's cases), for everyone: zero leaks."""
    app, _, cases = office
    admin = app.test_client()
    admin.post("/api/session", json={"username": "admin", "password": "demo"})
    kpis = [k["key"] for k in admin.get("/api/stats?period=2026-03").get_json()["kpis"]]
    urls = ["/api/tasks?scope=all", "/api/tasks?scope=unit", "/api/tasks?scope=mine", "/api/reports/overdue",
            "/api/notifications", "/tasks", "/cases?q=矩阵", "/cases", "/audit?q=矩阵", "/audit", "/lists",
            "/stats?period=2026-03", "/api/stats?period=2026-03", "/api/cases/repeats",
            "/lists/accountability?year=2026", "/api/accountability/report?year=2026",
            *[f"/api/registers/{r}" for r in ("leader_case", "stabilisation", "resolution", "supervision",
                                               "accountability")],
            *[f"/api/stats/cases?period=2026-03&kpi={k}&which={w}" for k in kpis
              for w in ("numerator", "denominator")]]
    checked, leaked = 0, []
    for who in PRINCIPALS[1:]:
        client = app.test_client()
        token = client.post("/api/session", json={"username": who, "password": "demo"}).get_json()["csrf_token"]
        for url in urls:
            if url == "/api/cases/repeats":  # a likely-repeat search by the fields of case A
                r = client.post(url, headers={"X-CSRF-Token": token},
                                json={"title": cases["A"].title, "category": "劳动社保", "location": "county_a",
                                      "petitioners": [{"name": cases["A"].petitioner, "phone": "13900000000"}]})
            else:
                r = client.get(url)
            assert r.status_code < 500, (who, url, r.status_code)
            checked += 1
            found = leaks(r, who, cases, url)
            if url == "/api/cases/repeats":
                # By design the repeat check looks across the city (a repeat petition is merged with its original
                # wherever that was registered) and names case number and title; never the petitioner in full,
                # never a case on the discipline track.
                petitioners = {c.petitioner for c in cases.values()}
                found = [m for m in found if m.startswith("D:") or m.split(":", 1)[1] in petitioners]
            leaked += [f"{url} as {who}: {m}" for m in found]
            r.close()
    assert checked > 300
    assert leaked == []
