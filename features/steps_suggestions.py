"""Steps for suggestions.feature (人民建议征集): a suggestion registered through `POST /api/cases` with the nature
建议意见, its tasks done through the task API, the proposer's notices read from the journal and the outbox, the
figures from `GET /api/stats`, and the requests for review refused through the case's message API."""
from __future__ import annotations

import json

import pytest
from pytest_bdd import parsers, then, when
from sqlalchemy import func, select

from engine.store import Case, Outbox
from features.conftest import find_task

PROPOSER = {"name": "周某某", "id_number": "410121198502061234", "phone": "13900001234", "address": "某小区"}


@pytest.fixture
def answer():
    return {}


def _suggestion(channel: str, title: str, category: str, location: str) -> dict:
    return {"channel": channel, "title": title, "category": category, "location": location, "nature": "建议意见",
            "request": title, "facts": "建议的理由和依据见来件", "petitioners": [dict(PROPOSER)]}


def _history(office):
    return office.get("auditor", f"/api/cases/{office.case_id}/history").get_json()["events"]


def _notices(office, template: str) -> list[dict]:
    return [e["data"]["result"] for e in _history(office) if e["type"] == "service.called"
            and isinstance(e["data"].get("result"), dict) and e["data"]["result"].get("template") == template
            and {"party": "petitioner"} in e["data"]["result"].get("to", [])]


def _figures(office) -> dict:
    r = office.get("bureau", "/api/stats?period=2026-03")
    assert r.status_code == 200, r.get_json()
    return {k["key"]: k for k in r.get_json()["kpis"]}


@when(parsers.parse('登记员从 "{channel}" 登记一件人民建议 "{title}"，内容分类 "{category}"，问题发生地 "{location}"'))
def register_suggestion(office, channel, title, category, location):
    body = _suggestion(channel, title, category, location)
    check = office.post("registrar", "/api/cases", json=dict(body, dry_run=True))
    assert check.status_code == 200 and check.get_json()["repeats"] == [], check.get_json()  # never merged: no search
    r = office.post("registrar", "/api/cases", json=body)
    assert r.status_code == 201, r.get_json()
    office.case_id = r.get_json()["id"]


