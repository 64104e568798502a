"""The petitioners' portal (web/portal/, docs/portal.md): sign-in by a one-time SMS code, online submission, the
petitioner's own cases, the notices and decisions served to them, rating, requests for review and withdrawal
(撤回, decided by the office: services/withdrawal.py).

Sign-in codes. Six digits, valid `portal_code_minutes`, usable once, at most `MAX_TRIES` wrong tries; a new
request replaces the code before it. The code is kept only as a keyed digest (HMAC under the deployment's derived
key, services/index_key.py) in a settings row named by the number's keyed digest: the database holds neither the
code nor the number. The SMS that carries it goes through the outbox (channel sms, to a party of no case, role
`portal_signin`, whose phone the delivery opens when it sends): its payload holds the code until the worker has
sent it, and once the code has signed in the sent row's copy is overwritten.

Own cases. A case is the petitioner's when its petitioner's phone (opened from the party table) is the signed-in
number: found through the person index (the phone's keyed digest, services/registration.py) and checked against
the opened phone every time, so a case of another person is "not found" whatever its id.

Every action on a case is journaled with the actor `portal:<masked phone>` and `channel: portal`.
"""
from __future__ import annotations

import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from engine.case_chain import append_case_events
from engine.clock import SHANGHAI
from engine.errors import Conflict
from engine.journal import PendingEvent, to_json
from engine.store import Case, JournalEvent, Outbox, Setting, WorkItem
from infra.accounts import MembershipDirectory
from services import (
    attachments,
    documents,
    element_meanings,
    identity_checks,
    parties,
    petitioner_rights,
    public_progress,
    query_code,
    registration as reg,
    withdrawal,
)
from services.index_key import IndexKey
from services.masking import mask_phone
from services.store.handling import PetitionerKey

CHANNEL = "portal"
CASE_CHANNEL = "网上"  # the registration's 信访形式 and the rating's 评价方式
CODE_DIGITS = 6
MAX_TRIES = 5
MAX_FILES = 5
RATINGS = ("满意", "基本满意", "不满意")
# what the portal submits of the registration form (the rest is the office's: routing, registering unit, ...)
TEXT_LIMITS = {"title": (5, 200), "request": (10, 4000), "facts": (0, 8000), "name": (1, 100),
               "address": (0, 500)}


class PortalRefused(ValueError):
    """The petitioner's request cannot be done: the message says why and what to do (Chinese)."""


def normal_phone(value) -> str | None:
    """A mainland mobile number as compared (digits only, without +86), or None when it is not one."""
    return identity_checks.mobile_number(value)


def actor_of(phone: str) -> str:
    return f"{CHANNEL}:{mask_phone(phone)}"


# ---------------------------------------------------------------- one-time SMS codes

def _slot(key: IndexKey, phone: str) -> str:
    return "portal_code:" + key.digest("portal_phone", phone)[:48]


def _code_digest(key: IndexKey, phone: str, code: str) -> str:
    return key.digest("portal_code", f"{phone}:{code}")


def request_code(c, key: IndexKey, phone: str, now: datetime) -> None:
    """Make a new code for `phone` (replacing any earlier one) and queue its SMS, in one transaction."""
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    minutes = c.settings.portal_code_minutes
    outbox_key = f"portal_code:{uuid.uuid4()}"
    record = to_json({"digest": _code_digest(key, phone, code), "tries": 0, "outbox": outbox_key,
                      "expires_at": (now + timedelta(minutes=minutes)).isoformat()})
    vault = c.extras["vault"]
    with c.session_factory() as s, s.begin():
        row = s.get(Setting, _slot(key, phone), with_for_update=True)
        if row is None:
            s.add(Setting(key=_slot(key, phone), value=record))
        else:
            row.value = record
        ref = parties.new_party(s, vault, vault.new_data_key(s, now), {"phone": phone}, now, role="portal_signin")
        s.add(Outbox(case_id=None, idempotency_key=outbox_key, channel="sms",
                     recipient=parties.RECIPIENT_PREFIX + ref, template="portal_signin_code", template_version=1,
                     payload=to_json({"code": code, "minutes": minutes}), status="pending", attempts=0,
                     next_attempt_at=now, created_at=now))


