"""The exchange with the upstream petition information system (docs/exchange.md) end to end: the signed push and
the watched folder register matters as cases once per upstream number; refusals store nothing; the cases' status
goes back to a fake upstream system (a local HTTP server that checks our signature and can be told to fail)
through the outbox, with retries, dead letters on the administrators' page and their resend."""
from __future__ import annotations

import base64
import copy
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.store import Case, Outbox
from infra.channels import SIGNATURE_HEADER
from infra.upstream import TIMESTAMP_HEADER, refusal, signed_headers
from services import exchange, withdrawal
from services.attachments import list_attachments
from services.store.exchange import UpstreamMatter
from tests.support.db import make_container
from tests.support.fake_http import FakeJsonServer
from tests.support.web import csrf_of, office_app, page_sign_in
from web.cli.main import main
from web.exchange_setup import poll
from web.notify_setup import build_deliverer

KEY = "exchange-shared-key"
PDF = b"%PDF-1.4 upstream attachment"

MATTER = {
    "format": "lianxin-exchange/1", "upstream_no": "SJ2026-000123", "kind": "交办", "from_office": "省信访局",
    "sent_at": "2026-03-02T09:00:00+08:00", "deadline": "2026-04-15", "period_days": 30,
    "note": "请依法办理并于期限内报送结果",
    "matter": {"title": "拖欠农民工工资", "request": "请求督促某建筑公司支付拖欠的工资", "facts": "2025年工程结束后未结算",
               "category": "劳动社保", "subcategory": "拖欠工资", "location": "county_a",
               "petitioners": [{"name": "张三", "phone": "13812340000", "id_number": "110101199003071234"}]},
    "attachments": [{"filename": "来信.pdf", "media_type": "application/pdf",
                     "content_base64": base64.b64encode(PDF).decode()}],
}


def matter(**changes) -> dict:
    doc = copy.deepcopy(MATTER)
    doc.update(changes)
    return doc


