"""Notices (通知、告知书) through a notifier port.

A notice names its recipient as an office and role (`{"unit": "county_a_hrss", "role": "unit_handler"}`) or as
`{"party": "petitioner"}`; the notice itself never carries a phone number or ID number. Every notice is returned
in the handler's result (the case journal records it) and handed to `ctx.ports["notifier"]` when the composition
root provides one.

The petitioner's SMS copy of a notice that the outbox catalogue (`processes/templates/*.yaml`) knows is also asked
for as a `notify` effect (`ctx.emit`), written to the outbox in the step's transaction and delivered by the
worker once an SMS gateway is configured: `OUTBOX_COPIES` maps a notice here to the catalogue's template and its
fields. Only when the case data holds the petitioner's phone; the phone goes to the outbox row, not the notice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.calendar.display import due_day
from engine.handlers import HandlerContext

from . import masking

PETITIONER = {"party": "petitioner"}

# Templates: the office's wording, filled from the fields given. Unknown fields stay visible as {name}.
TEMPLATES: dict[str, str] = {
    # the query code is told once, on the registration receipt (desk) or the SMS receipt; never kept in a notice
    "登记回执": "您的信访事项已登记，编号 {case_no}。可凭编号和登记回执上的查询码查询办理进度。",
    "去向告知": "您的信访事项（编号 {case_no}）已{dispatch_type}至{unit_name}办理。",
    "交办通知": "信访事项 {case_no} 已{dispatch_type}你单位，请于5个工作日内签收或提出异议，15日内告知受理情况。",
    "协办通知": "信访事项 {case_no} 由{unit_name}主办，请{co_unit_name}作为协办单位配合办理，并将协办意见报送主办单位。",
    "异议不成立": "信访事项 {case_no} 的异议经审核不成立，请你单位签收办理。",
    "诉访分离": "您反映的事项（编号 {case_no}）属于诉讼、仲裁等法定途径解决的事项，已引导至{unit_name}依法处理。",
    "移送纪检监察": "信访事项 {case_no} 为检举控告类事项，已移送{unit_name}。材料严格保密，不得透露给被检举控告人。",
    "并入原件": "您反映的事项与信访事项 {original_case_no} 相同，已并入原件办理，请关注原件办理进度。",
    "重复信访": "同一事项再次来信来访（{case_no}），已并入原件 {original_case_no}，请原承办单位一并答复。",
    "当场办结": "您的信访事项（编号 {case_no}）已当场解释答复办结。",
    "受理告知": "您的信访事项（编号 {case_no}）已由{unit_name}受理，将在60日内办结。",
    "不予受理告知": "您的信访事项（编号 {case_no}）不予受理。理由：{reason}。",
    "延期告知": "您的信访事项（编号 {case_no}）经批准延期{days}日办理，理由：{reason}。",
    "答复意见书": "您的信访事项（编号 {case_no}）处理意见：{outcome}。如不服，可自收到本意见之日起30日内请求复查。",
    "复查意见书": "您的复查请求（编号 {case_no}）复查意见：{decision}。如不服，可自收到之日起30日内请求复核。",
    "复核意见书": "您的复核请求（编号 {case_no}）复核意见：{decision}。对同一事实和理由不再受理。",
    "催办": "【催办】信访事项 {case_no} 的“{task}”即将到期（剩余不超过{lead}日），请抓紧办理。",
    "督办": "【督办】信访事项 {case_no} 的“{task}”已超过期限，请单位负责人督促立即办理，并书面反馈。",
    "挂牌督办": "【挂牌督办】信访事项 {case_no} 由{by}挂牌督办，请单位主要负责人亲自推动化解。",
    "包案通知": "信访事项 {case_no} 由{leader}包案，化解专班：{task_force}。",
    "13710反馈": "信访事项 {case_no} 13710办理情况反馈：{text}",
    "上交通知": "信访事项 {case_no} 已上交{level_name}信访工作联席会议，请于3个工作日内了解情况。",
    "化解结果通报": "信访事项 {case_no} 经{level_name}联席会议协调已化解：{text}",
    "联席会议决定": "{level_name}信访工作联席会议对信访事项 {case_no} 作出决定：{text}。请逐级抓好落实。",
}


class _Missing(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def render(template: str, fields: dict[str, Any]) -> str:
    text = TEMPLATES.get(template)
    if text is None:
        raise LookupError(f"没有通知模板“{template}”（unknown notice template; known: {', '.join(TEMPLATES)}）")
    return text.format_map(_Missing({k: "" if v is None else v for k, v in fields.items()}))


class Notifier(Protocol):
    def send(self, notice: dict) -> dict:
        """Deliver or queue one notice; returns a delivery record (channel, status, reference)."""


@dataclass
class OutboxNotifier:
    """The fake adapter: keeps what was sent, for tests and for a demo without channels."""
    sent: list[dict] = field(default_factory=list)

    def send(self, notice: dict) -> dict:
        self.sent.append(notice)
        return {"channel": "outbox", "status": "queued", "ref": len(self.sent)}


def _day(ctx: HandlerContext) -> str:
    from engine.clock import SHANGHAI

    return ctx.now.astimezone(SHANGHAI).date().isoformat()


# notice here -> (outbox catalogue template, its fields from this notice's fields and the handler context)
OUTBOX_COPIES: dict[str, tuple[str, Any]] = {
    "去向告知": ("transfer_notice", lambda f, ctx: {
        "case_no": f["case_no"], "transferred_on": _day(ctx), "action": f.get("dispatch_type") or "转送",
        "to_unit": f.get("unit_name", "")}),
    "不予受理告知": ("non_acceptance_notice", lambda f, ctx: {
        "case_no": f["case_no"], "reason": f.get("reason") or "", "proper_channel": f.get("proper_channel") or ""}),
    "答复意见书": ("reply_served", lambda f, ctx: {
        "case_no": f["case_no"], "unit": f.get("unit_name", ""), "served_on": _day(ctx),
        "method": f.get("method") or "直接送达", "review_organ": f.get("review_organ") or "上一级行政机关"}),
}


def send(ctx: HandlerContext, to: list[dict], template: str, fields: dict[str, Any]) -> dict:
    """Build one notice, hand it to the notifier port if there is one, and return its record. A notice that goes
    to an office (not only to the petitioner) carries petitioners' personal data masked (services/masking.py)."""
    for_petitioner_only = bool(to) and all(r == PETITIONER for r in to)
    shown = fields if for_petitioner_only else masking.mask_personal_data(fields)
    notice = {"to": to, "template": template, "text": render(template, shown), "at": ctx.now.isoformat(),
              "case_id": ctx.case_id, "element_id": ctx.element_id}
    notifier = (ctx.ports or {}).get("notifier")
    notice["delivery"] = notifier.send(dict(notice)) if notifier is not None else {"channel": "journal",
                                                                                   "status": "recorded"}
    phone = ((ctx.data or {}).get("petitioner") or {}).get("phone")
    if PETITIONER in to and phone and template in OUTBOX_COPIES:
        outbox_template, build = OUTBOX_COPIES[template]
        ctx.emit("notify", channel="sms", recipient=str(phone), template=outbox_template,
                 data=build(dict(fields, case_no=fields.get("case_no") or ctx.data.get("case_no", "")), ctx))
        notice["delivery"] = {"channel": "outbox", "template": outbox_template}
    return notice


