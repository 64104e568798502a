"""Issue #23, point 5, on SQLite and PostgreSQL: the security audit log gets a row for each kind of action, only
auditors read it (page and API), its hash chain shows a changed or removed row, a purge keeps every row younger
than 180 days, and it exports as JSON lines and to syslog (RFC 5424)."""
from __future__ import annotations

import io
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text, update

from infra import security_log
from infra.security_log import SecurityEvent
from tests.integration.test_personal_data import a_petition
from tests.support import bpmn
from tests.support.web import api_sign_in, office_app
from web.app import create_app
from web.cli.main import main
from web.security_events import AUDITED


@pytest.fixture
def app(container):
    return office_app(container)


def rows(c, kind=None) -> list[dict]:
    with c.session_factory() as s:
        stmt = select(SecurityEvent).order_by(SecurityEvent.seq)
        if kind:
            stmt = stmt.where(SecurityEvent.kind == kind)
        return [security_log.to_dict(r) for r in s.scalars(stmt)]


def test_each_kind_is_written_by_its_action(app, container):
    c = container
    registrar, registrar_h = api_sign_in(app, "registrar")
    assert rows(c, "sign_in")[-1]["actor"] == "registrar"
    assert app.test_client().post("/api/session", json={"username": "handler", "password": "x"}).status_code == 401
    failed = rows(c, "sign_in_failed")[-1]
    assert (failed["actor"], failed["detail"]["reason"], failed["ip"]) == ("handler", "password", "127.0.0.1")
    # personal data in full: the registrar reads the case they registered
    case_id = a_petition(c)
    assert registrar.get(f"/api/cases/{case_id}").status_code == 200
    view = rows(c, "personal_data_view")[-1]
    assert view["actor"] == "registrar" and view["detail"]["case_id"] == case_id
    # exports: statistics and an auditor's case export
    bureau, _ = api_sign_in(app, "bureau")
    assert bureau.get("/stats/export.xlsx?period=2026-03").status_code == 200
    auditor, _ = api_sign_in(app, "auditor")
    assert auditor.get(f"/api/cases/{case_id}/export?format=csv").status_code == 200
    exports = [(r["actor"], r["detail"]["endpoint"]) for r in rows(c, "export")]
    assert exports == [("bureau", "stats.export"), ("auditor", "api.export_case")]
    # a deployment and a settings change (the working-day calendar; the demo clock)
    designer, designer_h = api_sign_in(app, "designer")
    files = [(io.BytesIO(bpmn.LOOP.encode("utf-8")), "loop_case.bpmn")]  # any model that deploys cleanly
    deployed = designer.post("/api/process-definitions", data={"files": files, "comment": "试"}, headers=designer_h)
    assert deployed.status_code == 201, deployed.get_json()
    assert rows(c, "deployment")[-1]["actor"] == "designer"
    admin, admin_h = api_sign_in(app, "admin")
    assert admin.post("/api/clock", json={"advance": "PT1H"}, headers=admin_h).status_code == 200
    assert rows(c, "settings_change")[-1]["detail"]["endpoint"] == "api.set_clock"
    # a role change and a password change from the command line
    env = {"LIANXIN_DATABASE_URL": c.settings.database_url, "LIANXIN_SECRET_KEY": c.settings.secret_key,
           "LIANXIN_VAR_DIR": str(c.settings.var_dir)}
    granted = CliRunner().invoke(main, ["user", "grant", "handler", "registrar", "city_bureau"], env=env)
    assert granted.exit_code == 0, granted.output
    assert rows(c, "role_change")[-1]["detail"] == {"action": "granted", "user": "handler", "role": "registrar",
                                                    "unit": "city_bureau", "subunits": False}
    r = registrar.put("/api/session/password", json={"password": "demo", "new_password": "Deng-Ji-2026"},
                      headers=registrar_h)
    assert r.status_code == 200 and rows(c, "password_change")[-1]["actor"] == "registrar"
    # lockouts and second-factor events: tests/integration/test_second_factor.py
    with c.session_factory() as s:
        assert security_log.verify(s).ok


def test_organisation_changes_by_init_are_logged(tmp_path):
    env = {"LIANXIN_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "LIANXIN_VAR_DIR": str(tmp_path),
           "LIANXIN_SECRET_KEY": "k"}
    assert CliRunner().invoke(main, ["init"], env=env).exit_code == 0
    out = tmp_path / "log.jsonl"
    assert CliRunner().invoke(main, ["security-log", "export", "--file", str(out)], env=env).exit_code == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["kind"] for line in lines] == ["organisation_change"]
    assert lines[0]["detail"]["added_units"] > 0 and lines[0]["actor"] == "lianxin init"


def test_every_audited_endpoint_exists(app):
    """The table of audited endpoints names real endpoints (a renamed one would silently stop being logged)."""
    assert not set(AUDITED) - set(app.view_functions), set(AUDITED) - set(app.view_functions)


def test_only_auditors_read_the_log(app, container):
    api_sign_in(app, "registrar")
    auditor, _ = api_sign_in(app, "auditor")
    r = auditor.get("/api/security-events?kind=sign_in&actor=registrar")
    assert r.status_code == 200
    body = r.get_json()
    assert body["total"] == 1 and body["events"][0]["label"] == "登录成功"
    page = auditor.get("/audit/security-log?kind=sign_in")
    assert page.status_code == 200 and "安全审计日志" in page.get_data(as_text=True)
    assert "登录成功" in page.get_data(as_text=True)
    assert auditor.get("/api/security-events/verify").get_json()["ok"] is True
    assert auditor.get("/api/security-events?kind=nonsense").status_code == 400
    for user in ("admin", "designer", "handler"):
        client, _ = api_sign_in(app, user)
        assert client.get("/api/security-events").status_code == 403, user
        assert client.get("/audit/security-log").status_code == 403, user
        assert client.get("/api/security-events/export.jsonl").status_code == 403, user
    assert app.test_client().get("/api/security-events").status_code == 401


