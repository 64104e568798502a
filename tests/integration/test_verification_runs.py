"""Verifying every case in the background: an auditor asks on the page or over the API, the worker verifies the
journals in batches with progress, a changed journal is listed with its first bad event, an admin is not shown
failures of cases on the discipline track, and a run whose worker died is taken over. Both databases."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from engine import verification_runs
from engine.verification_runs import VerificationRun
from tests.support.web import api_sign_in, office_app, page_sign_in

PETITION = {"channel": "来访", "title": "企业拖欠工资", "request": "请求支付拖欠的工资", "category": "劳动社保",
            "location": "county_a", "petitioners": [{"name": "张三", "phone": "13900000000"}]}


@pytest.fixture
def app(container):
    return office_app(container)


def register(app, *, accusation: bool = False) -> int:
    client, headers = api_sign_in(app, "registrar")
    body = dict(PETITION, nature="检举控告", respondent_level="县管") if accusation else PETITION
    made = client.post("/api/cases", json=body, headers=headers).get_json()
    view = client.get(f"/api/cases/{made['id']}").get_json()
    route = "检举控告" if accusation else "交办转送"
    r = client.post(f"/api/tasks/{view['tasks'][0]['id']}/complete", headers=headers,
                    json={"data": {"route": route}, "version": view["version"]})
    assert r.status_code == 200, r.get_json()
    return made["id"]


def tamper(container, case_id: int) -> None:
    with container.engine.begin() as conn:
        conn.execute(text("update journal_event set data = '{}' where case_id = :id and seq = 2"), {"id": case_id})


def run_worker(container, name: str = "worker-1", **kw) -> dict:
    return verification_runs.work(container.runtime, container.session_factory, container.clock.now, name, **kw)


def test_an_auditor_asks_the_worker_verifies_and_a_changed_journal_is_named(app, container):
    ids = [register(app) for _ in range(3)]
    tamper(container, ids[1])
    auditor, headers = api_sign_in(app, "auditor")
    r = auditor.post("/api/audit/verify-runs", headers=headers)
    assert r.status_code == 202, r.get_json()
    run = r.get_json()
    assert (run["status"], run["total"], run["checked"]) == ("queued", 3, 0)
    again = auditor.post("/api/audit/verify-runs", headers=headers)  # one run at a time
    assert again.status_code == 200 and again.get_json()["id"] == run["id"]

    first = run_worker(container, batch=2, seconds=0)  # one batch per round: the progress is visible between
    assert first == {"run": run["id"], "checked": 2}
    progress = auditor.get(f"/api/audit/verify-runs/{run['id']}").get_json()
    assert (progress["status"], progress["checked"], progress["percent"]) == ("running", 2, 67)
    run_worker(container, batch=2, seconds=0)
    done = auditor.get(f"/api/audit/verify-runs/{run['id']}").get_json()
    assert (done["status"], done["checked"], done["failed"]) == ("done", 3, 1)
    [failure] = done["failures"]
    assert failure["case_id"] == ids[1] and failure["seq"] == 2 and failure["case_no"].startswith("XF")
    assert "事件内容与哈希不符" in failure["reason"]
    assert run_worker(container) == {"run": None, "checked": 0}  # nothing left to do

    page = page_sign_in(app, "auditor").get("/audit/verify").get_data(as_text=True)
    assert "已完成" in page and f'href="/audit/cases/{ids[1]}"' in page and failure["case_no"] in page
    assert 'http-equiv="refresh"' not in page  # no run active: the page stops refreshing


def test_the_page_form_starts_a_run_for_the_read_only_auditor_and_others_are_refused(app, container):
    register(app)
    client = page_sign_in(app, "auditor")
    page = client.get("/audit/verify").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/audit/verify", data={}).status_code == 403  # no CSRF token: refused, nothing queued
    assert client.get("/api/audit/verify-runs").get_json()["runs"] == []
    r = client.post("/audit/verify", data={"csrf_token": token})
    assert r.status_code == 302
    page = client.get("/audit/verify").get_data(as_text=True)
    assert "正在校验" in page or "等待后台任务" in page
    assert 'http-equiv="refresh"' in page and 'id="start-verification" disabled' in page
    for who in ("handler", "bureau", "designer"):
        c, headers = api_sign_in(app, who)
        assert c.post("/api/audit/verify-runs", headers=headers).status_code == 403
        assert c.get("/api/audit/verify-runs").status_code == 403
    auditor, headers = api_sign_in(app, "auditor")  # still read-only everywhere else
    assert auditor.post("/api/cases", json=PETITION, headers=headers).status_code == 403


def test_an_admin_is_not_shown_failures_on_the_discipline_track(app, container):
    ordinary, accusation = register(app), register(app, accusation=True)
    tamper(container, ordinary)
    tamper(container, accusation)
    admin, headers = api_sign_in(app, "admin")
    run = admin.post("/api/audit/verify-runs", headers=headers).get_json()
    run_worker(container)
    as_admin = admin.get(f"/api/audit/verify-runs/{run['id']}").get_json()
    assert [f["case_id"] for f in as_admin["failures"]] == [ordinary]
    assert as_admin["failed"] == 2 and as_admin["failures_not_shown"] == 1
    auditor, _ = api_sign_in(app, "auditor")
    as_auditor = auditor.get(f"/api/audit/verify-runs/{run['id']}").get_json()
    assert sorted(f["case_id"] for f in as_auditor["failures"]) == [ordinary, accusation]


def test_a_run_whose_worker_went_silent_is_taken_over_from_its_cursor(app, container):
    ids = [register(app) for _ in range(3)]
    with container.session_factory() as s, s.begin():
        run = verification_runs.request_run(s, "auditor", container.clock.now())
        run_id = run.id
    run_worker(container, "worker-1", batch=1, seconds=0)
    assert run_worker(container, "worker-2", batch=1, seconds=0) == {"run": None, "checked": 0}  # worker-1 holds it
    container.clock.advance(verification_runs.LEASE + timedelta(seconds=1))  # worker-1 dies: no heartbeat
    taken = run_worker(container, "worker-2", batch=5, seconds=0)
    assert taken == {"run": run_id, "checked": 2}  # from the committed cursor, the first case not again
    with container.session_factory() as s:
        run = s.get(VerificationRun, run_id)
        assert (run.status, run.checked, run.cursor, run.worker) == ("done", 3, ids[-1], "worker-2")
    # the old worker comes back: the run is no longer its own, it records nothing
    with container.session_factory() as s, s.begin():
        s.execute(update(VerificationRun).where(VerificationRun.id == run_id).values(status="running"))
    assert verification_runs._record(container.session_factory, run_id, "worker-1", ids, [],
                                     container.clock.now()) is True
    with container.session_factory() as s:
        assert s.scalar(select(VerificationRun.checked).where(VerificationRun.id == run_id)) == 3


def test_a_case_that_cannot_even_be_checked_is_listed_and_the_run_goes_on(app, container, monkeypatch):
    ids = [register(app) for _ in range(3)]
    real = container.runtime.verify

    def verify(case_id, **kw):
        if case_id == ids[0]:
            raise ValueError("state written by a newer version")
        return real(case_id, **kw)

    monkeypatch.setattr(container.runtime, "verify", verify)
    with container.session_factory() as s, s.begin():
        run_id = verification_runs.request_run(s, "auditor", container.clock.now()).id
    assert run_worker(container) == {"run": run_id, "checked": 3}
    auditor, _ = api_sign_in(app, "auditor")
    done = auditor.get(f"/api/audit/verify-runs/{run_id}").get_json()
    assert (done["status"], done["checked"], done["failed"]) == ("done", 3, 1)
    [failure] = done["failures"]
    assert failure["case_id"] == ids[0] and failure["seq"] is None
    assert "无法校验" in failure["reason"] and "newer version" in failure["reason"]


def test_two_auditors_asking_at_once_get_one_run(app, container):
    import threading

    register(app)
    first = container.session_factory()
    first.begin()
    mine = verification_runs.request_run(first, "auditor", container.clock.now())  # not committed yet
    outcome: dict = {}

    def second():
        with container.session_factory() as s, s.begin():
            try:
                outcome["run"] = verification_runs.request_run(s, "admin", container.clock.now()).id
            except verification_runs.RunInProgress as busy:
                outcome["busy"] = busy.run.id

    other = threading.Thread(target=second)
    other.start()
    try:
        other.join(1.0)
        assert other.is_alive()  # waits for the first request's transaction
        first.commit()
    finally:
        first.close()
        other.join(30)
    assert outcome == {"busy": mine.id}
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(VerificationRun)) == 1
