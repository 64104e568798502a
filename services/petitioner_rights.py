"""The petitioner's rights after a written decision (《信访工作条例》第三十二条至第三十六条): the date of service
(送达日期) of the reply, the review opinion and the re-review opinion, and the requests for review (复查) and
re-review (复核) that the petitioner may make within 30 days of *receiving* them.

Service. The step that serves a document (a `notify` task with the parameter `service`) records how and when the
petitioner received it, from the fields of the decision form (`document_date` 文书日期, `served_on` 送达日期 — for
post the date the receipt was signed, `service_method` 送达方式); a field left empty means today and 直接送达.
The record is kept in the step's result (`reply_notice["service"]`, ...), and the request windows count from its
`served_at` (the timers `days(limits["review_request_days"], reply_notice["service"]["served_at"])`).

Service by opening (电子送达). A reply served 电子送达 without a date of service entered counts as served on the day
the petitioner first opens it on the portal (services/portal.py sends the process the message `网上查阅答复`, which
sets `reply_notice["service"]` and restarts the wait for a 复查 request with its timer): the window runs from that
day. A date staff entered wins, and so does any service date not earlier than the opening.

Requests. A request is taken from the day of service on, whatever the office's internal sign-off (审核销号)
still has to do: if the process already waits for it, it is delivered; otherwise it is queued (engine QueueMessage)
and the process receives it when it reaches its waiting point. The window is judged at the moment of the request:
before service it is refused with the reason, after the window with the window's end date, and a second request
of the same kind is refused.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select

from engine.calendar.display import due_day
from engine.clock import SHANGHAI
from engine.errors import Conflict, Invalid
from engine.store import JournalEvent

from .suggestions import no_review_reason

METHODS = ("直接送达", "邮寄送达", "电子送达", "留置送达", "委托送达", "公告送达")
DEFAULT_METHOD = "直接送达"


# ---------------------------------------------------------------- service of a document

def _date(value: Any, what: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValueError(f"{what}“{value}”不是日期，请按 年-月-日 填写（{what} is not a date）") from None


def service_record(data: dict, now: datetime) -> dict:
    """How and when the document of this step was served, from the decision form's fields (empty: today,
    直接送达). Refuses a service date before the document's date or after today, and an unknown method."""
    today = now.astimezone(SHANGHAI).date()
    document = _date(data.get("document_date"), "文书日期") or today
    served = _date(data.get("served_on"), "送达日期") or today
    method = data.get("service_method") or DEFAULT_METHOD
    if method not in METHODS:
        raise ValueError(f"送达方式“{method}”不在 {'、'.join(METHODS)} 之中（unknown method of service）")
    if document > today:
        raise ValueError(f"文书日期 {document} 晚于今天 {today}（the document cannot be dated in the future）")
    if served > today:
        raise ValueError(f"送达日期 {served} 晚于今天 {today}：尚未送达的，送达后再登记（not yet served）")
    if served < document:
        raise ValueError(f"送达日期 {served} 早于文书日期 {document}（served before the document's date）")
    return {"document_date": document.isoformat(), "served_on": served.isoformat(), "method": method,
            "served_at": datetime.combine(served, time(0), SHANGHAI).isoformat(), "recorded_at": now.isoformat(),
            "date_entered": _date(data.get("served_on"), "送达日期") is not None}


# ---------------------------------------------------------------- service by opening on the portal

OPENED_ONLINE = "网上查阅答复"  # the process's message: the reply was opened on the portal (its service date)


def online_service(data: dict, opened: datetime) -> dict | None:
    """The service of the reply by its first opening on the portal (电子送达), or None when it does not count: the
    reply was served otherwise, or staff entered its date of service, or that date is not earlier than the
    opening (an earlier service date wins). The process takes it as the message OPENED_ONLINE, and the 复查 window
    counts from it."""
    service = (data.get("reply_notice") or {}).get("service")
    if not isinstance(service, dict) or service.get("method") != "电子送达" or service.get("date_entered", True) \
            or service.get("opened_online"):
        return None
    day = opened.astimezone(SHANGHAI).date()
    if service.get("served_on") and date.fromisoformat(service["served_on"]) >= day:
        return None
    return {"served_on": day.isoformat(), "served_at": datetime.combine(day, time(0), SHANGHAI).isoformat()}


# ---------------------------------------------------------------- requests for review and re-review