def check_code(c, key: IndexKey, phone: str, code: str, now: datetime) -> None:
    """Accept the code once (it is used up), or refuse: unknown, used, expired, wrong (counted), too many tries.
    What a refusal changes (a wrong try counted, an expired or exhausted code dropped) is committed first."""
    code = re.sub(r"\s", "", str(code or ""))
    with c.session_factory() as s, s.begin():
        row = s.get(Setting, _slot(key, phone), with_for_update=True)
        refusal = _judge(row, key, phone, code, now)
        if refusal is None or row is None:
            pass
        elif json.loads(row.value)["tries"] >= MAX_TRIES or refusal != WRONG:
            s.delete(row)
        if refusal is None and row is not None:
            _forget_sent_code(s, json.loads(row.value).get("outbox"))
            s.delete(row)  # used once
    if refusal is not None:
        raise PortalRefused(refusal)


def _forget_sent_code(s, outbox_key: str | None) -> None:
    """Once a code has signed in, its SMS (sent, since it was read) keeps no copy of it in the outbox."""
    sent = s.scalar(select(Outbox).where(Outbox.idempotency_key == outbox_key)) if outbox_key else None
    if sent is not None and sent.status == "sent":
        sent.payload = to_json(dict(json.loads(sent.payload), code="******"))


WRONG = "验证码不正确，请核对短信中的6位数字后重新输入"


def _judge(row: Setting | None, key: IndexKey, phone: str, code: str, now: datetime) -> str | None:
    """Why the code is refused (counting a wrong try in `row`), or None when it is right."""
    if row is None:
        return "验证码无效或已使用，请重新获取验证码"
    record = json.loads(row.value)
    if now >= datetime.fromisoformat(record["expires_at"]):
        return "验证码已过期，请重新获取验证码"
    if hmac.compare_digest(_code_digest(key, phone, code), record["digest"]):
        return None
    record["tries"] += 1
    row.value = to_json(record)
    return "验证码错误次数过多，已失效，请重新获取验证码" if record["tries"] >= MAX_TRIES else WRONG


# ---------------------------------------------------------------- own cases

@dataclass
class OwnCase:
    id: int
    case_no: str
    title: str
    registered_on: str
    stage: str
    status: str


def _phone_of(s, c, case: Case) -> tuple[str | None, dict]:
    data = parties.resolve_case(s, c.extras["vault"], case.id, c.runtime.case_data(s, case))
    petitioner = data.get("petitioner") if isinstance(data.get("petitioner"), dict) else {}
    return normal_phone(petitioner.get("phone")), data


def own_cases(c, key: IndexKey, phone: str) -> list[OwnCase]:
    """The petitioner's cases, newest first."""
    digest = key.digest("phone", phone)
    out = []
    with c.session_factory() as s:
        ids = s.scalars(select(PetitionerKey.case_id).where(PetitionerKey.kind == "phone",
                                                             PetitionerKey.digest == digest).distinct()).all()
        for case in s.scalars(select(Case).where(Case.id.in_(ids)).order_by(Case.id.desc())):
            found, data = _phone_of(s, c, case)
            if found != phone:
                continue
            progress = public_progress.progress_of(s, case, data)
            out.append(OwnCase(case.id, progress["case_no"] or "", str(data.get("title") or ""),
                               progress["milestones"][0]["date"], progress["stage"], case.status))
    return out


def own_case(c, phone: str, case_id: int) -> dict:
    """The case's petitioner view (progress, documents, rights), or LookupError when it is not this number's."""
    with c.session_factory() as s:
        case = s.get(Case, case_id)
        if case is None or case.process_key != public_progress.PROCESS:
            raise LookupError(case_id)
        found, data = _phone_of(s, c, case)
        if found != phone:
            raise LookupError(case_id)
        progress = public_progress.progress_of(s, case, data)
        rating_open = _rating_item(s, case_id) is not None
    return {"id": case_id, "data": data, "progress": progress, "status": case.status, "rating_open": rating_open,
            "rights": _rights(c, case_id, data, case.status), "withdrawal": _withdrawal(c, case_id, data),
            "withdrawable": case.status != "completed" and withdrawal.MESSAGE in c.runtime.waiting_messages(case_id)}


def _rights(c, case_id: int, data: dict, status: str) -> list[dict]:
    """The requests for review the petitioner can make now: stage, message, last day."""
    out = []
    if status == "completed":
        return out
    queued = {m["name"] for m in c.runtime.queued_messages(case_id)}
    now = c.clock.now()
    for message, right in petitioner_rights.RIGHTS.items():
        span = petitioner_rights.window(c.runtime, data, right, case_id)
        if span is None or data.get(right.taken) or message in queued or now >= span["due_at"] \
                or _requested_before(c, case_id, message):
            continue
        out.append({"stage": right.stage, "message": message, "last_day": span["last_day"].isoformat(),
                    "served_on": span["served_on"], "document": right.document})
    return out


