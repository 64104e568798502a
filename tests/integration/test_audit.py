"""The auditor: read-only role, access log, history with filters and before/after data, replay snapshots with
deadlines, verification of tampered cases over HTTP and on the page, exports with masking. Both databases."""
from __future__ import annotations

import base64
import csv
import io
import json
import logging
import re
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.web import api_sign_in as sign_in, office_app

ROOT = Path(__file__).resolve().parents[2]
PHONE, ID_NUMBER, ADDRESS = "13812345678", "410121199001031234", "河南省郑州市金水区花园路100号3单元"
DATA = {"title": "工资拖欠", "category": "劳动社保", "location": "county_a",
        "petitioner": {"name": "张三丰", "phone": PHONE, "id_number": ID_NUMBER, "address": ADDRESS}}


@pytest.fixture
def app(container):
    return office_app(container)


def a_case(container, *, days_between: int = 0):
    """Registered by `registrar`, signed two days later by `handler` with a note naming a phone number."""
    rt = container.runtime
    case = rt.start("simple_case", DATA, "registrar")
    if days_between:
        container.clock.advance(timedelta(days=days_between))
    rt.complete(case.tasks[0].id, {"signed": True, "note": f"已电话联系 {PHONE}"}, "handler")
    return case.id


# ---------------------------------------------------------------- role

# The only unsafe requests an auditor may make besides signing in and out: asking for a verification run of every
# journal (it changes no case). Spelled out here, not read from the code under test.
AUDITOR_MAY = {"audit.request_verification", "api.request_verification_run"}


def _unsafe_rules(app):
    from web.audit.pages import ALWAYS_ALLOWED, READ_ONLY_MAY

    assert READ_ONLY_MAY == AUDITOR_MAY
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            if rule.endpoint not in ALWAYS_ALLOWED | AUDITOR_MAY:
                yield rule, method


def _urls(app, rule):
    """Every URL of a rule with placeholder values (each choice of an `any(...)` part)."""
    from flask import url_for
    from werkzeug.routing import AnyConverter, IntegerConverter

    choices = [{}]
    for name, conv in rule._converters.items():
        options = sorted(conv.items) if isinstance(conv, AnyConverter) else \
            [1] if isinstance(conv, IntegerConverter) else ["x"]
        choices = [dict(c, **{name: o}) for c in choices for o in options]
    with app.test_request_context():
        return [url_for(rule.endpoint, **values) for values in choices]


def test_auditor_is_refused_every_unsafe_endpoint(app, container):
    case_id = a_case(container)  # not always 1: on PostgreSQL the deploy's rolled-back simulation used some ids
    client, headers = sign_in(app, "auditor")
    checked = []
    for _rule, method, url in [(r, m, u) for r, m in _unsafe_rules(app) for u in _urls(app, r)]:
        r = client.open(url, method=method, headers=headers, json={})
        assert r.status_code == 403, f"{method} {url} answered {r.status_code} to the auditor"
        if url.startswith("/api/"):
            assert r.get_json()["error"]["code"] == "read_only", f"{method} {url}"
        else:
            assert "审计员只能查看" in r.get_data(as_text=True), f"{method} {url}"
        checked.append(f"{method} {url}")
    assert "POST /api/tasks/1/complete" in checked and "POST /api/cases/1/pause" in checked
    assert len(checked) >= 10
    # the refusal is the role's, not a blanket one: an admin's correction of a deadline goes through
    admin, admin_headers = sign_in(app, "admin")
    assert admin.post(f"/api/cases/{case_id}/deadlines/Timer_reply_limit/correct",
                      json={"due_date": "2026-06-30", "reason": "录入错误"}, headers=admin_headers).status_code == 200
    # the auditor still signs out
    assert client.delete("/api/session", headers=headers).status_code == 200


def test_auditor_reads_everything_with_personal_data_masked(app, container):
    case_id = a_case(container)
    client, _ = sign_in(app, "auditor")
    body = client.get(f"/api/cases/{case_id}/history").get_json()
    assert body["masked"] is True
    raw = json.dumps(body, ensure_ascii=False)
    assert PHONE not in raw and ID_NUMBER not in raw and ADDRESS not in raw and "张三丰" not in raw
    assert "138****5678" in raw and "410121********1234" in raw
    snap = client.get(f"/api/cases/{case_id}/replay").get_json()
    assert snap["data"]["petitioner"]["phone"] == "138****5678"
    case = client.get(f"/api/cases/{case_id}").get_json()
    assert case["data"]["petitioner"]["id_number"] == "410121********1234"
    assert ADDRESS not in json.dumps(case, ensure_ascii=False)
    # a registrar needs the contact details and sees them
    registrar, _ = sign_in(app, "registrar")
    body = registrar.get(f"/api/cases/{case_id}/history").get_json()
    assert body["masked"] is False
    assert PHONE in json.dumps(body, ensure_ascii=False)


