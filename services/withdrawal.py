"""撤回 (withdrawal): a petitioner may withdraw a petition; the office that registered it then ends its handling
(终止办理). docs/portal.md.

The request. The petitioner asks online (services/portal.withdraw journals `portal.withdrawal_requested` and tells
the holders of the open work), or says so to the office by letter, in person or by phone: then the office records it
when it confirms (the channel is kept).

Confirming. The registering office (web/visibility.py `may_decide_withdrawal` says who) confirms on the case page:
the message `撤回` goes to the process, whose interrupting boundary events on every step before the reply
(分流研判, 签收, 审核异议, 二次交办, 受理告知, 办理, 审批延期) lead to 告知信访人终止办理 (the SMS through the outbox,
once, notice 撤回终止告知) and the terminating end 已撤回，终止办理: the open work items and timers end with it.
Once the reply is served (答复, 办结) the process no longer listens for it, and the confirmation is refused.

Declining. The office may decline a request made online, with a reason: journaled (`withdrawal.declined`), the
petitioner told by SMS (outbox, once per request) and on the portal; the case goes on, and the petitioner may ask
again.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select

from engine.case_chain import append_case_events
from engine.clock import SHANGHAI
from engine.journal import PendingEvent, to_json
from engine.store import Case, JournalEvent, Outbox

from . import parties
from .refusals import Refused

MESSAGE = "撤回"
REQUESTED, DECLINED = "portal.withdrawal_requested", "withdrawal.declined"
# how the petitioner said it: the portal's own request, or told to the office (来信、来访、电话)
CHANNELS = {"portal": "网上", "letter": "来信", "visit": "来访", "phone": "电话"}
PROCESS = "petition_case"


class WithdrawalRefused(Refused):
    """Not done: 409 when the case is past the point or nothing is pending, 422 for a missing reason."""


def _day(now: datetime) -> str:
    return now.astimezone(SHANGHAI).date().isoformat()


def state(s, case_id: int, data: dict | None = None) -> dict:
    """The withdrawal of the case as the portal and the case page show it: {state: none | requested | declined |
    confirmed, reason, requested_on, decline_reason}."""
    if isinstance((data or {}).get("withdrawal"), dict):
        done = data["withdrawal"]
        return {"state": "confirmed", "reason": done.get("reason") or "", "requested_on": done.get("requested_on"),
                "channel": done.get("channel"), "confirmed_on": done.get("confirmed_on")}
    events = s.execute(select(JournalEvent.seq, JournalEvent.type, JournalEvent.data, JournalEvent.at).where(
        JournalEvent.case_id == case_id, JournalEvent.type.in_((REQUESTED, DECLINED)))
        .order_by(JournalEvent.seq)).all()
    if not events:
        return {"state": "none"}
    seq, kind, raw, at = events[-1]
    payload = json.loads(raw or "{}")
    if kind == DECLINED:
        return {"state": "declined", "decline_reason": payload.get("reason") or "",
                "declined_on": _day(at)}
    return {"state": "requested", "reason": payload.get("reason") or "", "requested_on": _day(at), "seq": seq}


def _check_open(runtime, case_id: int):
    case = runtime.get_case(case_id)
    if case.process_key != PROCESS:
        raise WithdrawalRefused(409, "只有信访事项可以撤回")
    if case.status == "completed":
        raise WithdrawalRefused(409, "本件已办结或已终止办理，不能撤回")
    if MESSAGE not in runtime.waiting_messages(case_id):
        raise WithdrawalRefused(409, "本件已作出书面答复（办结），不能再撤回；信访人可不申请复查")
    return case


def confirm(c, case_id: int, actor: str, channel: str, statement: str = "") -> dict:
    """End the case on the petitioner's withdrawal: the pending online request, or one told to the office by
    `channel` (来信/来访/电话, whose `statement` records what the petitioner said). Returns the withdrawal."""
    runtime, now = c.runtime, c.clock.now()
    _check_open(runtime, case_id)
    if channel not in CHANNELS:
        raise WithdrawalRefused(422, "请选择信访人提出撤回的方式")
    with c.session_factory() as s:
        pending = state(s, case_id)
    if channel == "portal":
        if pending["state"] != "requested":
            raise WithdrawalRefused(409, "信访人没有待处理的网上撤回申请")
        reason, requested_on = pending["reason"], pending["requested_on"]
    else:
        reason, requested_on = statement.strip(), _day(now)
        if not 2 <= len(reason) <= 1000:
            raise WithdrawalRefused(422, "请记录信访人撤回的意思表示和理由（2 至 1000 字）")
    withdrawal = {"requested_on": requested_on, "confirmed_on": _day(now), "channel": CHANNELS[channel],
                  "reason": reason, "confirmed_by": actor}
    runtime.deliver_message(case_id, MESSAGE, withdrawal, actor=actor)
    with c.session_factory() as s, s.begin():  # the case lists read the summary kept on the case row
        case = s.get(Case, case_id)
        case.summary_json = to_json(dict(json.loads(case.summary_json or "{}"), withdrawn=True))
    return withdrawal


def decline(c, case_id: int, actor: str, reason: str) -> None:
    """Decline the pending online request with a reason: journaled, the petitioner told by SMS once."""
    _check_open(c.runtime, case_id)
    reason, now = reason.strip(), c.clock.now()
    if not 2 <= len(reason) <= 1000:
        raise WithdrawalRefused(422, "请写明不同意撤回的理由（2 至 1000 字），信访人将收到告知")
    with c.session_factory() as s, s.begin():
        pending = state(s, case_id)
        if pending["state"] != "requested":
            raise WithdrawalRefused(409, "信访人没有待处理的网上撤回申请")
        append_case_events(s, case_id, [PendingEvent(DECLINED, actor, now, None, {
            "reason": reason, "channel": "portal", "request_seq": pending["seq"]})])
        ref = parties.first_party_of(s, case_id)
        if ref is not None and parties.contact_phone(s, c.extras["vault"], parties.RECIPIENT_PREFIX + ref):
            case_no = (c.runtime.case_data(s, s.get(Case, case_id)) or {}).get("case_no") or ""
            s.add(Outbox(case_id=case_id, idempotency_key=f"withdrawal_declined:{case_id}:{pending['seq']}",
                         channel="sms", recipient=parties.RECIPIENT_PREFIX + ref, template="withdrawal_declined",
                         template_version=1, payload=to_json({"case_no": case_no, "reason": reason}),
                         status="pending", attempts=0, next_attempt_at=now, created_at=now))