@dataclass(frozen=True)
class Right:
    stage: str           # 复查 / 复核
    message: str         # the BPMN message the process waits for
    served: str          # the case variable holding the served document's notice (with its "service")
    document: str        # what was served, for the petitioner's reason
    limit: str           # the setting of the window (limits[...])
    taken: str           # the case variable set once a request of this stage reached the process
    prefix: str          # of the request's own variables: <prefix>_requested_at, _served_on, _window_ends


RIGHTS = {r.message: r for r in (
    Right("复查", "复查申请", "reply_notice", "书面答复意见（处理意见书）", "review_request_days", "review_org",
          "review"),
    Right("复核", "复核申请", "review_notice", "复查意见书", "rereview_request_days", "rereview_org",
          "rereview"),
)}


def is_request(message: str) -> bool:
    return message in RIGHTS


def _opened_online(runtime, case_id: int | None, data: dict) -> dict | None:
    """The service by opening on the portal that the process took (or will take, queued), when it counts: the
    case view's data may be another branch's copy (the rating task's) that has not seen it."""
    if case_id is None:
        return None
    with runtime.read_sessions() as s:
        found = s.scalars(select(JournalEvent.data).where(
            JournalEvent.case_id == case_id, JournalEvent.type.in_(("message.delivered", "message.queued")))
            .order_by(JournalEvent.seq)).all()
    for raw in found:
        event = json.loads(raw or "{}")
        if event.get("name") == OPENED_ONLINE and isinstance(event.get("payload"), dict):
            opened = event["payload"]
            return opened if online_service(data, datetime.fromisoformat(opened["served_at"])) else None
    return None


def window(runtime, data: dict, right: Right, case_id: int | None = None) -> dict | None:
    """The request window of `right` in the case `data` (of case `case_id`, whose journal says whether the reply
    was served by its opening online): start (service), its end (due_at, 24:00 of the last day) and the rule; None
    while the document is not served."""
    notice = data.get(right.served)
    if not isinstance(notice, dict):
        return None
    service = notice.get("service")
    opened = _opened_online(runtime, case_id, data) if right.served == "reply_notice" else None
    if opened is not None and isinstance(service, dict):
        service = dict(service, served_on=opened["served_on"], served_at=opened["served_at"], method="电子送达")
    if not isinstance(service, dict) and notice.get("at"):
        # a case still on a process version from before service was recorded: its window ran from the sending
        at = datetime.fromisoformat(notice["at"])
        service = {"served_at": notice["at"], "served_on": at.astimezone(SHANGHAI).date().isoformat()}
    if not isinstance(service, dict) or not service.get("served_at"):
        return None
    days = int((data.get("limits") or {}).get(right.limit, 30))
    deadline = runtime.compute_deadline("CAL", days, datetime.fromisoformat(service["served_at"]))
    return {"served_on": service["served_on"], "method": service.get("method"), "days": days,
            "due_at": deadline.due_at, "last_day": due_day(deadline.due_at)}


def take_request(runtime, case_id: int, message: str, payload: dict, actor: str):
    """Take the petitioner's request for review or re-review (see the module's docstring); returns the case."""
    right = RIGHTS[message]
    case = runtime.get_case(case_id)
    reason = no_review_reason(case.process_key)
    if reason:
        raise Conflict(reason)
    if case.status == "completed":
        raise Conflict(f"本件已办结，不能再{right.stage}（the case is closed）")
    data = case.data
    now = runtime.clock.now()
    span = window(runtime, data, right, case_id)
    if span is None:
        raise Conflict(f"{right.document}尚未送达信访人：{right.stage}请求自收到之日起才能提出，请在送达后登记"
                       f"（the {right.stage} window opens on service of the decision）")
    if now >= span["due_at"]:
        raise Conflict(f"{right.stage}申请期限已于 {span['last_day']:%Y年%m月%d日} 届满（{right.document}于 "
                       f"{span['served_on']} 送达，{span['days']}日）；同一事实和理由的{right.stage}请求不予受理"
                       f"（the window ended on {span['last_day']}）")
    if data.get(right.taken) or any(m["name"] == message for m in runtime.queued_messages(case_id)):
        raise Conflict(f"本件已提出过{right.stage}请求，不能重复提出（a {right.stage} request was already taken）")
    if not isinstance(payload, dict):
        raise Invalid("payload 必须是对象（payload must be an object）")
    taken = dict(payload, **{f"{right.prefix}_requested_at": now.isoformat(),
                             f"{right.prefix}_served_on": span["served_on"],
                             f"{right.prefix}_window_ends": span["last_day"].isoformat()})
    if message in runtime.waiting_messages(case_id):
        return runtime.deliver_message(case_id, message, taken, actor=actor)
    return runtime.queue_message(case_id, message, taken, actor=actor)