def test_the_page_filters_by_date_and_pages(app, container):
    c = container
    with c.session_factory() as s, s.begin():
        for i in range(60):
            security_log.append_in(s, at=c.clock.now() - timedelta(days=i % 3), actor=f"u{i % 2}",
                                   kind="export", detail={"i": i})
    auditor, _ = api_sign_in(app, "auditor")
    today = c.clock.now().date().isoformat()
    r = auditor.get(f"/api/security-events?kind=export&from={today}&to={today}").get_json()
    assert r["total"] == 20
    second = auditor.get("/api/security-events?kind=export&page=2").get_json()
    assert second["total"] == 60 and len(second["events"]) == 10
    page = auditor.get("/audit/security-log?kind=export&actor=u1").get_data(as_text=True)
    assert "第 1 / 1 页" not in page and "共 30 条" in page


def test_a_changed_or_removed_row_breaks_the_chain(container):
    c = container
    for i in range(5):
        security_log.append(c.session_factory, at=c.clock.now(), actor="a", kind="export", detail={"i": i})
    with c.session_factory() as s:
        assert security_log.verify(s).ok
    with c.session_factory() as s, s.begin():
        s.execute(update(SecurityEvent).where(SecurityEvent.seq == 3).values(actor="someone else"))
    with c.session_factory() as s:
        check = security_log.verify(s)
    assert not check.ok and check.first_bad_seq == 3
    with c.session_factory() as s, s.begin():
        s.execute(text("DELETE FROM security_event WHERE seq = 3"))
    with c.session_factory() as s:
        check = security_log.verify(s)
    assert not check.ok and check.first_bad_seq == 4


def test_a_purge_keeps_every_row_younger_than_180_days(container):
    c = container
    start = c.clock.now()
    for days_ago in (400, 300, 200, 181, 179, 10, 0):
        security_log.append(c.session_factory, at=start - timedelta(days=days_ago), actor="a", kind="export",
                            detail={"days_ago": days_ago})
    with c.session_factory() as s, s.begin(), pytest.raises(security_log.RetentionError, match="180"):
        security_log.purge(s, before=start - timedelta(days=179), now=start)
    with c.session_factory() as s, s.begin():
        removed = security_log.purge(s, before=start - timedelta(days=180), now=start, actor="ops")
    assert removed == 4
    left = [r["detail"].get("days_ago") for r in rows(c)]
    assert left == [179, 10, 0, None]  # the purge itself is the last row
    with c.session_factory() as s:
        assert security_log.verify(s).ok  # the remaining chain starts at the anchor the purge recorded


def test_the_purge_command_refuses_young_rows(container, tmp_path):
    env = {"LIANXIN_DATABASE_URL": container.settings.database_url, "LIANXIN_SECRET_KEY": "test-secret",
           "LIANXIN_VAR_DIR": str(tmp_path)}
    r = CliRunner().invoke(main, ["security-log", "purge", "--before", "2099-01-01"], env=env)
    assert r.exit_code != 0 and "180" in r.output


def test_syslog_export_reaches_a_local_receiver(container):
    c = container
    security_log.append(c.session_factory, at=c.clock.now(), actor="admin", kind="sign_in", ip="10.1.2.3",
                        detail={"method": "password+totp"})
    security_log.append(c.session_factory, at=c.clock.now(), actor="x", kind="sign_in_failed",
                        detail={"reason": "password"})
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    try:
        with c.session_factory() as s:
            sent = security_log.to_syslog(s, receiver.getsockname())
        messages = [receiver.recv(65536).decode("utf-8") for _ in range(sent)]
    finally:
        receiver.close()
    assert sent == 2
    # <PRI>: facility authpriv (10) * 8 + severity info (6) / warning (4)
    assert messages[0].startswith("<86>1 2026-03-02T01:00:00.000000Z ")
    assert " lianxin - sign_in [lianxin@32473 seq=\"1\" actor=\"admin\" ip=\"10.1.2.3\"] " in messages[0]
    assert json.loads(messages[0].split("\ufeff", 1)[1])["detail"] == {"method": "password+totp"}
    assert messages[1].startswith("<84>1 ") and " sign_in_failed " in messages[1]


def test_the_jsonl_export_for_auditors_is_itself_logged(container):
    app = create_app(container)
    office_app(container, deploy=False)
    auditor, _ = api_sign_in(app, "auditor")
    r = auditor.get("/api/security-events/export.jsonl")
    assert r.status_code == 200
    lines = [json.loads(line) for line in r.get_data(as_text=True).splitlines()]
    assert lines[-1]["kind"] == "sign_in" and lines[-1]["actor"] == "auditor"
    assert rows(container, "export")[-1]["detail"]["endpoint"] == "security_log.export"


def test_appends_from_many_threads_keep_one_unbroken_chain(container):
    """Four writers at once (as several web processes would): every row lands, numbered without gaps, linked."""
    c = container

    def write(worker: int) -> None:
        for i in range(10):
            security_log.append(c.session_factory, at=c.clock.now(), actor=f"w{worker}", kind="export",
                                detail={"i": i})

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    with c.session_factory() as s:
        check = security_log.verify(s)
        seqs = list(s.scalars(select(SecurityEvent.seq).order_by(SecurityEvent.seq)))
    assert check.ok and check.rows == 40 and seqs == list(range(1, 41))
