"""Every decision form shows, above its fields, the facts it decides on (the form's `x-facts`,
services/decision_facts.py): a walk along the main path (objection, co-units, extension, reply, sign-off, review,
re-review) and along an escalation to the county joint meeting, opening each decision form as its handler would and
reading what the page shows for each named fact. Runs on SQLite and PostgreSQL like the features."""
from __future__ import annotations

import html
import io
import json
import re
from datetime import timedelta
from pathlib import Path

from features.conftest import process_files
from features.steps_petition import _do, _register, find_task
from services.decision_facts import facts, problems

FORMS = Path(__file__).resolve().parents[1] / "processes" / "forms"


def _deploy(office):
    r = office.post("designer", "/api/process-definitions", data={"files": [f[1] for f in process_files()]},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()


def shown_facts(office, user, name, lang=None) -> dict[str, str]:
    """The decision facts the task page of `user`'s open task `name` shows: {data key: visible text}."""
    task = find_task(office, user, name)
    assert task is not None, f"{user} has no {name}"
    page = office.get(user, f"/tasks/{task['id']}" + (f"?lang={lang}" if lang else "")).get_data(as_text=True)
    assert 'id="decision-facts"' in page, f"{name}: no decision facts shown"
    card = page.split('id="decision-facts"', 1)[1].split("</dl>", 1)[0]
    # the facts stand above the form's fields
    assert page.index('id="decision-facts"') < page.index(f'action="/tasks/{task["id"]}"'), name
    return {m.group(1): html.unescape(re.sub(r"<[^>]+>", " ", m.group(2))).strip()
            for m in re.finditer(r'<dd data-fact="([^"]+)"[^>]*>(.*?)</dd>', card, re.S)}


def expect(office, user, name, wanted: dict[str, str]):
    """Each named fact is shown with (at least) the given words, and each key the page shows is in the form."""
    facts = shown_facts(office, user, name)
    for key, words in wanted.items():
        assert key in facts, f"{name}: {key} not shown ({sorted(facts)})"
        assert facts[key] and words in facts[key], f"{name}: {key} = {facts[key]!r}, wanted {words!r}"
    return facts


def test_every_decision_form_on_the_main_path_shows_its_facts(office):
    _deploy(office)
    _register(office, [], "来信", "劳动社保", "county_a")
    _do(office, "registrar", "分流研判", {"route": "交办转送", "co_units": ["county_a_housing"], "dispatch_type": "交办"})
    expect(office, "handler", "签收或提出异议", {"assignment.basis": "谁主管谁负责", "dispatch_type": "交办",
                                                 "assignment.co_units": "东城县住房和城乡建设局"})
    _do(office, "handler", "签收或提出异议", {"sign_decision": "异议", "objection_reason": "用人单位注册地和用工地均在西山县"})
    expect(office, "bureau", "审核异议", {"objection_reason": "用人单位注册地和用工地均在西山县",
                                          "assignment.unit_name": "东城县人力资源和社会保障局"})
    _do(office, "bureau", "审核异议", {"objection_upheld": False, "objection_note": "属本县管辖"})
    _do(office, "handler", "签收或提出异议", {"sign_decision": "签收"})
    expect(office, "handler", "作出受理决定", {"dispatch_type": "交办"})
    _do(office, "handler", "作出受理决定", {"accepted": True, "acceptance_note": "依法受理"})
    _do(office, "handler_housing", "报送协办意见", {"co_opinion": "同意按劳动保障监察程序处理", "co_contact": "李四"})
    _do(office, "handler", "办理并拟写答复意见", {"handle_action": "申请延期", "extension_days": 10,
                                               "extension_reason": "需协调社保、税务多个部门"})
    task = find_task(office, "leader", "审批延期申请")  # the extension's days and reason: its own card
    page = office.get("leader", f"/tasks/{task['id']}").get_data(as_text=True)
    assert 'id="extension-request"' in page and "需协调社保、税务多个部门" in page
    _do(office, "leader", "审批延期申请", {"extension_approved": True, "approved_days": 10})
    _do(office, "handler", "办理并拟写答复意见", {
        "handle_action": "答复", "outcome": "不予支持", "reply_text": "经查，企业已按劳动合同支付工资。\n不予支持。",
        "legal_basis": "《信访工作条例》第三十二条", "completion_report": "已办结", "completion_measures": "约谈企业",
        "completion_result": "已解释"})
    facts = expect(office, "bureau", "审核销号", {
        "outcome": "不予支持", "reply_text": "企业已按劳动合同支付工资", "legal_basis": "第三十二条",
        "reply_notice.text": "处理意见：不予支持", "reply_notice.service.served_on": "2026-03-02",
        "co_opinions": "东城县住房和城乡建设局：同意按劳动保障监察程序处理"})
    assert "county_a_housing" not in facts["co_opinions"]  # the unit by its name, not its code
    _do(office, "bureau", "审核销号", {"signoff_approved": True})
    expect(office, "registrar", "回访并记录满意度", {"outcome": "不予支持", "reply_text": "不予支持"})
    _do(office, "registrar", "回访并记录满意度", {"rating": "满意", "rating_channel": "电话回访"})
    office.c.clock.set(office.c.clock.now() + timedelta(days=3))
    r = office.post("bureau", f"/api/cases/{office.case_id}/messages/复查申请",
                    json={"payload": {"review_reason": "对处理意见不服"}})
    assert r.status_code == 200, r.get_json()
    expect(office, "review_a", "复查并出具复查意见", {
        "outcome": "不予支持", "reply_text": "企业已按劳动合同支付工资", "reply_notice.service.served_on": "2026-03-02",
        "review_org.requested_at": "2026-03-05 09:00"})
    _do(office, "review_a", "复查并出具复查意见", {"review_decision": "维持", "review_opinion": "原处理意见认定事实清楚"})
    r = office.post("bureau", f"/api/cases/{office.case_id}/messages/复核申请",
                    json={"payload": {"rereview_reason": "仍不服"}})
    assert r.status_code == 200, r.get_json()
    expect(office, "review_city", "复核并出具复核意见", {
        "review_outcome.decision": "维持", "review_outcome.opinion": "原处理意见认定事实清楚",
        "review_outcome.body": "东城县人民政府", "reply_text": "企业已按劳动合同支付工资",
        "rereview_org.requested_at": "2026-03-05"})


def test_the_escalation_and_the_joint_meetings_opinion_are_shown(office):
    _deploy(office)
    _register(office, [], "来信", "劳动社保", "county_a")
    _do(office, "registrar", "分流研判", {"route": "交办转送"})
    _do(office, "handler", "签收或提出异议", {"sign_decision": "签收"})
    _do(office, "handler", "作出受理决定", {"accepted": True, "acceptance_note": "依法受理"})
    _do(office, "handler", "办理并拟写答复意见", {"handle_action": "提请上交", "escalation_reason": "企业已停产，欠薪需县里统筹"})
    expect(office, "county", "报请县联席会议（1个工作日）", {"escalation_reason": "企业已停产，欠薪需县里统筹"})
    _do(office, "county", "报请县联席会议（1个工作日）", {"report_up_text": "企业停产，涉及职工30人，请县联席会议协调"})
    expect(office, "jm_a", "了解情况（3个工作日）", {"escalation_reason": "企业已停产"})
    _do(office, "jm_a", "了解情况（3个工作日）", {"situation": "欠薪约40万元"})
    _do(office, "jm_a", "专题会商（7个工作日）", {"consultation": "人社、财政会商，由县财政先行垫付",
                                                "listed_supervision": False})
    _do(office, "jm_a", "阶段性成效（10个工作日）", {"tier_outcome": "已化解", "tier_result_text": "县财政先行垫付，企业资产处置后归还"})
    expect(office, "handler", "按联席会议意见办理并答复", {
        "tier_result.text": "县财政先行垫付，企业资产处置后归还", "tier_outcome": "已化解",
        "consultation": "由县财政先行垫付"})


def test_a_viewer_who_may_not_see_personal_data_sees_it_masked():
    schema = {"x-facts": [{"key": "petitioner.phone", "title": "电话"}, {"key": "reply_text", "title": "答复内容"}]}
    data = {"petitioner": {"phone": "13800001234"}, "reply_text": "已电话联系 13800001234"}
    shown = {f.key: f.value for f in facts(schema, data, full=False)}
    assert "13800001234" not in json.dumps(shown, ensure_ascii=False) and shown["petitioner.phone"]
    full = {f.key: f.value for f in facts(schema, data, full=True)}
    assert full["petitioner.phone"] == "13800001234"


def test_every_fact_a_form_names_is_a_list_of_key_and_title():
    named = 0
    for path in FORMS.glob("*.schema.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert problems(schema) == [], path.name
        named += len(schema.get("x-facts") or [])
    assert named > 40
    assert problems({"x-facts": {"key": "a"}})  # not a list
    assert problems({"x-facts": [{"key": "a"}]})  # no title
    assert problems({"x-facts": [{"title": "甲", "key": "a..b"}]})  # not a path
    assert problems({"x-facts": [{"title": "甲", "key": "a", "colour": "red"}]})  # unknown setting


def test_deployment_refuses_a_malformed_x_facts(office):
    files = []
    for _, (stream, filename) in process_files():
        content = stream.read()
        if filename == "signoff.schema.json":
            schema = json.loads(content)
            schema["x-facts"] = [{"key": "reply_text"}, "outcome"]  # no title; not an object
            content = json.dumps(schema, ensure_ascii=False).encode("utf-8")
        files.append((io.BytesIO(content), filename))
    r = office.post("designer", "/api/process-definitions", data={"files": files}, content_type="multipart/form-data")
    assert r.status_code == 422, r.get_json()
    errors = [e for e in r.get_json()["errors"] if e["file"] == "signoff.schema.json"]
    assert any("title" in e["message"] and e["element_id"] == "x-facts[0]" for e in errors), errors
    assert any("必须是对象" in e["message"] and e["element_id"] == "x-facts[1]" for e in errors), errors
    assert office.get("designer", "/api/process-definitions").get_json()["definitions"] == []  # nothing deployed