def to_offices(ctx: HandlerContext, to: list[dict], template: str, data: dict[str, Any]) -> list[str]:
    """Put an in-app notice from the outbox catalogue (`processes/templates/notifications.yaml`) into the inbox of
    every user holding each (unit, role) of `to`, through the notifier port (`ctx.emit("notify", ...)`): written in
    the step's own transaction and delivered by the worker. Users come from the directory port (who holds which
    role where); without one nobody is addressed and the notice stays in the journal only. Returns the users."""
    directory = (ctx.ports or {}).get("directory")
    if directory is None:
        return []
    users: list[str] = []
    for office in to:
        if "unit" not in office:
            continue
        for username in directory.users(office["unit"], office.get("role", "unit_handler")):
            if username not in users:
                users.append(username)
    data = masking.mask_personal_data(data)  # staff read petitioners' data masked (services/masking.py)
    for username in users:
        ctx.emit("notify", channel="inapp", recipient=username, template=template, data=data)
    return users


def due_date_text(due_at: str | None, ctx: HandlerContext) -> str:
    """The Beijing date a deadline ending at `due_at` (24:00 of its day) falls due; today when not known."""
    if not due_at:
        return _day(ctx)
    return due_day(str(due_at)).isoformat()


def unit_recipients(unit: str, *, head: bool = False, role: str = "unit_handler") -> list[dict]:
    to = [{"unit": unit, "role": role}]
    if head:
        to.append({"unit": unit, "role": "leader"})  # 单位负责人
    return to


@dataclass
class NotifyInput:
    template: str
    to: Any = "petitioner"  # "petitioner", a unit code, or a list of {"unit", "role"} / {"party"}
    case_no: str = ""
    fields: dict | None = None


def notify(inp: NotifyInput, ctx: HandlerContext) -> dict:
    """发送通知或告知书 (send a notice to the petitioner or to offices)."""
    fields = dict(inp.fields or {})
    fields.setdefault("case_no", inp.case_no or ctx.data.get("case_no", ""))
    return send(ctx, _recipients(inp.to), inp.template, fields)


def _recipients(to: Any) -> list[dict]:
    if to == "petitioner" or to is None:
        return [dict(PETITIONER)]
    if isinstance(to, str):
        return unit_recipients(to)
    if isinstance(to, dict):
        return [dict(to)]
    out = []
    for item in to:
        out.extend(_recipients(item))
    return out
