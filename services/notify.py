"""Notices (通知、告知书) through a notifier port.

A notice names its recipient as an office and role (`{"unit": "county_a_hrss", "role": "unit_handler"}`) or as
`{"party": "petitioner"}`; the notice itself never carries a phone number or ID number. Every notice is returned
in the handler's result (the case journal records it) and handed to `ctx.ports["notifier"]` when the composition
root provides one.

The wording of every notice, its channels and its outbox copy are the notice catalogue's (processes/notices.yaml,
read by services/notices.py). A notice whose catalogue entry keeps an SMS copy for the petitioner is also asked
for as a `notify` effect (`ctx.emit`), written to the outbox in the step's transaction and delivered by the
worker once an SMS gateway is configured, with the outbox template and fields the catalogue names. Only when the
case data holds the petitioner's phone; the outbox row names the petitioner's party (`party:<ref>`), whose phone
the delivery opens when it sends (services/parties.py), so neither the notice nor the outbox holds the number.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.calendar.display import due_day
from engine.handlers import HandlerContext

from . import masking, notices, parties
from .orgchart import chart_for

PETITIONER = {"party": "petitioner"}



class _Missing(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def render(template: str, fields: dict[str, Any]) -> str:
    """The text of notice `template` (processes/notices.yaml) filled with `fields`; unknown fields stay as {name}."""
    text = notices.default_catalogue().get(template).text
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


def send(ctx: HandlerContext, to: list[dict], template: str, fields: dict[str, Any]) -> dict:
    """Build one notice, hand it to the notifier port if there is one, and return its record. A notice that goes
    to an office (not only to the petitioner) carries petitioners' personal data masked (services/masking.py)."""
    fields = dict(fields)
    fields.setdefault("case_no", (ctx.data or {}).get("case_no") or "")  # every notice names its case
    for_petitioner_only = bool(to) and all(r == PETITIONER for r in to)
    shown = fields if for_petitioner_only else masking.mask_personal_data(fields)
    notice = {"to": to, "template": template, "text": render(template, shown), "at": ctx.now.isoformat(),
              "case_id": ctx.case_id, "element_id": ctx.element_id}
    notifier = (ctx.ports or {}).get("notifier")
    notice["delivery"] = notifier.send(dict(notice)) if notifier is not None else {"channel": "journal",
                                                                                   "status": "recorded"}
    recipient = _petitioner_address(ctx.data or {})
    copy = notices.default_catalogue().get(template).outbox
    if PETITIONER in to and recipient and copy is not None and copy.channel == "sms":
        filled = dict(fields, case_no=fields.get("case_no") or ctx.data.get("case_no", ""))
        ctx.emit("notify", channel="sms", recipient=recipient, template=copy.template,
                 data=notices.default_catalogue().get(template).outbox_fields(filled, _day(ctx)))
        notice["delivery"] = {"channel": "outbox", "template": copy.template}
    return notice


def _petitioner_address(data: dict) -> str | None:
    """Where the petitioner's SMS copy goes: the party reference (`party:<ref>`, opened by the delivery when it
    sends, services/parties.py) when the case keeps its people in the party table, else the phone in the data."""
    petitioner = data.get("petitioner") or {}
    if not isinstance(petitioner, dict):
        return None
    if isinstance(petitioner.get(parties.REF), str):
        return parties.RECIPIENT_PREFIX + petitioner[parties.REF] if petitioner.get("phone") else None
    return str(petitioner["phone"]) if petitioner.get("phone") else None


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
    service: bool = False  # the step serves a decision: record the date and method of service (送达)


def notify(inp: NotifyInput, ctx: HandlerContext) -> dict:
    """发送通知或告知书 (send a notice to the petitioner or to offices). With `service`, the notice is the service
    of a decision: its date and method of service are recorded from the decision form (services/petitioner_rights)
    in the result's `service`, and the notice's `served_on` and `method` fields are filled from it."""
    fields = dict(inp.fields or {})
    fields.setdefault("case_no", inp.case_no or ctx.data.get("case_no", ""))
    if not inp.service:
        to = _recipients(inp.to)
        return _with_inbox_copy(ctx, to, inp.template, send(ctx, to, inp.template, fields))
    from .petitioner_rights import service_record

    record = service_record(ctx.data or {}, ctx.now)
    fields.setdefault("served_on", record["served_on"])
    fields.setdefault("method", record["method"])
    return dict(send(ctx, _recipients(inp.to), inp.template, fields), service=record)


def _with_inbox_copy(ctx: HandlerContext, to: list[dict], template: str, notice: dict) -> dict:
    """A notice to units whose catalogue entry has an in-app copy (退回重办, 异议不成立) also reaches the inbox of
    the people of those units: the notice's own text under the case's number and title."""
    copy = notices.default_catalogue().get(template).outbox
    offices = [r for r in to if "unit" in r]
    if copy is None or copy.channel != "inapp" or not offices:
        return notice
    chart = chart_for(ctx)
    data = ctx.data or {}
    users: list[str] = []
    for office in offices:
        users += to_offices(ctx, [office], copy.template, {
            "case_no": data.get("case_no") or str(ctx.case_id), "text": notice["text"],
            "title": data.get("title") or data.get("category") or "信访事项",
            "unit": chart.name(office["unit"]) if chart.has(office["unit"]) else office["unit"]})
    return dict(notice, inbox=users)


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
