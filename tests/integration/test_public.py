"""The petitioner's side without signing in: the SMS gateway's inbound webhook and public progress by query
code, on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.store import Case, Outbox, Setting
from features.steps_petition import PETITIONER
from features.steps_sms import KNOWN_CODE, drive_to_rating, make_sms_office, outbox_to, send_sms, sms_cases
from services import query_code
from services.index_key import IndexKey

PHONE = "13900005678"
TEXT = "小区旁边的工地每天夜里施工，噪声很大，请有关部门处理"


@pytest.fixture
def office(database_url, tmp_path):
    from features.conftest import process_files

    office = make_sms_office(database_url, tmp_path)
    r = office.post("designer", "/api/process-definitions", data={"files": [f[1] for f in process_files()]},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    yield office
    office.c.engine.dispose()


def _count(office, model) -> int:
    with office.c.session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_signed_sms_registers_a_petition_on_the_sms_channel_and_queues_the_receipt(office):
    r = send_sms(office, PHONE, TEXT, "gw-100")
    assert r.status_code == 200 and r.get_json()["status"] == "registered", r.get_json()
    [case] = sms_cases(office)
    assert case["petitioner"]["phone"] == PHONE and case["request"] == TEXT
    view = office.get("designer", f"/api/cases/{case['_id']}").get_json()
    assert not view["incidents"], view["incidents"]
    [receipt] = outbox_to(office, PHONE)
    assert receipt["template"] == "registration_receipt" and receipt["channel"] == "sms"
    assert receipt["case_id"] == case["_id"] and receipt["status"] == "pending"
    code = receipt["data"]["query_code"]  # the SMS receipt is the one place the code is written out
    assert len(code) == 10 and query_code.matches(code, case["registration"]["query_code_hash"],
                                                           IndexKey.from_secret_key(office.c.settings.secret_key))
    assert code not in str(case) and case["registration"]["query_code"] == ""
    history = office.get("auditor", f"/api/cases/{case['_id']}/history").get_data(as_text=True)
    assert code not in history and "hmac-sha256$" in history
    assert receipt["data"]["registered_on"] == "2026-03-02" and receipt["data"]["accept_due"] == "2026-03-17"


def test_the_same_gateway_message_twice_makes_one_case(office):
    assert send_sms(office, PHONE, TEXT, "gw-200").get_json()["duplicate"] is False
    again = send_sms(office, PHONE, TEXT, "gw-200")
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert len(sms_cases(office)) == 1 and len(outbox_to(office, PHONE)) == 1


def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(office, caplog):
    for r in (send_sms(office, PHONE, TEXT, "gw-300", secret="wrong"), send_sms(office, PHONE, TEXT, "gw-301",
                                                                                  signed=False)):
        assert r.status_code == 401 and r.get_json()["error"]["code"] == "bad_signature"
    assert _count(office, Case) == 0 and _count(office, Outbox) == 0 and _count(office, Setting) == 0
    assert "SMS inbound refused" in caplog.text


def test_short_or_empty_texts_get_a_helpful_answer(office):
    for i, text in enumerate(["", "你好", "x" * 600]):
        assert send_sms(office, PHONE, text, f"gw-help-{i}").get_json()["status"] == "help"
    assert _count(office, Case) == 0
    answers = outbox_to(office, PHONE)
    assert [a["template"] for a in answers] == ["sms_auto_reply"] * 3 and "查询码" in answers[0]["data"]["reply"]


def test_a_rating_with_the_right_code_from_the_registered_phone_is_recorded(office):
    case = drive_to_rating(office, [])
    code = KNOWN_CODE
    assert case["data"]["registration"]["query_code_hash"].startswith("scrypt$")
    r = send_sms(office, PETITIONER["phone"], f"2 基本满意 {code.lower()}", "gw-400")
    assert r.status_code == 200 and r.get_json()["status"] == "rated", r.get_json()
    view = office.get("designer", f"/api/cases/{office.case_id}").get_json()
    assert view["data"]["rating"] == "基本满意" and view["data"]["rating_channel"] == "短信"
    assert not any(t["name"] == "回访并记录满意度" for t in view["tasks"])
    history = office.get("designer", f"/api/cases/{office.case_id}/history").get_json()["events"]
    [submitted] = [e for e in history if e["type"] == "task.submitted" and e["element_id"] == "Task_rating"]
    assert submitted["actor"].startswith("sms:") and PETITIONER["phone"] not in submitted["actor"]
    assert "基本满意" in outbox_to(office, PETITIONER["phone"])[-1]["data"]["reply"]


def test_a_rating_with_a_wrong_code_or_from_another_phone_is_not_recorded(office):
    case = drive_to_rating(office, [])
    code = KNOWN_CODE
    assert case["data"]["registration"]["query_code_hash"].startswith("scrypt$")
    wrong = "23456789AB" if code != "23456789AB" else "3456789ABC"
    own = PETITIONER["phone"]
    assert send_sms(office, own, f"1 {wrong}", "gw-500").get_json()["status"] == "rating_not_found"
    assert send_sms(office, PHONE, f"满意 {code}", "gw-501").get_json()["status"] == "rating_not_found"
    assert send_sms(office, PETITIONER["phone"], "1", "gw-502").get_json()["status"] == "rating_help"
    view = office.get("designer", f"/api/cases/{office.case_id}").get_json()
    assert "rating" not in view["data"] and any(t["name"] == "回访并记录满意度" for t in view["tasks"])
    answers = [a for a in outbox_to(office, PETITIONER["phone"]) if a["template"] == "sms_auto_reply"]
    assert len(answers) == 2 and "未找到" in answers[0]["data"]["reply"]
    assert "未找到" in outbox_to(office, PHONE)[-1]["data"]["reply"]


def test_public_progress_shows_dates_and_stage_but_no_notes_or_names(office):
    case = drive_to_rating(office, [])
    case_no, code = case["data"]["case_no"], KNOWN_CODE
    client = office.app.test_client()
    r = client.get(f"/api/public/cases/{case_no}?code={code}")
    assert r.status_code == 200, r.get_json()
    progress = r.get_json()
    assert progress["stage"] == "已办结，待评价" and progress["unit_name"] == "东城县人力资源和社会保障局"
    steps = [m["step"] for m in progress["milestones"]]
    assert steps[:3] == ["登记", "转送、交办", "责任单位签收"] and "作出受理决定" in steps and "审核办结" in steps
    assert all(m["date"] == "2026-03-02" for m in progress["milestones"])
    page = client.post("/query", data={"case_no": case_no, "code": code})
    assert page.status_code == 200 and "已办结，待评价" in page.get_data(as_text=True)
    for text in (r.get_data(as_text=True), page.get_data(as_text=True)):
        for secret in ("内部备注", "内部说明", "handler", "bureau", "registrar", PETITIONER["name"],
                       PETITIONER["phone"], PETITIONER["id_number"], code):
            assert secret not in text


def test_wrong_query_codes_are_limited(office):
    case = drive_to_rating(office, [])
    case_no, code = case["data"]["case_no"], KNOWN_CODE
    client = office.app.test_client()
    for _ in range(5):
        assert client.get(f"/api/public/cases/{case_no}?code=WRONGCODE2").status_code == 404
    limited = client.get(f"/api/public/cases/{case_no}?code={code}")
    assert limited.status_code == 429 and "次数过多" in limited.get_json()["error"]["message"]
    assert client.get("/query").status_code == 200
    other = office.app.test_client()  # the petitioner elsewhere is not locked out by someone else's guesses
    assert other.get(f"/api/public/cases/{case_no}?code={code}", environ_base={"REMOTE_ADDR": "10.0.0.9"}) \
        .status_code == 200
    office.c.clock.advance(timedelta(minutes=office.c.settings.query_window_minutes + 1))
    assert client.get(f"/api/public/cases/{case_no}?code={code}").status_code == 200


def test_wrong_codes_from_one_address_are_limited_across_case_numbers(office):
    client = office.app.test_client()
    for i in range(office.c.settings.query_failures_per_address):
        assert client.get(f"/api/public/cases/XF4101212026030201{i:06d}?code=WRONGCODE2").status_code == 404
    assert client.get("/api/public/cases/XF410121202603020100009?code=WRONGCODE2").status_code == 429
    assert "次数过多" in client.post("/query", data={"case_no": "XF1", "code": "X"}).get_data(as_text=True)


def test_a_message_left_received_by_an_interrupted_older_version_is_handled_on_the_retry(office):
    """Older versions wrote the marker `received` in a transaction of its own; a crash right after left it so and
    every retry answered `duplicate` with nothing done. The retry now finishes the message."""
    from engine.journal import to_json
    from services.sms_petitions import marker_key as _key

    with office.c.session_factory() as s, s.begin():
        s.add(Setting(key=_key("sms_in:", "gw-700"), value=to_json({"status": "received"})))
    r = send_sms(office, PHONE, TEXT, "gw-700")
    assert r.status_code == 200 and r.get_json()["status"] == "registered" and not r.get_json()["duplicate"]
    assert len(sms_cases(office)) == 1 and [a["template"] for a in outbox_to(office, PHONE)] == ["registration_receipt"]
    again = send_sms(office, PHONE, TEXT, "gw-700").get_json()
    assert again["duplicate"] is True and again["status"] == "registered"
    assert len(sms_cases(office)) == 1 and len(outbox_to(office, PHONE)) == 1


def test_the_same_message_delivered_four_times_at_once_makes_one_case_and_one_receipt(office):
    answers: list = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def deliver():
        start.wait()
        r = send_sms(office, PHONE, TEXT, "gw-800")
        with lock:
            answers.append((r.status_code, r.get_json()))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [status for status, _ in answers] == [200] * 4, answers
    assert sorted(body["duplicate"] for _, body in answers) == [False, True, True, True], answers
    assert {body["status"] for _, body in answers} == {"registered"}
    assert len(sms_cases(office)) == 1 and len(outbox_to(office, PHONE)) == 1