# ---------------------------------------------------------------- access log

def test_views_and_exports_are_recorded_and_shown_to_auditors(app, container):
    case_id = a_case(container)
    handler, _ = sign_in(app, "handler")
    assert handler.get(f"/api/cases/{case_id}").status_code == 200
    assert handler.get(f"/cases/{case_id}").status_code == 200  # the case page (another area) is recorded too
    assert handler.get(f"/api/cases/{case_id}/access-log").status_code == 403
    auditor, _ = sign_in(app, "auditor")
    assert auditor.get(f"/audit/cases/{case_id}").status_code == 200
    assert auditor.get(f"/api/cases/{case_id}/replay?seq=2").status_code == 200
    assert auditor.get(f"/api/cases/{case_id}/export?format=csv").status_code == 200
    assert auditor.get(f"/audit/cases/{case_id}/export/pdf").status_code == 200
    entries = auditor.get(f"/api/cases/{case_id}/access-log").get_json()["entries"]
    seen = {(e["username"], e["what"], e["status"]) for e in entries}
    assert ("handler", "api.get_case", 200) in seen
    assert ("handler", "casepage.case_page", 200) in seen
    assert ("handler", "api.case_access_log", 403) in seen
    assert ("auditor", "audit.history", 200) in seen
    assert ("auditor", "api.replay_case", 200) in seen
    assert ("auditor", "api.export_case.csv", 200) in seen
    assert ("auditor", "audit.export.pdf", 200) in seen
    assert all(e["remote_addr"] and e["at"] for e in entries)
    assert [e for e in entries if e["what"] == "api.export_case.csv"][0]["path"].endswith("format=csv")
    # the audit page lists them too (and records its own viewing)
    page = auditor.get(f"/audit/cases/{case_id}/access").get_data(as_text=True)
    assert "api.export_case.csv" in page and "handler" in page
    other = a_case(container)
    assert all(e["case_id"] == case_id for e in entries) and other != case_id