class FakeUpstream(FakeJsonServer):
    """The upstream system's side: checks our signature and timestamp, keeps each report once per idempotency
    key, and can be told to fail the next requests."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock
        self.reports: dict[str, dict] = {}
        self.requests = 0
        self.fail_next = 0
        self.url = f"{self.base_url}/exchange/reports"

    def handle(self, http, raw: bytes) -> None:
        with self.lock:
            self.requests += 1
            if refusal(KEY, raw, http.headers.get(TIMESTAMP_HEADER), http.headers.get(SIGNATURE_HEADER),
                       self.clock.now(), 300):
                return self.reply(http, 401, {"error": "bad signature"})
            if self.fail_next:
                self.fail_next -= 1
                return self.reply(http, 503, {"error": "busy"})
            key = http.headers["Idempotency-Key"]
            self.reports.setdefault(key, json.loads(raw))
            return self.reply(http, 200, {"id": f"up-{len(self.reports)}"})


@pytest.fixture
def upstream(clock):
    fake = FakeUpstream(clock)
    yield fake
    fake.close()


@pytest.fixture
def office(database_url, clock, tmp_path, upstream):
    c = make_container(database_url, clock, tmp_path, exchange_key=KEY, exchange_upstream_url=upstream.url)
    app = office_app(c)
    yield c, app
    c.engine.dispose()


def push(app, clock, doc, *, key: str = KEY, at=None, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(doc, ensure_ascii=False).encode("utf-8")
    headers = signed_headers(key, body, at or clock.now())
    return app.test_client().post("/api/exchange/inbound", data=body, headers=headers,
                                  content_type="application/json")


def counts(c) -> tuple[int, int]:
    with c.session_factory() as s:
        return s.scalar(select(func.count()).select_from(Case)), \
            s.scalar(select(func.count()).select_from(UpstreamMatter))


# ---------------------------------------------------------------- in: the signed push

def test_a_signed_push_registers_the_matter_once_with_its_upstream_terms(office, clock):
    c, app = office
    r = push(app, clock, MATTER)
    assert r.status_code == 201, r.get_json()
    first = r.get_json()
    assert first["duplicate"] is False and first["case_no"].startswith("XF")
    view = c.runtime.get_case(first["case_id"])
    assert view.data["channel"] == "上级转交" and view.data["upstream_case_no"] == "SJ2026-000123"
    assert view.data["upstream"]["deadline"] == "2026-04-15" and view.data["upstream"]["kind"] == "交办"
    # the 交办's period is the triage's default: the registrar sees 交办 within 30 days, and may change it
    assert view.data["period_days"] == 30 and view.data["dispatch_type"] == "交办"
    assert "张三" not in json.dumps(view.data, ensure_ascii=False)  # the petitioner is sealed in the party table
    with c.session_factory() as s:
        [attached] = list_attachments(s, first["case_id"])
    assert attached.filename == "来信.pdf" and attached.size == len(PDF)

    # the petitioner is told the case number and the query code by SMS, once (the receipt of the desk and portal)
    with c.session_factory() as s:
        [receipt] = s.scalars(select(Outbox).where(Outbox.idempotency_key == f"receipt:{first['case_id']}")).all()
    assert receipt.channel == "sms" and receipt.template == "portal_receipt"
    assert json.loads(receipt.payload)["case_no"] == first["case_no"] and json.loads(receipt.payload)["query_code"]

    again = push(app, clock, MATTER)
    assert again.status_code == 200
    assert again.get_json() == dict(first, duplicate=True)
    assert counts(c) == (1, 1)
    with c.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Outbox).where(Outbox.template == "portal_receipt")) == 1


def test_a_wrong_or_missing_signature_is_refused_and_nothing_is_stored(office, clock):
    c, app = office
    assert push(app, clock, MATTER, key="another-key").status_code == 401
    body = json.dumps(MATTER).encode()
    r = app.test_client().post("/api/exchange/inbound", data=body, content_type="application/json")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "bad_signature"
    tampered = signed_headers(KEY, body, clock.now())
    r = app.test_client().post("/api/exchange/inbound", data=body.replace(b"SJ2026", b"SJ2027"), headers=tampered,
                               content_type="application/json")
    assert r.status_code == 401
    assert counts(c) == (0, 0)


def test_a_stale_timestamp_is_refused_even_with_its_right_signature(office, clock):
    c, app = office
    r = push(app, clock, MATTER, at=clock.now() - timedelta(minutes=10))
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "stale"
    assert push(app, clock, MATTER, at=clock.now() + timedelta(minutes=10)).status_code == 401
    assert counts(c) == (0, 0)


def test_a_body_that_is_not_json_or_not_a_valid_matter_is_422_with_its_problems(office, clock):
    c, app = office
    r = push(app, clock, None, raw=b"{not json")
    assert r.status_code == 422 and r.get_json()["error"]["details"]["problems"]
    bad = matter(kind="转交", upstream_no="")
    del bad["matter"]["title"]
    r = push(app, clock, bad)
    assert r.status_code == 422
    paths = {p["path"] for p in r.get_json()["error"]["details"]["problems"]}
    assert {"kind", "upstream_no", "matter"} <= paths
    wrong_place = matter()
    wrong_place["matter"]["location"] = "nowhere"
    wrong_place["matter"]["category"] = "没有这个分类"
    r = push(app, clock, wrong_place)
    assert r.status_code == 422
    assert {p["path"] for p in r.get_json()["error"]["details"]["problems"]} == {"matter/location", "matter/category"}
    no_deadline = matter()
    del no_deadline["deadline"]  # a 交办 needs the upstream's deadline
    assert push(app, clock, no_deadline).status_code == 422
    long_id = matter()
    long_id["matter"]["petitioners"][0]["id_number"] = "1101011990030712345678901234567890"
    r = push(app, clock, long_id)
    assert r.status_code == 422 and "matter/petitioners/0/id_number" in r.get_data(as_text=True)
    assert "110101199003071234" not in r.get_data(as_text=True)  # the answer does not repeat personal data
    assert counts(c) == (0, 0)


def test_the_push_is_rate_limited_per_address(sqlite_url, clock, tmp_path):
    c = make_container(sqlite_url, clock, tmp_path, exchange_key=KEY, exchange_inbound_per_minute=10)
    app = office_app(c, deploy=False)
    answers = [push(app, clock, MATTER, key="wrong").status_code for _ in range(11)]
    assert answers == [401] * 10 + [429]
    c.engine.dispose()


def test_the_push_needs_no_session_and_no_csrf_token_but_is_refused_while_no_key_is_set(sqlite_url, clock, tmp_path):
    c = make_container(sqlite_url, clock, tmp_path)
    app = office_app(c, deploy=False)
    r = push(app, clock, MATTER)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_configured"
    c.engine.dispose()


# ---------------------------------------------------------------- in: the watched folder

def test_the_folder_registers_valid_files_and_moves_invalid_ones_aside_with_their_problems(office, tmp_path):
    c, _app = office
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(matter(upstream_no="SJ-1"), ensure_ascii=False), encoding="utf-8")
    (folder / "b.json").write_text(json.dumps(matter(upstream_no="SJ-1"), ensure_ascii=False), encoding="utf-8")
    invalid = matter(upstream_no="SJ-2", period_days=0)
    invalid["matter"]["location"] = "nowhere"
    (folder / "c.json").write_text(json.dumps(invalid, ensure_ascii=False), encoding="utf-8")
    (folder / "d.json").write_text("{broken", encoding="utf-8")

    found = poll(c, folder)
    assert [r["file"] for r in found["registered"]] == ["a.json"]
    assert [(r["file"], r["case_no"]) for r in found["duplicates"]] == [("b.json", found["registered"][0]["case_no"])]
    assert [r["file"] for r in found["rejected"]] == ["c.json", "d.json"]
    assert sorted(p.name for p in (folder / "done").iterdir()) == ["a.json", "b.json"]
    rejected = folder / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == ["c.json", "c.json.problems.json", "d.json",
                                                          "d.json.problems.json"]
    problems = json.loads((rejected / "c.json.problems.json").read_text(encoding="utf-8"))["problems"]
    assert "period_days" in {p["path"] for p in problems}
    assert not list(folder.glob("*.json"))
    assert counts(c) == (1, 1)


# ---------------------------------------------------------------- out: reports with retries and dead letters

def deliver(c, clock, **options):
    return build_deliverer(c, **options).run_once(clock.now())


def test_the_status_goes_back_with_retries_after_the_upstream_fails_twice(office, clock, upstream):
    c, app = office
    case_no = push(app, clock, MATTER).get_json()["case_no"]
    assert exchange.queue_reports(c) == 1
    assert exchange.queue_reports(c) == 0  # each status change once
    upstream.fail_next = 2
    assert deliver(c, clock)["failed"] == 1
    clock.advance(timedelta(seconds=31))
    assert deliver(c, clock)["failed"] == 1
    clock.advance(timedelta(seconds=61))
    assert deliver(c, clock)["sent"] == 1
    assert upstream.requests == 3
    [report] = upstream.reports.values()
    assert report["upstream_no"] == "SJ2026-000123" and report["case_no"] == case_no
    assert report["event"] == "registered"
    assert any(d["kind"] == "receipt" for d in report["documents"])
    assert "张三" not in json.dumps(report, ensure_ascii=False)


def test_a_completed_step_is_reported_as_the_next_status(office, clock, upstream):
    c, app = office
    case_id = push(app, clock, MATTER).get_json()["case_id"]
    assert exchange.queue_reports(c) == 1
    clock.advance(timedelta(minutes=5))
    view = c.runtime.get_case(case_id)
    [triage] = [t for t in view.tasks if t.element_id == "Task_triage"]
    # the registrar's triage shows the upstream's terms the decision rests on
    page = page_sign_in(app, "registrar").get(f"/tasks/{triage.id}").get_data(as_text=True)
    assert 'data-fact="upstream.deadline"' in page and "2026-04-15" in page and "省信访局" in page
    c.runtime.complete(triage.id, {"route": "交办转送"}, actor="registrar", expected_version=view.version)
    assert c.runtime.get_case(case_id).data["assignment"]["period_days"] == 30
    assert exchange.queue_reports(c) == 1
    assert exchange.queue_reports(c) == 0
    deliver(c, clock)
    events = {r["event"]: r for r in upstream.reports.values()}
    assert set(events) == {"registered", "dispatched"}
    assert events["dispatched"]["dispatch_type"] == "交办"


def test_a_withdrawn_matter_is_reported_as_withdrawn_not_closed_and_nothing_after_it(office, clock, upstream):
    c, app = office
    case_id = push(app, clock, MATTER).get_json()["case_id"]
    assert exchange.queue_reports(c) == 1
    clock.advance(timedelta(minutes=5))
    withdrawal.confirm(c, case_id, "registrar", "letter", "信访人来信表示问题已解决，不再反映")
    assert c.runtime.get_case(case_id).status == "completed"
    assert exchange.queue_reports(c) == 1
    assert exchange.queue_reports(c) == 0
    deliver(c, clock)
    events = {r["event"]: r for r in upstream.reports.values()}
    assert set(events) == {"registered", "withdrawn"}
    assert events["withdrawn"]["event_label"] == "信访人撤回，已终止办理"


def test_a_dead_letter_is_on_the_admin_page_and_resent_and_others_may_not_see_it(office, clock, upstream):
    c, app = office
    push(app, clock, MATTER)
    exchange.queue_reports(c)
    upstream.fail_next = 100
    for _ in range(3):
        deliver(c, clock, max_attempts=3)
        clock.advance(timedelta(hours=3))
    with c.session_factory() as s:
        row = s.scalar(select(Outbox).where(Outbox.channel == "upstream"))
    assert row.status == "dead"

    admin = page_sign_in(app, "admin")
    html = admin.get("/admin/exchange").get_data(as_text=True)
    assert f'data-id="{row.id}" data-status="dead"' in html and "SJ2026-000123" in html
    r = admin.post(f"/admin/exchange/{row.id}/resend", data={"csrf_token": csrf_of(html)})
    assert r.status_code in (302, 303)
    upstream.fail_next = 0
    assert deliver(c, clock)["sent"] == 1
    assert len(upstream.reports) == 1
    # a sent report is not resent
    html = admin.get("/admin/exchange").get_data(as_text=True)
    assert admin.post(f"/admin/exchange/{row.id}/resend", data={"csrf_token": csrf_of(html)}).status_code == 409

    registrar = page_sign_in(app, "registrar")
    assert registrar.get("/admin/exchange").status_code == 403
    assert registrar.post(f"/admin/exchange/{row.id}/resend",
                          data={"csrf_token": csrf_of(registrar.get("/tasks").get_data(as_text=True))}).status_code == 403


# ---------------------------------------------------------------- the command line and the worker

def test_the_cli_polls_a_folder_and_the_worker_polls_the_configured_one(tmp_path):
    folder = tmp_path / "exchange"
    folder.mkdir()
    env = {"LIANXIN_VAR_DIR": str(tmp_path / "var"), "LIANXIN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    assert CliRunner().invoke(main, ["init"], env=env).exit_code == 0
    (folder / "good.json").write_text(json.dumps(matter(upstream_no="SJ-CLI-1"), ensure_ascii=False), encoding="utf-8")
    (folder / "bad.json").write_text(json.dumps(matter(upstream_no="SJ-CLI-2", kind="转送", period_days=10),
                                                ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["exchange", "poll", str(folder)], env=env)
    assert result.exit_code == 1
    assert "已退回（rejected）bad.json：period_days" in result.output
    assert (folder / "rejected" / "bad.json.problems.json").exists() and (folder / "done" / "good.json").exists()

    (folder / "next.json").write_text(json.dumps(matter(upstream_no="SJ-CLI-3"), ensure_ascii=False), encoding="utf-8")
    ran = CliRunner().invoke(main, ["worker", "--once"], env=dict(env, LIANXIN_EXCHANGE_DIR=str(folder)))
    assert ran.exit_code == 0, ran.output
    round_ = json.loads(ran.output.strip().splitlines()[-1])
    # both registered matters' first status is queued; no upstream address yet: the reports wait in the outbox
    assert round_["jobs"]["exchange"] == {"registered": 1, "duplicates": 0, "rejected": 0, "reports_queued": 2}
    assert (folder / "done" / "next.json").exists()
