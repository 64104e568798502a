"""Petitions and ratings by SMS (the gateway's inbound messages, web/public/): the grammar of a text, the case
started or the rating recorded, and the answer queued in the outbox, with the message's idempotency marker, in
one transaction. See web/public/pages.py for the webhook and the grammar in full."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine.clock import SHANGHAI
from engine.journal import to_json
from engine.store import Case, Outbox, Setting, WorkItem
from services import element_meanings, masking, parties, query_code
from services.index_key import IndexKey

PROCESS = "petition_case"
RATINGS = {"1": "满意", "2": "基本满意", "3": "不满意"}
_RATING = re.compile(r"^\s*([123])?\s*(基本满意|不满意|满意)?\s*([A-Za-z0-9]{6,16})?\s*$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
MIN_PETITION, MAX_PETITION = 8, 500
QUERY_CODE_LENGTH = 10

HELP = ("您好，这里是信访短信平台。反映问题请直接发送具体内容（8至500字）；评价办理情况请回复“数字 查询码”，"
        "例如：1 ABCDEFGH23（1 满意 / 2 基本满意 / 3 不满意）。")
RATING_HELP = "请回复“评价数字 查询码”，例如：1 ABCDEFGH23（1 满意 / 2 基本满意 / 3 不满意）。查询码见登记回执短信。"
NO_SUCH_RATING = ("未找到您名下待评价的信访事项。请核对查询码，并用登记时留的手机号回复，例如：1 ABCDEFGH23。"
                  "如已评价，无需重复回复。")
RATED = "您的评价“{rating}”已记录，感谢您的反馈。"


def phone_digits(value) -> str:
    """A phone number as compared: digits only, without the +86 prefix."""
    digits = re.sub(r"[\s-]", "", str(value or ""))
    return digits[3:] if digits.startswith("+86") else digits


def marker_key(prefix: str, value: str) -> str:
    """A settings key for a gateway message id (its digest, not the id)."""
    return prefix + hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


def receive(c, key: IndexKey, gateway_id: str, phone: str, text: str, now: datetime) -> tuple[dict, bool]:
    """Handle one inbound message once: its outcome, and whether it was a duplicate (handled before, by this
    process or another at the same moment)."""
    marker = marker_key("sms_in:", gateway_id)
    with c.session_factory() as s:
        seen = s.get(Setting, marker)
        if seen is not None and json.loads(seen.value).get("status") != RECEIVED:
            return json.loads(seen.value), True
    try:
        return _handle_once(c, key, marker, gateway_id, phone, text, now)
    except IntegrityError:  # the same message, handled by another process at the same moment and committed
        with c.session_factory() as s:
            seen = s.get(Setting, marker)
        if seen is None:  # some other conflict: nothing was stored, the gateway's retry handles it afresh
            raise
        return json.loads(seen.value), True


def _recipient(c, s, outcome: dict, phone: str, now: datetime) -> str:
    """Who the answer goes to, as a party reference (the outbox holds no phone number; the delivery opens it):
    the case's petitioner when the message registered or rated a case, else the sender, sealed as a party of no
    case (role `sms_sender`) under a data key of its own."""
    ref = parties.first_party_of(s, outcome["case_id"]) if outcome.get("case_id") else None
    if ref is None:
        vault = c.extras["vault"]
        ref = parties.new_party(s, vault, vault.new_data_key(s, now), {"phone": phone}, now, role="sms_sender")
    return parties.RECIPIENT_PREFIX + ref


RECEIVED = "received"  # a marker's value before its message was handled; written only by older versions


def _handle_once(c, key: IndexKey, marker: str, gateway_id: str, phone: str, text: str,
                 now: datetime) -> tuple[dict, bool]:
    """The marker, the case started or rated, and the answer in the outbox: one transaction. A crash at any
    moment leaves all of them or none, so the gateway's retry either finds the finished marker (a duplicate) or
    handles the message afresh. A marker left `received` by an older version (which wrote the marker, the case
    and the answer in three transactions) is taken over and finished here.
    Returns the outcome and whether it was a duplicate."""
    with c.session_factory() as s, s.begin():
        marked = s.get(Setting, marker, with_for_update=True)
        if marked is not None and json.loads(marked.value).get("status") != RECEIVED:
            return json.loads(marked.value), True  # finished while we waited for its lock
        if marked is None:
            marked = Setting(key=marker, value=to_json({"status": RECEIVED}))
            s.add(marked)
            s.flush()  # a concurrent delivery of the same message waits here, then fails on the key
        outcome, (template, data) = _handle(c, s, key, phone, text, now)
        marked.value = to_json(outcome)
        s.add(Outbox(case_id=outcome.get("case_id"), idempotency_key=marker_key("sms_reply:", gateway_id),
                     channel="sms", recipient=_recipient(c, s, outcome, phone, now), template=template, template_version=1,
                     payload=to_json(data),
                     status="pending", attempts=0, next_attempt_at=now, created_at=now))
    return outcome, False


def _answer(text: str, case_no: str = "") -> tuple[str, dict]:
    return "sms_auto_reply", {"reply": text, "case_no": case_no}


def _handle(c, s, key: IndexKey, phone: str, text: str, now: datetime) -> tuple[dict, tuple[str, dict]]:
    m = _RATING.match(text) if text else None
    if m and (m.group(1) or m.group(2)):
        digit, word, code = m.groups()
        if (digit and word and RATINGS[digit] != word) or not code:
            return {"status": "rating_help"}, _answer(RATING_HELP)
        rating = word or RATINGS[digit]
        found = _case_waiting_for_rating(c, s, key, phone, code.upper())
        if found is None:
            return {"status": "rating_not_found"}, _answer(NO_SUCH_RATING)
        case_id, item_id, case_no = found
        c.runtime.complete(item_id, {"rating": rating, "rating_channel": "短信"}, f"sms:{masking.mask_phone(phone)}",
                           session=s)
        return ({"status": "rated", "case_id": case_id, "rating": rating},
                _answer(RATED.format(rating=rating), case_no))
    if MIN_PETITION <= len(text) <= MAX_PETITION and _CJK.search(text):
        code, code_hash = query_code.issue(key)
        data = {"channel": "短信", "title": text[:20], "request": text, "facts": text, "category": "",
                "location": "", "petitioner": {"phone": phone}, query_code.START_FIELD: code_hash}
        view = parties.start_case(c.runtime, c.extras["vault"], PROCESS, data, f"sms:{masking.mask_phone(phone)}",
                                  now, session=s)  # the phone goes to the party table, sealed
        registration = view.data.get("registration") or {}
        registered = now.astimezone(SHANGHAI).date()
        accept_day = c.runtime.compute_deadline("CAL", 15, now, session=s).due_date  # 15日内告知是否受理
        return ({"status": "registered", "case_id": view.id, "case_no": registration.get("case_no")},
                ("registration_receipt", {"case_no": registration.get("case_no", ""),
                                          "query_code": code,
                                          "registered_on": registered.isoformat(),
                                          "accept_due": accept_day.isoformat()}))
    return {"status": "help"}, _answer(HELP)


def _case_waiting_for_rating(c, s, key: IndexKey, phone: str, code: str) -> tuple[int, int, str] | None:
    """The case whose query code is `code`, registered with `phone`, with its rating task open."""
    items = s.execute(select(WorkItem.id, WorkItem.case_id).where(
        WorkItem.element_id.in_(sorted(element_meanings.elements("rating"))), WorkItem.state == "open",
        WorkItem.process_key == PROCESS)).all()
    for item_id, case_id in items:
        case = s.get(Case, case_id)
        data = parties.resolve_case(s, c.extras["vault"], case_id, c.runtime.case_data(s, case))
        same_phone = phone_digits((data.get("petitioner") or {}).get("phone")) == phone
        if same_phone and query_code.case_matches(code, data, key):
            return case_id, item_id, data.get("case_no") or ""
    return None
