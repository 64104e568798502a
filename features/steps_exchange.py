"""Steps for upstream_exchange.feature: an office with the exchange's shared key configured, the upstream system's
signed push, and the cases it registered read back."""
from __future__ import annotations

import copy
import json

from pytest_bdd import parsers, then, when
from sqlalchemy import select

from engine.clock import SettableClock, parse_instant
from engine.store import Case, Outbox
from features.conftest import ROOT, Office
from features.steps_petition import _do
from infra.upstream import signed_headers
from services.exchange import EVENT_LABELS
from services.organisation import load_organisation
from tests.support.db import make_container
from web.exchange_setup import worker_jobs

KEY = "feature-exchange-key"
MATTER = {
    "format": "lianxin-exchange/1", "kind": "交办", "from_office": "省信访局", "sent_at": "2026-03-02T08:00:00+08:00",
    "matter": {"title": "拖欠工资", "request": "请求督促支付拖欠的工资", "category": "劳动社保", "location": "county_a",
               "petitioners": [{"name": "李四", "phone": "13900001111"}]},
}


def make_exchange_office(database_url, tmp_path) -> Office:
    clock = SettableClock(parse_instant("2026-03-02T09:00:00+08:00"))
    c = make_container(database_url, clock, tmp_path, exchange_key=KEY)
    with c.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    return Office(c)


def push(office, doc: dict, key: str = KEY):
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    office.last_response = office.app.test_client().post(
        "/api/exchange/inbound", data=body, headers=signed_headers(key, body, office.c.clock.now()),
        content_type="application/json")
    office.pushed = doc
    return office.last_response


def upstream_cases(office) -> list[dict]:
    with office.c.session_factory() as s:
        found = [office.c.runtime.case_data(s, case) | {"_id": case.id}
                 for case in s.scalars(select(Case).order_by(Case.id)).all()]
    return [d for d in found if d.get("channel") == "上级转交"]


def assigned(number: str, deadline: str = "2026-04-15", days: int = 30) -> dict:
    doc = copy.deepcopy(MATTER)
    doc.update(upstream_no=number, deadline=deadline, period_days=days)
    return doc


@when(parsers.parse('上级系统推送交办事项 "{number}"，办结期限 "{deadline}"，办理期限 {days:d} 日'))
def push_assigned(office, number, deadline, days):
    r = push(office, assigned(number, deadline, days))
    assert r.status_code == 201, r.get_json()
    office.first_answer = r.get_json()


@when("上级系统再次推送同一事项")
def push_again(office):
    push(office, office.pushed)


@when(parsers.parse('有人用错误的密钥推送交办事项 "{number}"'))
def push_wrong_key(office, number):
    push(office, assigned(number), key="not-the-shared-key")


@when("上级系统推送的事项没有写问题发生地")
def push_without_location(office):
    doc = assigned("SJ2026-000999")
    del doc["matter"]["location"]
    push(office, doc)


@then(parsers.parse('系统登记一件信访形式为 "{channel}" 的信访事项，上级编号是 "{number}"，上级办结期限是 "{deadline}"'))
def registered_from_upstream(office, channel, number, deadline):
    [case] = upstream_cases(office)
    assert case["channel"] == channel and case["upstream_case_no"] == number
    assert case["upstream"]["deadline"] == deadline and case["case_no"] == office.first_answer["case_no"]


@then(parsers.parse("分流研判预填为交办，办理期限 {days:d} 日"))
def triage_defaults(office, days):
    [case] = upstream_cases(office)
    assert case["dispatch_type"] == "交办" and case["period_days"] == days


@then("回答的是同一件信访事项，仍然只有一件上级转交的事项")
def same_case(office):
    r = office.last_response
    assert r.status_code == 200 and r.get_json()["duplicate"] is True
    assert r.get_json()["case_no"] == office.first_answer["case_no"]
    assert len(upstream_cases(office)) == 1


@then("推送被拒绝，没有登记任何上级转交的事项")
def refused_nothing_stored(office):
    assert office.last_response.status_code == 401
    assert upstream_cases(office) == []


@then(parsers.parse('推送被拒绝，回答列出问题 "{path}"'))
def refused_with_problems(office, path):
    r = office.last_response
    assert r.status_code == 422
    assert path in {p["path"] for p in r.get_json()["error"]["details"]["problems"]}


@then("没有登记任何上级转交的事项")
def nothing_stored(office):
    assert upstream_cases(office) == []


@when(parsers.parse('上级系统推送转送事项 "{number}"'))
def push_transferred(office, number):
    doc = copy.deepcopy(MATTER)
    doc.update(upstream_no=number, kind="转送")
    r = push(office, doc)
    assert r.status_code == 201, r.get_json()
    office.first_answer = r.get_json()
    office.case_id = office.first_answer["case_id"]


@when("工作进程运行一轮")
def worker_round(office):
    for _name, job in worker_jobs(office.c):
        job()


@when("登记员分流研判、责任单位签收、受理并办理，市信访局审核销号")
def handle_the_matter(office):
    _do(office, "registrar", "分流研判", {"route": "交办转送"})
    _do(office, "handler", "签收或提出异议", {"sign_decision": "签收"})
    _do(office, "handler", "作出受理决定", {"accepted": True})
    _do(office, "handler", "办理并拟写答复意见", {"handle_action": "答复", "outcome": "支持", "reply_text": "已督促支付"})
    _do(office, "bureau", "审核销号", {"signoff_approved": True})


def reports(office) -> list[dict]:
    with office.c.session_factory() as s:
        rows = s.scalars(select(Outbox).where(Outbox.channel == "upstream").order_by(Outbox.id)).all()
        return [json.loads(r.payload) for r in rows]


@then(parsers.parse('发给上级系统的上报依次是 "{labels}"'))
def reports_in_order(office, labels):
    found = [EVENT_LABELS[r["event"]] for r in reports(office)]
    assert found == labels.split(" → "), found


@then(parsers.parse('每项上报都写明上级编号 "{number}" 和本机关的信访事项编号'))
def reports_name_both_numbers(office, number):
    found = reports(office)
    assert found and all(r["upstream_no"] == number and r["case_no"] == office.first_answer["case_no"] for r in found)
