"""Every KPI on a constructed set of cases with answers worked out by hand.

The cases are made through the runtime, as the offices would, with the clock moved to each step's instant
(no hand-written rows). Statistical month P = 2026-03 (calendar month) unless said otherwise.

| case | channel | what happens | counts for (March) |
|---|---|---|---|
| A | 来信 | registered and accepted 01-05 (60-day limit ends 03-06); reply and sign-off 03-02; 满意 03-03; review requested 03-10, decided 04-15 (due 04-09: late) | closed on time, reply on time, rated, participation; review late (April) |
| B | 来电 | accepted 01-05; first reply 03-05, returned for redo, replied again and signed off 03-09 (after 03-06); 基本满意 03-10; review requested 03-12 (due 04-13), decided 03-20 | closed late, first reply on time, overdue |
| C | 网上 | accepted 01-05; nothing more | due in March, not closed, no reply, overdue |
| J | 来信 | county_b, a suggestion (建议意见); accepted 01-05; reply and sign-off 03-03; rating 未评价 | closed on time, reply on time, not rated |
| D | 短信 | registered 03-02, acceptance due 03-17, accepted 03-16 | received, registered, timely acceptance |
| E | 短信 | county_b; registered 03-02, accepted 03-20 (due 03-17) | received, registered, late acceptance, overdue |
| F | 来访 | 03-02, resolved on the spot | received only |
| G | 来信 | 03-03, merged as a repeat of D | received, repeat |
| H | 领导接访 | 03-02; T1 03-02 (due 03-03), T2 03-06 (due 03-05: late), T3 resolved 03-09 (due 03-11) | 13710 |
| I | 领导接访 | 03-02; T1–T3 and the county tier (E1–E4) all 03-02; city tier E2 due 03-05 left open | 13710, escalations county 1, city 1 |
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from engine.clock import SHANGHAI
from engine.definitions import collect_files
from services.organisation import load_organisation

ROOT = Path(__file__).resolve().parents[2]
PETITIONER = {"name": "测试信访人", "phone": "13800001111"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


class Builder:
    """Drives petition cases through the runtime with the clock moved to each step."""

    def __init__(self, c):
        self.c, self.rt, self.ids, self.case_nos = c, c.runtime, {}, {}

    def when(self, text: str):
        self.c.clock.set(at(text))
        return self

    def register(self, name, channel, location="county_a", category="劳动社保", **extra):
        data = {"channel": channel, "title": f"测试事项{name}", "request": "要求依法处理", "facts": "测试",
                "category": category, "location": location, "petitioner": dict(PETITIONER),
                "registering_unit": "city_bureau", **extra}
        view = self.rt.start("petition_case", data, actor="registrar")
        self.ids[name], self.case_nos[name] = view.id, view.data["case_no"]
        return self

    def do(self, name, task, data, user="tester"):
        view = self.rt.get_case(self.ids[name])
        found = [t for t in view.tasks if t.name == task]
        assert found, f"{name} has no {task}: {[t.name for t in view.tasks]}"
        view = self.rt.complete(found[0].id, data, actor=user)
        assert not view.incidents, view.incidents
        return self

    def message(self, name, message, payload):
        self.rt.deliver_message(self.ids[name], message, payload, actor="bureau")
        return self

    # ---- the usual steps
    def dispatch(self, name):
        return self.do(name, "分流研判", {"route": "交办转送"})

    def sign(self, name):
        return self.do(name, "签收或提出异议", {"sign_decision": "签收"})

    def accept(self, name):
        return self.do(name, "作出受理决定", {"accepted": True, "acceptance_note": "依法受理"})

    def reply(self, name, text="已答复"):
        return self.do(name, "办理并拟写答复意见", {"handle_action": "答复", "outcome": "支持", "reply_text": text})

    def signoff(self, name, approved=True):
        data = {"signoff_approved": approved} if approved else {"signoff_approved": False,
                                                               "signoff_opinion": "材料不全，退回重办"}
        return self.do(name, "审核销号", data)

    def rate(self, name, rating):
        return self.do(name, "回访并记录满意度", {"rating": rating, "rating_channel": "电话回访"})


def prepare(c) -> Builder:
    with c.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    c.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    return Builder(c)


def build_scenario(c, freeze=None) -> Builder:
    """The cases of the table above. `freeze(builder)` is called at 2026-03-16 08:00, between the steps."""
    b = prepare(c)
    b.when("2026-01-05T09:00:00")
    for name, channel, location, nature in (("A", "来信", "county_a", "申诉求决"), ("B", "来电", "county_a", "申诉求决"),
                                            ("C", "网上", "county_a", "申诉求决"), ("J", "来信", "county_b", "建议意见")):
        b.register(name, channel, location, nature=nature).dispatch(name).sign(name).accept(name)
    b.when("2026-03-02T09:00:00")
    b.reply("A").signoff("A")
    b.register("D", "短信").dispatch("D").sign("D")
    b.register("E", "短信", "county_b").dispatch("E")
    b.register("F", "来访").do("F", "分流研判", {"route": "当场化解", "onspot_result": "当场解释政策"})
    for name in ("H", "I"):
        b.register(name, "领导接访").dispatch(name).sign(name).accept(name)
        b.do(name, "确定包案领导和化解专班（1个工作日）", {"owner_leader": "赵副县长", "task_force": ["county_a_hrss"]})
    b.do("I", "向市信访局反馈（3个工作日）", {"report_text": "已成立专班"})
    b.do("I", "提出初步化解意见（7个工作日）", {"track_resolved": False, "opinion": "县级无力解决"})
    b.do("I", "逐级上报县联席会议（1个工作日）", {"report_up_text": "请求县联席会议协调"})
    b.do("I", "了解情况（3个工作日）", {"situation": "已了解"})
    b.do("I", "专题会商（7个工作日）", {"consultation": "会商", "listed_supervision": False})
    b.do("I", "阶段性成效（10个工作日）", {"tier_outcome": "上交", "tier_result_text": "需市级协调"})
    b.do("I", "向上一级联席会议上报（1个工作日）", {"report_up_text": "请求市联席会议协调"})
    b.when("2026-03-03T10:00:00")
    b.sign("E").reply("J").signoff("J")
    b.register("G", "来信").do("G", "分流研判", {"route": "重复信访", "original_case_no": b.case_nos["D"],
                                               "original_unit": "county_a_hrss"})
    b.when("2026-03-03T11:00:00").rate("A", "满意")
    b.when("2026-03-04T09:00:00").rate("J", "未评价")
    b.when("2026-03-05T09:00:00").reply("B", "初次答复").signoff("B", approved=False)
    b.when("2026-03-06T09:00:00").do("H", "向市信访局反馈（3个工作日）", {"report_text": "已成立专班"})
    b.when("2026-03-09T09:00:00").reply("B", "补充材料后答复").signoff("B")
    b.do("H", "提出初步化解意见（7个工作日）", {"track_resolved": True, "opinion": "已化解"})
    b.when("2026-03-10T09:00:00").rate("B", "基本满意").message("A", "复查申请", {"review_reason": "不服"})
    b.when("2026-03-12T09:00:00").message("B", "复查申请", {"review_reason": "不服"})
    if freeze is not None:
        freeze(b.when("2026-03-16T08:00:00"))
    b.when("2026-03-16T09:00:00").accept("D")
    b.when("2026-03-20T09:00:00").accept("E")
    b.do("B", "复查并出具复查意见", {"review_decision": "维持", "review_opinion": "维持"})
    b.when("2026-04-15T09:00:00").do("A", "复查并出具复查意见", {"review_decision": "维持", "review_opinion": "维持"})
    b.when("2026-04-25T09:00:00")
    return b


def kpis_of(c, period="2026-03", unit=None, **overrides):
    from services.stats_requests import compute_report

    return {k["key"]: k for k in compute_report(c, period=period, unit=unit, settings_overrides=overrides)["kpis"]}


@pytest.fixture
def scenario(container):
    return build_scenario(container)


def ids(b, *names):
    return sorted(b.ids[n] for n in names)


def test_every_kpi_of_march(container, scenario):
    b, k = scenario, kpis_of(container)

    def check(key, numerator, denominator, case_names, value):
        assert (k[key]["numerator"], k[key]["denominator"]) == (numerator, denominator), (key, k[key])
        assert k[key]["case_ids"] == ids(b, *case_names), key
        assert k[key]["value"] == value, key
        assert k[key]["definition"], key

    check("received", 6, None, "DEFGHI", 6.0)
    check("received.短信", 2, None, "DE", 2.0)
    check("received.领导接访", 2, None, "HI", 2.0)
    check("received.来访", 1, None, "F", 1.0)
    check("received.来信", 1, None, "G", 1.0)
    check("received.网上", 0, None, "", 0.0)
    check("registered", 4, None, "DEHI", 4.0)
    check("timely_acceptance", 3, 4, "DHI", 75.0)  # E decided 03-20, due 03-17
    check("on_time_completion", 2, None, "AJ", 2.0)
    check("on_time_completion_rate", 2, 4, "AJ", 50.0)  # A, J on time; B closed 03-09; C still open
    check("on_time_reply_rate", 3, 4, "ABJ", 75.0)  # B's first reply (03-05) was on time: it keeps it
    check("satisfied", 2, None, "AB", 2.0)
    check("satisfaction_rate", 2, 2, "AB", 100.0)  # 未评价 is not a rating
    check("participation_rate", 2, 3, "AB", 66.67)  # A, B, J closed in March; J not rated
    check("overdue", 3, None, "BCE", 3.0)
    check("repeat_rate", 1, 6, "G", 16.67)
    assert k["on_time_completion_rate"]["denominator_case_ids"] == ids(b, "A", "B", "C", "J")
    # 13710: deadlines met ÷ deadlines due (I's city-tier E2, due 03-05, is still open)
    check("milestone.T1", 2, 2, "HI", 100.0)
    check("milestone.T2", 1, 2, "I", 50.0)
    check("milestone.T3", 2, 2, "HI", 100.0)
    check("milestone.T4", 0, 0, "", None)
    check("milestone.E1", 2, 2, "I", 100.0)
    check("milestone.E2", 1, 2, "I", 50.0)
    check("milestone.E3", 1, 1, "I", 100.0)
    check("milestone.E4", 1, 1, "I", 100.0)
    check("escalations.county", 1, None, "I", 1.0)
    check("escalations.city", 1, None, "I", 1.0)
    check("escalations.province", 0, None, "", 0.0)


def test_settings_change_the_figures(container, scenario):
    b = scenario
    strict = kpis_of(container, basically_satisfied_counts=False)
    assert (strict["satisfied"]["numerator"], strict["satisfaction_rate"]["denominator"]) == (1, 2)
    assert strict["satisfaction_rate"]["value"] == 50.0 and strict["satisfied"]["case_ids"] == ids(b, "A")
    by_registered = kpis_of(container, rate_denominator="registered")
    rate = by_registered["on_time_completion_rate"]
    assert (rate["numerator"], rate["denominator"]) == (0, 4)  # D, E, H, I are still in handling
    assert rate["denominator_case_ids"] == ids(b, "D", "E", "H", "I")
    # 21st-to-20th months: "2026-03" is 02-21 … 03-20, so E's late acceptance decision (due 03-17) still counts,
    # but nothing registered after 03-20 would
    shifted = kpis_of(container, month_start_day=21)
    assert shifted["received"]["numerator"] == 6
    assert (shifted["timely_acceptance"]["numerator"], shifted["timely_acceptance"]["denominator"]) == (3, 4)


def test_reopened_by_review_keeps_its_first_result(container, scenario):
    b = scenario
    march, april = kpis_of(container, "2026-03"), kpis_of(container, "2026-04")
    # A was closed on time and then reviewed late; B was closed late and then reviewed on time
    assert b.ids["A"] in march["on_time_completion"]["case_ids"]
    assert b.ids["B"] not in march["on_time_completion"]["case_ids"]
    # the review clocks are counted on their own: due 04-09 (A, decided 04-15) and 04-13 (B, decided 03-20)
    review = april["review_on_time"]
    assert (review["numerator"], review["denominator"]) == (1, 2) and review["case_ids"] == ids(b, "B")
    assert april["overdue"]["case_ids"] == ids(b, "A", "C")  # A's review was overdue in April, C still is
    # nothing of A or B is counted again in April
    assert april["on_time_completion_rate"]["denominator"] == 0
    assert april["participation_rate"]["denominator"] == 0


def test_unit_scope_includes_subunits(container, scenario):
    b = scenario
    west = kpis_of(container, unit="county_b")
    assert west["received"]["case_ids"] == ids(b, "E")
    assert west["timely_acceptance"]["case_ids"] == [] and west["timely_acceptance"]["denominator"] == 1
    assert west["on_time_completion"]["case_ids"] == ids(b, "J")
    east = kpis_of(container, unit="county_a")
    assert east["received"]["numerator"] == 5
    assert east["registered"]["case_ids"] == ids(b, "D", "H", "I")


def test_a_case_never_signed_still_owes_its_acceptance_decision(container):
    """Dispatched 03-02 and left unsigned: it has no acceptance task, but its 15-day limit (03-17) runs."""
    b = prepare(container).when("2026-03-02T09:00:00")
    b.register("K", "来信").dispatch("K")
    b.when("2026-03-10T09:00:00")
    early = kpis_of(container)["timely_acceptance"]
    assert (early["numerator"], early["denominator"]) == (0, 0)  # not yet due
    b.when("2026-03-25T09:00:00")
    late = kpis_of(container)
    assert (late["timely_acceptance"]["numerator"], late["timely_acceptance"]["denominator"]) == (0, 1)
    assert late["timely_acceptance"]["denominator_case_ids"] == ids(b, "K")
    assert late["overdue"]["case_ids"] == ids(b, "K")  # its 5-working-day signing limit (03-09) has passed