# ---------------------------------------------------------------- submission

@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes


def submission_problems(form: dict, categories: list, locations: dict, today) -> dict[str, str]:
    """Field -> what to correct (Chinese), for the portal's part of the registration form."""
    problems: dict[str, str] = {}
    for name, (low, high) in TEXT_LIMITS.items():
        text = str(form.get(name) or "").strip()
        if len(text) < low or len(text) > high:
            problems[name] = f"请填写 {low} 至 {high} 个字" if low else f"不能超过 {high} 个字"
    if form.get("location") not in locations:
        problems["location"] = "请从列表中选择问题发生地"
    for problem in reg.category_problems(categories, str(form.get("category") or ""), form.get("subcategory") or None):
        problems.setdefault(problem.field, problem.text())
    person = {"name": form.get("name"), "id_number": form.get("id_number") or "", "phone": form.get("phone")}
    for problem in identity_checks.registration_problems({"channel": CASE_CHANNEL, "title": form.get("title"),
                                                          "petitioner": person}, today):
        problems.setdefault(problem.field.replace("petitioner-", ""), problem.text())
    return problems


def _start_data(form: dict, phone: str, registering_unit: str) -> dict:
    person = {"name": str(form["name"]).strip(), "phone": phone}
    for optional in ("id_number", "address"):
        if str(form.get(optional) or "").strip():
            person[optional] = str(form[optional]).strip()
    fields = {"channel": CASE_CHANNEL, "title": str(form["title"]).strip(), "request": str(form["request"]).strip(),
              "facts": str(form.get("facts") or form["request"]).strip(), "category": form["category"],
              "subcategory": form.get("subcategory") or None, "location": form["location"], "petitioner": person}
    data = reg.start_data(fields, registering_unit)
    data["submitted_via"] = CHANNEL
    return data


def submit(c, key: IndexKey, phone: str, form: dict, uploads: list[Upload], registering_unit: str,
           refuse_failed_start) -> dict:
    """Register the petition, its attachments and its receipt SMS (case number, query code, the portal) in one
    transaction; returns {id, case_no, query_code}. `refuse_failed_start(s, runtime, view)` rolls back a start
    that ran into an incident (services/incidents.py)."""
    now, vault, actor = c.clock.now(), c.extras["vault"], actor_of(phone)
    data = _start_data(form, phone, registering_unit)
    code, data[query_code.START_FIELD] = query_code.issue(key)

    def after(s, started, plain):
        refuse_failed_start(s, c.runtime, started)
        reg.index_started(s, started, plain, now, key)
        for upload in uploads:
            attachments.store_attachment(s, started.id, None, upload.filename, upload.content_type, upload.data,
                                         actor, now, vault)
        queue_receipt(c, s, started, code, now)
        append_case_events(s, started.id, [PendingEvent("portal.submitted", actor, now, None, {
            "channel": CHANNEL, "attachments": len(uploads)})])

    view = parties.start_case(c.runtime, vault, reg.PROCESS, data, actor, now, after=after)
    registration = view.data.get("registration") or {}
    return {"id": view.id, "case_no": view.data.get("case_no") or registration.get("case_no"), "query_code": code}


def queue_receipt(c, s, started, code: str, now: datetime) -> bool:
    """The receipt SMS of a case just registered (case number, query code, acceptance date, the portal), when its
    petitioner has a mobile number: in the registration's transaction `s`, to the petitioner's party, with the
    idempotency key `receipt:<case id>`, so that it goes out exactly once (the desk and the portal both use it)."""
    petitioner = started.data.get("petitioner") if isinstance(started.data.get("petitioner"), dict) else {}
    ref = parties.first_party_of(s, started.id)
    if ref is None or not petitioner.get("phone") or normal_phone(parties.contact_phone(
            s, c.extras["vault"], parties.RECIPIENT_PREFIX + ref)) is None:
        return False
    case_no = (started.data.get("registration") or {}).get("case_no") or started.data.get("case_no") or ""
    accept_day = c.runtime.compute_deadline("CAL", documents.ACCEPT_DAYS, now, session=s).due_date
    s.add(Outbox(case_id=started.id, idempotency_key=f"receipt:{started.id}", channel="sms",
                 recipient=parties.RECIPIENT_PREFIX + ref, template="portal_receipt", template_version=1,
                 payload=to_json({"case_no": case_no, "query_code": code,
                                  "registered_on": now.astimezone(SHANGHAI).date().isoformat(),
                                  "accept_due": accept_day.isoformat()}),
                 status="pending", attempts=0, next_attempt_at=now, created_at=now))
    return True