def test_a_failing_access_log_is_logged_and_blocks_exports(app, container, monkeypatch, caplog):
    from infra import access_log

    case_id = a_case(container)
    auditor, _ = sign_in(app, "auditor")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(access_log, "record", broken)
    with caplog.at_level(logging.ERROR, logger="lianxin.audit"):
        assert auditor.get(f"/api/cases/{case_id}/history").status_code == 200
        r = auditor.get(f"/api/cases/{case_id}/export?format=json")
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "access_log_unavailable"
    messages = [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert any("could not record" in m and f"/api/cases/{case_id}/history" in m for m in messages)
    assert any("export of case" in m for m in messages)


# ---------------------------------------------------------------- history

def test_history_filters_and_before_after(app, container):
    case_id = a_case(container, days_between=2)
    auditor, _ = sign_in(app, "auditor")

    def events(query=""):
        r = auditor.get(f"/api/cases/{case_id}/history{query}")
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_json()["events"]

    everything = events()
    assert {e["actor"] for e in everything} == {"registrar", "handler"}
    assert {e["actor"] for e in events("?actor=handler")} == {"handler"}
    assert [e["type"] for e in events("?type=task.submitted")] == ["task.submitted"]
    assert {e["type"].split(".")[0] for e in events("?type=task.")} == {"task"}
    sign = events("?element=Task_sign")
    assert sign and {e["element_id"] for e in sign} == {"Task_sign"}
    # registered on 2 March, signed on 4 March (Beijing days, both ends inclusive)
    assert {e["actor"] for e in events("?to=2026-03-02")} == {"registrar"}
    assert {e["actor"] for e in events("?from=2026-03-04")} == {"handler"}
    assert events("?from=2026-03-03&to=2026-03-03") == []
    bad = auditor.get(f"/api/cases/{case_id}/history?from=yesterday")
    assert bad.status_code == 400 and "from" in bad.get_json()["error"]["message"]

    completed = [e for e in sign if e["type"] == "task.completed"][0]
    changes = {c["field"]: (c["before"], c["after"]) for c in completed["changes"]}
    assert changes["signed"] == [None, True] or changes["signed"] == (None, True)
    assert changes["note"][1] == "已电话联系 138****5678"
    assert completed["changes_source"] == "diff" and completed["element_name"] == "签收办理"
    started = everything[0]
    assert started["type"] == "case.started" and started["changes_source"] == "start"
    assert {c["field"] for c in started["changes"]} >= {"title", "petitioner"}

    page = auditor.get(f"/audit/cases/{case_id}?actor=handler").get_data(as_text=True)
    rows = re.findall(r'<tr data-seq="(\d+)" data-type="([\w.]+)"', page)
    assert rows and {t for _, t in rows} == {e["type"] for e in events("?actor=handler")}
    assert "已电话联系 138****5678" in page and PHONE not in page
    english = auditor.get(f"/audit/cases/{case_id}?lang=en").get_data(as_text=True)
    assert "Integrity check" in english and "Verified" in english and "Step completed" in english
    replay = auditor.get(f"/audit/cases/{case_id}/replay?lang=en").get_data(as_text=True)
    assert "Step {n} of {total}" in replay and "Deadlines as they stood" in replay


# ---------------------------------------------------------------- replay

def test_replay_shows_each_deadline_as_computed_with_its_calendar_version(app, container):
    case_id = a_case(container)
    auditor, _ = sign_in(app, "auditor")
    history = auditor.get(f"/api/cases/{case_id}/history").get_json()["events"]
    computed = [e for e in history if e["type"] == "deadline.computed"]
    submitted = [e for e in history if e["type"] == "task.submitted"][0]["seq"]
    before = auditor.get(f"/api/cases/{case_id}/replay?seq={submitted - 1}").get_json()
    [sign_limit] = [d for d in before["deadlines"] if d["element_id"] == "Timer_sign_limit"]
    assert sign_limit["running"] is True and sign_limit["rule"] == "WD" and sign_limit["n"] == 5
    assert sign_limit["calendar_versions"] == computed[0]["data"]["calendar_versions"]
    assert sign_limit["calendar_versions"]["2026"] >= 1
    assert sign_limit["due_at"] == computed[0]["data"]["due_at"]
    after = auditor.get(f"/api/cases/{case_id}/replay").get_json()
    assert [d for d in after["deadlines"] if d["element_id"] == "Timer_sign_limit"][0]["running"] is False
    assert "Task_sign" in after["completed"] and "Task_sign" not in before["completed"]
    page = auditor.get(f"/audit/cases/{case_id}/replay").get_data(as_text=True)
    assert 'id="replay-slider"' in page and "Task_sign" in page and "bpmn:definitions" in page


# ---------------------------------------------------------------- tampering

def test_a_changed_journal_event_is_named_on_the_api_and_the_page(app, container):
    case_id = a_case(container)
    auditor, _ = sign_in(app, "auditor")
    assert auditor.get(f"/api/cases/{case_id}/verify").get_json()["ok"] is True
    assert "校验通过" in auditor.get(f"/audit/cases/{case_id}").get_data(as_text=True)
    history = container.runtime.history(case_id)
    target = [e for e in history if e["type"] == "task.submitted"][0]
    forged = dict(target["data"], data={"signed": False})
    with container.engine.begin() as conn:
        conn.execute(text("update journal_event set data = :d where case_id = :c and seq = :s"),
                     {"d": json.dumps(forged, ensure_ascii=False), "c": case_id, "s": target["seq"]})
    result = auditor.get(f"/api/cases/{case_id}/verify").get_json()
    assert result["ok"] is False and result["first_bad_seq"] == target["seq"]
    page = auditor.get(f"/audit/cases/{case_id}").get_data(as_text=True)
    assert "校验未通过" in page and f"自第 {target['seq']} 号事件起" in page
    report = json.loads(auditor.get(f"/api/cases/{case_id}/export?format=json").data)
    assert report["verification"]["ok"] is False and report["verification"]["first_bad_seq"] == target["seq"]


def test_a_changed_case_state_is_detected(app, container):
    case_id = a_case(container)
    auditor, _ = sign_in(app, "auditor")
    with container.engine.begin() as conn:
        state = conn.execute(text("select state from case_instance where id = :id"), {"id": case_id}).scalar_one()
        doctored = state.replace('"county_a_hrss"', '"county_b_hrss"')
        assert doctored != state
        conn.execute(text("update case_instance set state = :s where id = :id"), {"s": doctored, "id": case_id})
    result = auditor.get(f"/api/cases/{case_id}/verify").get_json()
    last = container.runtime.history(case_id)[-1]["seq"]
    assert result["ok"] is False and result["first_bad_seq"] == last and "不一致" in result["reason"]
    page = auditor.get(f"/audit/cases/{case_id}").get_data(as_text=True)
    assert "校验未通过" in page and f"自第 {last} 号事件起" in page


def test_a_case_state_that_no_longer_loads_fails_verification_instead_of_erroring(app, container):
    case_id = a_case(container)
    auditor, _ = sign_in(app, "auditor")
    with container.engine.begin() as conn:
        conn.execute(text("update case_instance set state = '{not json' where id = :id"), {"id": case_id})
    r = auditor.get(f"/api/cases/{case_id}/verify")
    result = r.get_json()
    last = container.runtime.history(case_id)[-1]["seq"]
    assert r.status_code == 200 and result["ok"] is False and result["first_bad_seq"] == last
    assert "存储的状态无法读取" in result["reason"]


# ---------------------------------------------------------------- exports

def pdf_text(pdf: bytes) -> str:
    """The text shown by a ReportLab PDF (ASCII85 + Flate content streams, UTF-16 strings for the CID font)."""
    out = []
    for m in re.finditer(rb">>\s*stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            content = zlib.decompress(base64.a85decode(m.group(1).strip(), adobe=True))
        except ValueError:
            continue
        for s in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content, re.S):
            raw = re.sub(rb"\\([0-7]{1,3}|.)", lambda e: bytes([int(e.group(1), 8)]) if e.group(1)[:1].isdigit()
                         else {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(e.group(1), e.group(1)), s)
            out.append(raw.decode("utf-16-be", errors="replace") if len(raw) % 2 == 0 else raw.decode("latin-1"))
    return "\n".join(out)


def test_exports_are_masked_complete_and_recorded(app, container):
    case_id = a_case(container)
    auditor, _ = sign_in(app, "auditor")
    history = container.runtime.history(case_id)

    r = auditor.get(f"/api/cases/{case_id}/export?format=csv")
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][0] == "序号 seq"
    assert {int(row[0]) for row in rows[1:]} == {e["seq"] for e in history}
    note = [row for row in rows if row[7] == "note"][0]
    assert note[2] == "handler" and note[9] == "已电话联系 138****5678"
    body = r.data.decode("utf-8-sig")
    assert PHONE not in body and ID_NUMBER not in body and ADDRESS not in body

    doc = json.loads(auditor.get(f"/api/cases/{case_id}/export?format=json").data)
    assert doc["masked"] is True and doc["verification"]["ok"] is True
    assert [e["seq"] for e in doc["events"]] == [e["seq"] for e in history]
    assert PHONE not in json.dumps(doc, ensure_ascii=False)
    filtered = json.loads(auditor.get(f"/api/cases/{case_id}/export?format=json&actor=handler").data)
    assert filtered["filters"]["actor"] == "handler" and {e["actor"] for e in filtered["events"]} == {"handler"}

    html = auditor.get(f"/audit/cases/{case_id}/export/html").get_data(as_text=True)
    assert "案件审计报告" in html and "已电话联系 138****5678" in html and PHONE not in html
    assert "通过" in html

    pdf = auditor.get(f"/audit/cases/{case_id}/export/pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert b"/STSong-Light" in pdf.data
    shown = pdf_text(pdf.data)
    assert "案件审计报告" in shown and "签收办理" in shown and "已电话联系 138****5678" in shown
    assert PHONE not in shown and ID_NUMBER not in shown

    bad = auditor.get(f"/api/cases/{case_id}/export?format=docx")
    assert bad.status_code == 400 and "csv" in bad.get_json()["error"]["message"]
    whats = [e["what"] for e in auditor.get(f"/api/cases/{case_id}/access-log").get_json()["entries"]]
    for fmt in ("csv", "json"):
        assert f"api.export_case.{fmt}" in whats
    assert "audit.export.html" in whats and "audit.export.pdf" in whats


def test_a_journal_that_no_longer_replays_is_a_clear_409(app, container):
    case_id = a_case(container)
    auditor, _ = sign_in(app, "auditor")
    target = [e for e in container.runtime.history(case_id) if e["type"] == "task.submitted"][0]
    with container.engine.begin() as conn:
        conn.execute(text("update journal_event set element_id = 'Task_reply' where case_id = :c and seq = :s"),
                     {"c": case_id, "s": target["seq"]})
    r = auditor.get(f"/api/cases/{case_id}/replay")
    assert r.status_code == 409 and r.get_json()["error"]["details"]["seq"] == target["seq"]
    assert auditor.get(f"/api/cases/{case_id}/replay?seq={target['seq'] - 1}").status_code == 200
    result = auditor.get(f"/api/cases/{case_id}/verify").get_json()
    assert result["ok"] is False and result["first_bad_seq"] == target["seq"]
