"""Four users writing to one case at the same moment: every comment and every attachment is stored and journaled,
none is refused and the journal verifies. Before the case row was locked first, PostgreSQL answered two thirds of
them with a deadlock (500): each writer inserted its row (a key-share lock on the case row), then asked for the
case row FOR UPDATE to append its journal event, and waited for the others' key-share locks."""
from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from engine.definitions import collect_files
from engine.store import JournalEvent
from features.conftest import Office
from services.organisation import load_organisation
from services.store.casefiles import CaseAttachment, CaseComment
from tests.support.db import _truncate_postgres, make_container

ROOT = Path(__file__).resolve().parents[2]
USERS = ("admin", "designer", "registrar", "bureau")
EACH = 25


@pytest.fixture
def office(container):
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    return Office(container)


def _case(office) -> int:
    return office.c.runtime.start("petition_case", {
        "title": "反映小区供暖不达标", "channel": "网上", "category": "城乡建设", "location": "county_a",
        "request": "要求依法处理", "registering_unit": "city_bureau"}, actor="registrar").id


def _all_at_once(office, send) -> list[int]:
    """Each user in a thread of their own sends EACH writes; returns every status code."""
    for user in USERS:
        office.client(user)  # signed in before the race starts
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(len(USERS))

    def run(user: str) -> None:
        start.wait()
        for n in range(EACH):
            code = send(user, n).status_code
            with lock:
                statuses.append(code)

    threads = [threading.Thread(target=run, args=(user,)) for user in USERS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return statuses


def _count(office, model, case_id: int) -> int:
    with office.c.session_factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(model.case_id == case_id))


def _events(office, case_id: int, kind: str) -> int:
    with office.c.session_factory() as s:
        return s.scalar(select(func.count()).select_from(JournalEvent).where(
            JournalEvent.case_id == case_id, JournalEvent.type == kind))


def test_four_users_commenting_on_one_case_at_once_all_succeed(office):
    case_id = _case(office)
    statuses = _all_at_once(office, lambda user, n: office.post(
        user, f"/api/cases/{case_id}/comments", json={"body": f"{user} 的第{n}条意见"}))
    assert statuses == [201] * len(USERS) * EACH, sorted(set(statuses))
    assert _count(office, CaseComment, case_id) == len(USERS) * EACH
    assert _events(office, case_id, "comment.added") == len(USERS) * EACH
    check = office.c.runtime.verify(case_id)
    assert check.ok, check.reason


def test_four_users_uploading_to_one_case_at_once_all_succeed(office):
    case_id = _case(office)
    statuses = _all_at_once(office, lambda user, n: office.post(
        user, f"/api/cases/{case_id}/attachments", content_type="multipart/form-data",
        data={"file": (io.BytesIO(f"{user} {n}".encode()), f"材料{n}.txt", "text/plain")}))
    assert statuses == [201] * len(USERS) * EACH, sorted(set(statuses))
    assert _count(office, CaseAttachment, case_id) == len(USERS) * EACH
    assert _events(office, case_id, "attachment.added") == len(USERS) * EACH
    check = office.c.runtime.verify(case_id)
    assert check.ok, check.reason


@pytest.mark.postgres
def test_a_claim_takes_the_case_row_before_the_work_item_like_a_command_does(postgres_url, clock, tmp_path):
    """A command holds the case row and is about to update its work items while someone claims one of them. The
    claim must wait for the case row before it touches the work item; when it took the work item first, the two
    waited for each other and PostgreSQL broke the deadlock by failing one of them."""
    _truncate_postgres(postgres_url)
    c = make_container(postgres_url, clock, tmp_path)
    try:
        case_id = _case(_deployed(c))
        item_id = c.runtime.get_case(case_id).tasks[0].id
        outcome: dict[str, object] = {}

        def claim():
            try:
                outcome["claimed"] = c.runtime.claim(item_id, "registrar")
            except Exception as exc:  # noqa: BLE001 - the test reports whatever happened
                outcome["error"] = exc

        with c.engine.connect() as command:
            with command.begin():
                command.execute(text("SELECT id FROM case_instance WHERE id = :id FOR UPDATE"), {"id": case_id})
                claimer = threading.Thread(target=claim)
                claimer.start()
                _wait_until_blocked(c.engine, claimer)
                # as the command's work-item sync does: update the item while holding the case row
                command.execute(text("UPDATE work_item SET due_at = due_at WHERE id = :id"), {"id": item_id})
            claimer.join(60)
        assert "error" not in outcome, outcome.get("error")
        assert outcome["claimed"].assignee == "registrar"
        assert c.runtime.verify(case_id).ok
    finally:
        c.engine.dispose()


def _deployed(c):
    c.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    with c.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    return Office(c)


def _wait_until_blocked(engine, thread: threading.Thread) -> None:
    """Until another backend waits for a lock (the claim, behind our case row), or the thread ended."""
    with engine.connect() as watch:
        while thread.is_alive():
            waiting = watch.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                         "AND pid <> pg_backend_pid() AND datname = current_database()")).scalar()
            watch.rollback()
            if waiting:
                return
            thread.join(0.01)