def check_uploads(uploads: list[Upload]) -> str | None:
    """What is wrong with the files (the staff uploads' limits, services/attachments.py), or None."""
    if len(uploads) > MAX_FILES:
        return f"最多上传 {MAX_FILES} 个附件"
    for upload in uploads:
        ctype = (upload.content_type or "application/octet-stream").split(";")[0].strip().lower()
        if not upload.data:
            return f"附件“{attachments.safe_filename(upload.filename)}”是空文件，请重新选择"
        if len(upload.data) > attachments.MAX_ATTACHMENT_BYTES:
            return (f"附件“{attachments.safe_filename(upload.filename)}”超过 "
                    f"{attachments.MAX_ATTACHMENT_BYTES // 1024 // 1024} MB，请压缩或拆分后再上传")
        if ctype not in attachments.ALLOWED_TYPES:
            return "不接受此类文件，请上传 PDF、图片、Word、Excel、文本或压缩包"
    return None


# ---------------------------------------------------------------- documents served

# the documents addressed to the petitioner (the 交办/转送 notice to the handling unit is the offices' own)
PETITIONER_DOCUMENTS = ("receipt", "transfer", "acceptance", "non_acceptance", "extension", "reply")


def ready_documents(data: dict, unit_name) -> list[dict]:
    return [d for d in documents.notice_list(data, unit_name) if d["ready"] and d["kind"] in PETITIONER_DOCUMENTS]


def open_document(c, phone: str, case_id: int, kind: str, unit_name) -> documents.Notice:
    """The notice `kind` of the petitioner's own case; its opening is journaled, the first one as its service
    by the portal (电子送达, the date the petitioner opened it)."""
    case = own_case(c, phone, case_id)
    if kind not in PETITIONER_DOCUMENTS:
        raise documents.NoticeUnavailable(kind, ["信访人文书"])
    notice = documents.build_notice(kind, case["data"], unit_name)
    now = c.clock.now()
    with c.session_factory() as s, s.begin():
        events = s.scalars(select(JournalEvent.data).where(JournalEvent.case_id == case_id,
                                                           JournalEvent.type == "portal.document_served")).all()
        served_before = any(json.loads(d or "{}").get("kind") == kind for d in events)
        event = "portal.document_opened" if served_before else "portal.document_served"
        payload = {"kind": kind, "title": notice.title, "channel": CHANNEL}
        if not served_before:
            payload.update(served_on=now.astimezone(SHANGHAI).date().isoformat(), method="电子送达")
        append_case_events(s, case_id, [PendingEvent(event, actor_of(phone), now, None, payload)])
    if kind == "reply" and not served_before:
        _serve_reply_online(c, phone, case_id, case["data"], now)
    return notice


def _serve_reply_online(c, phone: str, case_id: int, data: dict, now: datetime) -> None:
    """The first opening of a reply served 电子送达 (no date entered) is its service: the process is told (now, or
    when it waits for a 复查 request), and the window counts from today (services/petitioner_rights.py)."""
    service = petitioner_rights.online_service(data, now)
    if service is None:
        return
    message = petitioner_rights.OPENED_ONLINE
    try:
        if message in c.runtime.waiting_messages(case_id):
            c.runtime.deliver_message(case_id, message, service, actor=actor_of(phone))
        else:
            c.runtime.queue_message(case_id, message, service, actor=actor_of(phone))
    except Conflict:
        pass  # a case on an earlier process version (no such message) or already queued: the service stays


# ---------------------------------------------------------------- rating, review, withdrawal

def _rating_item(s, case_id: int) -> int | None:
    return s.scalar(select(WorkItem.id).where(WorkItem.case_id == case_id, WorkItem.state == "open",
                                              WorkItem.element_id.in_(sorted(element_meanings.elements("rating")))))


