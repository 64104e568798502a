"""Demo petition cases in several states, made through the runtime like real work (no hand-written rows).

`load_petition_cases(runtime)` is meant for `lianxin init --demo` (web/demo.py): it starts `petition_case`
cases and completes their work items as the demo users would, leaving one case at each interesting point of the
procedure. Petitioners are fictitious.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import parties

BASE = {"request": "要求依法处理", "facts": "（演示数据）", "registering_unit": "city_bureau"}


@dataclass
class DemoCase:
    title: str
    channel: str
    category: str
    location: str
    steps: list[tuple[str, str, dict]] = field(default_factory=list)  # (user, task name, form data)
    messages: list[tuple[str, dict]] = field(default_factory=list)  # delivered after the steps
    extra: dict = field(default_factory=dict)
    state: str = ""


SIGN = ("handler", "签收或提出异议", {"sign_decision": "签收"})
ACCEPT = ("handler", "作出受理决定", {"accepted": True, "acceptance_note": "由本局直接办理"})
TRIAGE = ("registrar", "分流研判", {"route": "交办转送"})
REPLY = ("handler", "办理并拟写答复意见", {"handle_action": "答复", "outcome": "解释说明",
                                         "reply_text": "经核查，已向信访人解释相关政策。"})

DEMO_PETITIONS = [
    DemoCase("反映小区供暖不达标", "网上", "城乡建设", "county_a", state="待分流研判"),
    DemoCase("企业拖欠农民工工资", "来信", "劳动社保", "county_a", [TRIAGE], state="待签收"),
    DemoCase("养老保险待遇核定有误", "来访", "劳动社保", "county_a", [TRIAGE, SIGN, ACCEPT], state="办理中（60日）"),
    DemoCase("拆迁安置房迟迟未交付", "领导接访", "住房保障", "county_a",
             [TRIAGE, ("handler_housing", "签收或提出异议", {"sign_decision": "签收"}),
              ("county", "确定包案领导和化解专班（1个工作日）",
               {"owner_leader": "赵副县长", "task_force": ["county_a_housing", "county_a_office"]})],
             extra={"is_group_or_policy": True}, state="13710 包案中，待向市信访局反馈"),
    DemoCase("工伤认定久拖不决", "来电", "劳动社保", "county_a", [TRIAGE, SIGN, ACCEPT, REPLY],
             state="已答复，待审核销号"),
    DemoCase("对社保缴费基数有疑问", "来访", "劳动社保", "county_a",
             [("registrar", "分流研判", {"route": "当场化解", "onspot_result": "当场解释缴费基数政策"})],
             state="当场办结"),
    DemoCase("不服劳动争议判决", "来访", "劳动社保", "county_b",
             [("registrar", "分流研判", {"route": "诉访分离", "triage_note": "已进入诉讼程序"})],
             state="诉访分离"),
    DemoCase("医保报销比例争议", "来信", "劳动社保", "county_a",
             [TRIAGE, SIGN, ACCEPT, REPLY, ("bureau", "审核销号", {"signoff_approved": True}),
              ("registrar", "回访并记录满意度", {"rating": "不满意", "rating_channel": "电话回访"})],
             messages=[("复查申请", {"review_reason": "对处理意见不服"})], state="复查中"),
    DemoCase("工地欠薪涉及建设和人社两个部门", "来访", "劳动社保", "county_a",
             [("registrar", "分流研判", {"route": "交办转送", "co_units": ["county_a_housing"]}), SIGN, ACCEPT],
             state="人社局主办、住建局协办，办理中"),
    DemoCase("破产企业职工安置", "来信", "劳动社保", "county_a",
             [TRIAGE, SIGN, ACCEPT,
              ("handler", "办理并拟写答复意见", {"handle_action": "提请上交",
                                                 "escalation_reason": "企业已破产，县人社局无力解决"}),
              ("county", "报请县联席会议（1个工作日）", {"report_up_text": "涉及职工80人，请县联席会议协调"})],
             state="已上交县联席会议，待了解情况"),
]


def load_petition_cases(runtime, cases: list[DemoCase] | None = None, vault=None) -> list[str]:
    """Start each demo case and drive it to its state. Returns one line per case for the init report."""
    lines = []
    vault = vault or parties.vault_of(runtime)  # the demo petitioner goes to the party table, as any other
    for demo in cases or DEMO_PETITIONS:
        data = dict(BASE, title=demo.title, channel=demo.channel, category=demo.category, location=demo.location,
                    petitioner={"name": "演示信访人"}, **demo.extra)
        view = (parties.start_case(runtime, vault, "petition_case", data, "registrar", runtime.clock.now())
                if vault is not None else runtime.start("petition_case", data, actor="registrar"))
        for user, name, form in demo.steps:
            task = next((t for t in view.tasks if t.name == name), None)
            if task is None:
                raise RuntimeError(f"演示案件“{demo.title}”没有待办“{name}”（demo case cannot reach {name}）")
            view = runtime.complete(task.id, form, actor=user)
        for name, payload in demo.messages:
            view = runtime.deliver_message(view.id, name, payload, actor="bureau")
        lines.append(f"演示信访件 {view.data.get('case_no', view.id)}：{demo.title}（{demo.state}）")
    return lines
