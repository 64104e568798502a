"""Inbound SMS petitions and crashes: the gateway posts a signed message, every gunicorn web worker is killed with
SIGKILL a random 5-80 ms later, the workers come back and the gateway retries the message as a gateway does (until
it gets an answer). Afterwards each message has exactly one case and exactly one receipt in the outbox: nothing
lost, nothing twice (real processes, on SQLite and on PostgreSQL)."""
from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.definitions import collect_files
from engine.store import Case, Outbox, Setting
from features.steps_sms import GATEWAY_URL, SECRET
from infra.channels import SIGNATURE_HEADER, sign
from infra.migrate import upgrade
from services import parties
from services.organisation import load_organisation
from tests.support.db import _truncate_postgres, make_container

from .conftest import PgOffice
from .processes import Gunicorn, request

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 25
BATCH = 5  # messages in flight when the workers are killed
WORKERS, THREADS = 2, 3


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def office(request, clock, tmp_path):
    """An office with the processes deployed and the demo organisation, on a database the subprocesses share."""
    if request.param == "sqlite":
        path = tmp_path / "lianxin.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        _truncate_postgres(url)
    c = make_container(url, clock, tmp_path)
    upgrade(c.engine)
    c.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    with c.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    yield PgOffice(url, c, tmp_path)
    c.engine.dispose()


def message(i: int) -> dict:
    return {"from": f"1390000{i:04d}", "id": f"gw-crash-{i}", "at": "2026-12-07T09:30:00+08:00",
            "text": f"第{i}号反映：小区旁边的工地每天夜里施工，噪声很大，请有关部门处理"}


def post_signed(port: int, msg: dict) -> tuple[int, dict | None]:
    raw = json.dumps(msg, ensure_ascii=False).encode()  # the very bytes `request` sends
    return request(port, "POST", "/api/sms/inbound", msg, {SIGNATURE_HEADER: sign(SECRET, raw)})


def wait_for_new_workers(server: Gunicorn, killed: list[int]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = server.worker_pids()
        if len(pids) == WORKERS and not set(pids) & set(killed) and server._answers():
            return
        time.sleep(0.05)
    raise AssertionError("gunicorn did not bring its workers back")


def test_web_workers_killed_while_sms_petitions_are_handled_lose_and_repeat_nothing(office, tmp_path):
    rng = random.Random(15)
    env = office.env(LIANXIN_SMS_GATEWAY_URL=GATEWAY_URL)
    cut = 0
    retries: list[tuple[int, dict | None]] = []
    with Gunicorn(env, workers=WORKERS, threads=THREADS, log_path=tmp_path / "gunicorn.log") as server:
        for first in range(0, MESSAGES, BATCH):
            batch = [message(i) for i in range(first, first + BATCH)]
            answers: list = []

            def deliver(msg, answers=answers):
                try:
                    answers.append(post_signed(server.port, msg))
                except (OSError, http.client.HTTPException) as exc:  # a kill mid-answer: IncompleteRead too
                    answers.append(exc)

            senders = [threading.Thread(target=deliver, args=(msg,)) for msg in batch]
            for sender in senders:
                sender.start()
            time.sleep(rng.uniform(0.005, 0.080))
            victims = server.worker_pids()
            for pid in victims:
                os.kill(pid, signal.SIGKILL)
            for sender in senders:
                sender.join(60)
            cut += sum(isinstance(a, OSError) for a in answers)
            wait_for_new_workers(server, victims)
            # The gateway saw no answer (or did not trust it): it sends the same messages again.
            retries.extend(post_signed(server.port, msg) for msg in batch)
    assert cut > 0, "no request was cut by the kills"
    assert [status for status, _ in retries] == [200] * MESSAGES, retries
    assert all(body["status"] == "registered" for _, body in retries), retries

    with office.c.session_factory() as s:
        cases = s.scalars(select(Case).where(Case.process_key == "petition_case")).all()
        requests = {c.id: office.c.runtime.case_data(s, c).get("request") for c in cases}
        receipts = s.scalars(select(Outbox).where(Outbox.template == "registration_receipt")).all()
        to = {r.id: parties.contact_phone(s, office.c.extras["vault"], r.recipient) for r in receipts}
        markers = [json.loads(v) for v in s.scalars(select(Setting.value).where(Setting.key.like("sms_in:%")))]
    for i in range(MESSAGES):
        msg = message(i)
        mine = [case_id for case_id, text in requests.items() if text == msg["text"]]
        assert len(mine) == 1, f"message {i}: {len(mine)} cases"
        sent = [r for r in receipts if to[r.id] == msg["from"]]
        assert [r.case_id for r in sent] == mine, f"message {i}: receipts {[r.case_id for r in sent]}"
        assert json.loads(sent[0].payload)["query_code"]
    assert len(cases) == MESSAGES and len(receipts) == MESSAGES
    assert sorted(m["status"] for m in markers) == ["registered"] * MESSAGES
    assert all(office.c.runtime.verify(case.id).ok for case in cases)