def rate(c, phone: str, case_id: int, rating: str, note: str = "") -> None:
    """Complete the case's rating task on the petitioner's behalf (评价方式 网上); refused outside the window."""
    own_case(c, phone, case_id)
    if rating not in RATINGS:
        raise PortalRefused("请选择“满意”“基本满意”或“不满意”")
    with c.session_factory() as s:
        item = _rating_item(s, case_id)
    if item is None:
        raise PortalRefused("本件当前不在评价期内（办结后10日内可评价），无法评价")
    data = {"rating": rating, "rating_channel": CASE_CHANNEL}
    if note.strip():
        data["rating_note"] = note.strip()[:2000]
    try:
        c.runtime.complete(item, data, actor_of(phone))
    except Conflict:
        raise PortalRefused("本件已评价或评价期限已过，无法再评价") from None


def request_review(c, phone: str, case_id: int, message: str, reason: str) -> None:
    """复查/复核 within its window (services/petitioner_rights.py judges it); the refusal says why."""
    own_case(c, phone, case_id)
    if not petitioner_rights.is_request(message):
        raise PortalRefused("请选择复查或复核")
    reason = reason.strip()
    if not 5 <= len(reason) <= 2000:
        raise PortalRefused("请写明请求的理由（5 至 2000 字）")
    if _requested_before(c, case_id, message):
        raise PortalRefused(f"本件已提出过{petitioner_rights.RIGHTS[message].stage}请求，不能重复提出")
    field = "review_reason" if message == "复查申请" else "rereview_reason"
    try:
        petitioner_rights.take_request(c.runtime, case_id, message, {field: reason, "request_channel": CHANNEL},
                                       actor=actor_of(phone))
    except Conflict as err:
        raise PortalRefused(str(err).rsplit("（", 1)[0]) from None


def _requested_before(c, case_id: int, message: str) -> bool:
    """Whether a request of this kind reached the case already (delivered or queued), by any channel."""
    with c.session_factory() as s:
        found = s.scalars(select(JournalEvent.data).where(
            JournalEvent.case_id == case_id, JournalEvent.type.in_(("message.delivered", "message.queued")))).all()
    return any(json.loads(d or "{}").get("name") == message for d in found)


def _withdrawal(c, case_id: int, data: dict) -> dict:
    with c.session_factory() as s:
        return withdrawal.state(s, case_id, data)


def withdraw(c, phone: str, case_id: int, reason: str) -> None:
    """The petitioner's 撤回 (services/withdrawal.py): the request is journaled on the case and the holders of its
    open work are told in their inbox; the registering office confirms it (the case ends, the petitioner is told)
    or declines it with a reason. One pending request at a time; refused once the reply is served (办结)."""
    case = own_case(c, phone, case_id)
    if case["status"] == "completed":
        raise PortalRefused("本件已办结，无需撤回")
    if case["withdrawal"]["state"] == "requested":
        raise PortalRefused("本件已提出过撤回申请，请等待信访工作机构处理")
    if withdrawal.MESSAGE not in c.runtime.waiting_messages(case_id):
        raise PortalRefused("本件已作出书面答复（办结），不能再撤回；对答复不服的，可在期限内请求复查")
    reason = reason.strip()
    if not 2 <= len(reason) <= 1000:
        raise PortalRefused("请写明撤回的理由（2 至 1000 字）")
    now = c.clock.now()
    with c.session_factory() as s, s.begin():
        earlier = s.scalar(select(func.count()).select_from(JournalEvent).where(
            JournalEvent.case_id == case_id, JournalEvent.type == withdrawal.REQUESTED))
        append_case_events(s, case_id, [PendingEvent(withdrawal.REQUESTED, actor_of(phone), now,
                                                     None, {"reason": reason, "channel": CHANNEL})])
        fields = {"case_no": case["progress"]["case_no"] or "", "title": str(case["data"].get("title") or ""),
                  "reason": reason}
        suffix = f":{earlier + 1}" if earlier else ""  # a new request after a declined one is told again
        for username in _holders(s, case_id):
            s.add(Outbox(case_id=case_id, idempotency_key=f"withdrawal:{case_id}:{username}{suffix}",
                         channel="inapp", recipient=username, template="withdrawal_requested", template_version=1,
                         payload=to_json(fields), status="pending", attempts=0, next_attempt_at=now,
                         created_at=now))


def _holders(s, case_id: int) -> list[str]:
    """Who holds the case's open work now (its assignee, else the users of its unit and role): they are told of
    the withdrawal request in their inbox."""
    directory, people = MembershipDirectory(s), set()
    for assignee, unit, role in s.execute(select(WorkItem.assignee, WorkItem.unit, WorkItem.role).where(
            WorkItem.case_id == case_id, WorkItem.state == "open")):
        people.update([assignee] if assignee else directory.users(unit, role) if unit and role else [])
    return sorted(people)