@then(parsers.parse('这件事项走人民建议征集流程，编号以 "{prefix}" 开头'))
def runs_the_suggestion_process(office, prefix):
    case = office.get("auditor", f"/api/cases/{office.case_id}").get_json()
    assert case["process_key"] == "suggestion", case["process_key"]
    assert (case["data"].get("case_no") or "").startswith(prefix)
    assert not [t for t in case["tasks"] if t["name"] == "分流研判"]  # never the petition process's triage
    assert "handle_days" in case["data"]["limits"]  # the table is read, yet no 60-day clock runs on a suggestion
    assert all(t["name"] != "办理并拟写答复意见" for t in case["tasks"])
    page = office.get("bureau", f"/cases/{office.case_id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "人民建议征集" in text and "assess_unit" not in text and "suggestion_assess" not in text


@then(parsers.parse('建议人收到 "{template}"'))
def proposer_told(office, template):
    assert _notices(office, template), [e["type"] for e in _history(office)]


@then(parsers.parse('建议人收到 "{template}"，内容提到 "{first}" 和 "{second}"'))
def proposer_told_what(office, template, first, second):
    [notice] = _notices(office, template)
    assert first in notice["text"] and second in notice["text"], notice["text"]


@then("建议人的短信告知已进入发送队列")
def proposer_sms_queued(office):
    with office.c.session_factory() as s:
        rows = s.scalars(select(Outbox).where(Outbox.case_id == office.case_id,
                                              Outbox.template == "suggestion_result")).all()
        assert len(rows) == 1 and rows[0].channel == "sms", rows
        data = json.loads(rows[0].payload)
    templates = office.c.extras["notification_templates"]
    text = templates.render("suggestion_result", templates.latest("suggestion_result"), data).body
    assert "决定采纳" in text and "{" not in text, text


@then(parsers.parse("本月统计中收到人民建议 {received:d} 件，办结 {concluded:d} 件，采纳 {adopted:d} 件，奖励 {rewarded:d} 件"))
def suggestion_figures(office, received, concluded, adopted, rewarded):
    k = _figures(office)
    assert k["suggestions.received"]["numerator"] == received
    assert k["suggestions.concluded"]["numerator"] == concluded
    assert k["suggestions.adopted"]["numerator"] == adopted
    assert k["suggestions.adopted"]["denominator"] == concluded
    assert k["suggestions.rewarded"]["numerator"] == rewarded
    assert k["suggestions.received"]["case_ids"] == [office.case_id]


@then(parsers.parse("本月统计的信访事项受理数是 {count:d}，人民建议不在其中"))
def not_a_petition_in_the_figures(office, count):
    k = _figures(office)
    assert k["received"]["numerator"] == count
    for key in ("received", "registered", "first_time_resolution", "repeat_rate", "participation_rate"):
        assert office.case_id not in k[key]["case_ids"] + k[key]["denominator_case_ids"], key
    r = office.get("bureau", "/api/stats/cases?period=2026-03&kpi=suggestions.rewarded")
    assert [c["id"] for c in r.get_json()["cases"]] == [office.case_id]


@when(parsers.parse('信访人请求{kind}，由 "{user}" 登记'))
def request_review(office, answer, kind, user):
    answer["response"] = office.post(user, f"/api/cases/{office.case_id}/messages/{kind}申请",
                                     json={"payload": {"review_reason": "对结论不服"}})


@then(parsers.parse('请求被拒绝，理由提到 "{words}"'))
def request_refused(office, answer, words):
    r = answer["response"]
    assert r.status_code == 409, r.get_json()
    assert words in r.get_json()["error"]["message"], r.get_json()
    events = _history(office)
    assert not [e for e in events if e["type"] in ("message.queued", "message.delivered")]


@when(parsers.parse('"{user}" 提交 "{name}"，填写 {data}'))
def submit(office, answer, user, name, data):
    task = find_task(office, user, name)
    assert task is not None, f"{user} has no {name}"
    answer["response"] = office.post(user, f"/api/tasks/{task['id']}/complete", json={"data": json.loads(data)})


@then(parsers.parse('提交被拒绝，表单指出 "{field}"'))
def submission_refused(office, answer, field):
    r = answer["response"]
    assert r.status_code == 422, r.get_json()
    assert field in json.dumps(r.get_json()["error"], ensure_ascii=False), r.get_json()
    case = office.get("auditor", f"/api/cases/{office.case_id}").get_json()
    assert not case["incidents"] and case["status"] != "completed"


@then(parsers.parse('"{user}" 的待办中没有 "{name}"'))
def has_no_task(office, user, name):
    assert find_task(office, user, name) is None


@when("登记员登记一件人民建议并要求并入原件")
def register_suggestion_merged(office, answer):
    original = office.post("registrar", "/api/cases", json=dict(_suggestion("来信", "拖欠工资", "劳动社保", "county_a"),
                                                                 nature="申诉求决"))
    assert original.status_code == 201, original.get_json()
    body = dict(_suggestion("来信", "建议完善欠薪保障金", "劳动社保", "county_a"), merge_into=original.get_json()["id"])
    answer["before"] = _count_cases(office)
    answer["response"] = office.post("registrar", "/api/cases", json=body)


def _count_cases(office) -> int:
    with office.c.session_factory() as s:
        return s.scalar(select(func.count(Case.id)))


@then(parsers.parse('登记被拒绝，理由提到 "{words}"'))
def registration_refused(office, answer, words):
    r = answer["response"]
    assert r.status_code == 422, r.get_json()
    assert words in r.get_json()["error"]["message"], r.get_json()
    assert _count_cases(office) == answer["before"]
