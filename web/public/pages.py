"""The petitioner's side, unsigned: SMS from the gateway, and progress by case number and query code.

- `POST /api/sms/inbound`: the gateway's webhook for an SMS a petitioner sent, signed like `/api/sms/status`
  (`X-Lianxin-Signature: sha256=<hex HMAC-SHA256 of the raw body>` with the gateway's `secret`). Body
  `{"from": phone, "text": ..., "id": gateway message id, "at": iso}`. Idempotent on `id`: a repeated webhook
  answers with what the first one did and changes nothing.

  The grammar of a text, tried in this order (spaces optional, letters case-insensitive):
    1. rating: `<评价> <查询码>` where 评价 is `1`/`2`/`3`, `满意`/`基本满意`/`不满意`, or a digit followed by its
       word (`1 满意`); the query code is the 10 characters the registration receipt gave. Recorded only when
       the sender's phone is the case's registered phone and the case waits at 回访并记录满意度; the runtime
       completes that task as actor `sms:<masked phone>`, `rating_channel` 短信. Otherwise nothing is stored.
    2. a rating without a code (`1`, `满意`), or a digit and word that disagree: an answer giving the grammar.
    3. any other text of 8–500 characters containing Chinese: a new petition_case on channel 短信, the text as
       request and facts; the receipt with case number and query code is queued as an SMS to the sender.
    4. anything else (empty, too short, too long): an answer explaining what to send.
  The idempotency marker, the case started (or the rating recorded) and the answer in the `outbox` (channel sms)
  are one transaction: a crash at any moment leaves all three or none, and the gateway's retry of a message
  whose handling was cut off handles it afresh instead of answering `duplicate` with nothing done.

- `GET /api/public/cases/{case_no}?code=QUERY_CODE` (JSON) and `/query` (HTML form): public progress only —
  dates of registration, transfer/assignment, signing, acceptance, reply, sign-off, review, the responsible
  unit's name and the current stage; no notes, no names, no personal data. Wrong tries are limited per (case
  number, client address) and per client address (429, web/limits.py), never per case number alone, so that
  nobody can lock a petitioner out of their own case; an unknown number and a wrong code cost the same work.

The query code is made here (SMS intake) or at the desk before the case starts; the case keeps only its keyed
hash (services/query_code.py) and codes are checked against that hash. The SMS receipt is the one place the code
is written out.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from datetime import datetime

from flask import Blueprint, render_template_string, request
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine.clock import SHANGHAI
from engine.journal import to_json
from engine.outbox_queries import mask_text
from engine.store import Case, JournalEvent, Outbox, Setting, WorkItem
from services import case_numbers, query_code
from services.case_lookup import normal_case_no
from services.index_key import IndexKey

from ..http import ApiError, container, ok
from ..sms_gateway import signed_gateway_json

bp = Blueprint("public", __name__)
log = logging.getLogger("lianxin.public")

PROCESS = "petition_case"
RATING_TASK = "Task_rating"
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

# public milestones: element -> what the petitioner sees
MILESTONES = {
    "Task_triage": "转送、交办", "Task_sign": "责任单位签收", "Task_accept": "作出受理决定",
    "Task_handle": "出具答复意见", "Task_signoff": "审核办结", "Task_review": "复查意见",
    "Task_rereview": "复核意见", "Task_rating": "评价",
}
STAGES = {
    "Task_triage": "登记后分流中", "Task_sign": "已转送、交办，待责任单位签收", "Task_decide_objection": "已转送、交办，待责任单位签收",
    "Task_accept": "责任单位审查是否受理", "Task_handle": "办理中", "Task_approve_extension": "办理中",
    "Task_signoff": "已答复，审核办结中", "Task_rating": "已办结，待评价", "Task_review": "复查中",
    "Task_rereview": "复核中",
}


def _code_key() -> IndexKey:
    """The key query codes are hashed with: the repeat index's, from the deployment's secret key."""
    return IndexKey.from_secret_key(container().settings.secret_key)


def mask_phone(phone: str) -> str:
    return mask_text(phone) or ""


def _phone(value) -> str:
    digits = re.sub(r"[\s-]", "", str(value or ""))
    return digits[3:] if digits.startswith("+86") else digits


def _key(prefix: str, value: str) -> str:
    return prefix + hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


# ---------------------------------------------------------------- the gateway's webhook

@bp.post("/api/sms/inbound")
def sms_inbound():
    c = container()
    message = signed_gateway_json("inbound")
    if not isinstance(message, dict) or not message.get("id") or not message.get("from") \
            or not isinstance(message.get("text", ""), str):
        raise ApiError(400, "malformed", "短信需要 id、from 和 text（an inbound SMS needs id, from and text）")
    phone, text, gateway_id = _phone(message["from"]), message.get("text") or "", str(message["id"])[:200]
    marker = _key("sms_in:", gateway_id)
    now = c.clock.now()
    with c.session_factory() as s:
        seen = s.get(Setting, marker)
        if seen is not None and json.loads(seen.value).get("status") != RECEIVED:
            return ok(dict(json.loads(seen.value), duplicate=True))
    try:
        outcome, duplicate = _handle_once(c, marker, gateway_id, phone, text.strip(), now)
    except IntegrityError:  # the same message, handled by another process at the same moment and committed
        with c.session_factory() as s:
            seen = s.get(Setting, marker)
        if seen is None:  # some other conflict: nothing was stored, the gateway's retry handles it afresh
            raise
        outcome, duplicate = json.loads(seen.value), True
    if not duplicate:
        log.info("SMS inbound %s from %s: %s", gateway_id, mask_phone(phone), outcome["status"])
    return ok(dict(outcome, duplicate=duplicate))


RECEIVED = "received"  # a marker's value before its message was handled; written only by older versions


def _handle_once(c, marker: str, gateway_id: str, phone: str, text: str, now: datetime) -> tuple[dict, bool]:
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
        outcome, (template, data) = _handle(c, s, phone, text, now)
        marked.value = to_json(outcome)
        s.add(Outbox(case_id=outcome.get("case_id"), idempotency_key=_key("sms_reply:", gateway_id),
                     channel="sms", recipient=phone, template=template, template_version=1,
                     payload=to_json(data),
                     status="pending", attempts=0, next_attempt_at=now, created_at=now))
    return outcome, False


def _answer(text: str, case_no: str = "") -> tuple[str, dict]:
    return "sms_auto_reply", {"reply": text, "case_no": case_no}


def _handle(c, s, phone: str, text: str, now: datetime) -> tuple[dict, tuple[str, dict]]:
    m = _RATING.match(text) if text else None
    if m and (m.group(1) or m.group(2)):
        digit, word, code = m.groups()
        if (digit and word and RATINGS[digit] != word) or not code:
            return {"status": "rating_help"}, _answer(RATING_HELP)
        rating = word or RATINGS[digit]
        found = _case_waiting_for_rating(c, s, phone, code.upper())
        if found is None:
            return {"status": "rating_not_found"}, _answer(NO_SUCH_RATING)
        case_id, item_id, case_no = found
        c.runtime.complete(item_id, {"rating": rating, "rating_channel": "短信"}, f"sms:{mask_phone(phone)}",
                           session=s)
        return ({"status": "rated", "case_id": case_id, "rating": rating},
                _answer(RATED.format(rating=rating), case_no))
    if MIN_PETITION <= len(text) <= MAX_PETITION and _CJK.search(text):
        code, code_hash = query_code.issue(_code_key())
        data = {"channel": "短信", "title": text[:20], "request": text, "facts": text, "category": "",
                "location": "", "petitioner": {"phone": phone}, query_code.START_FIELD: code_hash}
        view = c.runtime.start(PROCESS, data, f"sms:{mask_phone(phone)}", session=s)
        registration = view.data.get("registration") or {}
        registered = now.astimezone(SHANGHAI).date()
        accept_day = c.runtime.compute_deadline("CAL", 15, now).due_date  # 15日内告知是否受理
        return ({"status": "registered", "case_id": view.id, "case_no": registration.get("case_no")},
                ("registration_receipt", {"case_no": registration.get("case_no", ""),
                                          "query_code": code,
                                          "registered_on": registered.isoformat(),
                                          "accept_due": accept_day.isoformat()}))
    return {"status": "help"}, _answer(HELP)


def _case_waiting_for_rating(c, s, phone: str, code: str) -> tuple[int, int, str] | None:
    """The case whose query code is `code`, registered with `phone`, with its rating task open."""
    items = s.execute(select(WorkItem.id, WorkItem.case_id).where(
        WorkItem.element_id == RATING_TASK, WorkItem.state == "open",
        WorkItem.process_key == PROCESS)).all()
    for item_id, case_id in items:
        case = s.get(Case, case_id)
        data = c.runtime.case_data(s, case)
        same_phone = _phone((data.get("petitioner") or {}).get("phone")) == phone
        if same_phone and query_code.case_matches(code, data, _code_key()):
            return case_id, item_id, data.get("case_no") or ""
    return None


# ---------------------------------------------------------------- public progress

def public_progress(c, case_no: str, code: str, client: str) -> dict:
    """The case's public progress, or 404 for a wrong case number or code alike. Wrong tries are counted and
    refused by web/limits.py. Both kinds of wrong answer do the same work (the code's keyed digest, one lookup)
    and every answer takes at least `query_min_ms`, so the time taken does not tell whether a number exists."""
    started = time.monotonic()
    try:
        found = _find_case(c, normal_case_no(case_no), code)
        if found is None:
            log.info("public query refused for a case number from %s", client)
            raise ApiError(404, "not_found", "案件编号或查询码不正确，请核对登记回执上的编号和查询码后再试"
                                             "（wrong case number or query code: check both on your receipt）")
        return found
    finally:
        rest = c.settings.query_min_ms / 1000 - (time.monotonic() - started)
        if rest > 0:
            time.sleep(rest)


def _find_case(c, case_no: str, code: str) -> dict | None:
    keys = case_numbers.keys_for(c.settings.secret_key, c.settings.previous_secret_keys)
    with c.session_factory() as s:
        ids = case_numbers.candidate_ids(case_no, keys, s.scalar(select(func.max(Case.id))) or 0)
        case, data = None, None
        rows = s.scalars(select(Case).where(Case.process_key == PROCESS, Case.id.in_(ids))) if ids else []
        for row in rows:
            if not _registered_on(row, case_no[8:16]):
                continue
            row_data = c.runtime.case_data(s, row)
            if row_data.get("case_no") == case_no:
                case, data = row, row_data
                break
        if not query_code.check(code, data, _code_key()) or case is None:
            return None
        return _progress(s, case, data)


def _registered_on(case: Case, day: str) -> bool:
    """Whether the case was made within a day of the date in its number (numbering runs when the case starts):
    the one cheap test that leaves only the case itself among the ids a number may belong to."""
    created = case.created_at.astimezone(SHANGHAI).date()
    try:
        numbered = datetime.strptime(day, "%Y%m%d").date()
    except ValueError:
        return False
    return abs((created - numbered).days) <= 1


def _day(at) -> str:
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.astimezone(SHANGHAI).date().isoformat()


def _progress(s, case: Case, data: dict) -> dict:
    events = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case.id,
                                                  JournalEvent.type == "task.completed",
                                                  JournalEvent.element_id.in_(list(MILESTONES)))
                       .order_by(JournalEvent.seq)).all()
    milestones = [{"step": "登记", "date": _day((data.get("registration") or {}).get("registered_at")
                                                or case.created_at)}]
    milestones += [{"step": MILESTONES[e.element_id], "date": _day(e.at)} for e in events]
    open_items = s.scalars(select(WorkItem.element_id).where(WorkItem.case_id == case.id,
                                                            WorkItem.state == "open")).all()
    if open_items:
        stage = "；".join(dict.fromkeys(STAGES.get(e, "办理中") for e in open_items))
    else:
        stage = "已办结" if case.status == "completed" else "办理中"
    return {"case_no": data.get("case_no"), "channel": data.get("channel"), "stage": stage,
            "unit_name": _unit_name(data), "milestones": milestones}


def _unit_name(data: dict) -> str | None:
    for key in ("assignment", "responsible", "routing"):
        value = data.get(key)
        if isinstance(value, dict):
            for name in ("unit_name", "responsible_unit_name"):
                if isinstance(value.get(name), str):
                    return value[name]
    return None


@bp.get("/api/public/cases/<case_no>")
def public_case(case_no: str):
    return ok(public_progress(container(), case_no, request.args.get("code", ""), request.remote_addr or ""))


PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>信访事项办理进度查询</title></head>
<body>
<main>
<h1>信访事项办理进度查询</h1>
<p>请输入登记回执中的信访件编号和查询码。查询码相当于密码，请勿告知他人。</p>
<form method="post" action="/query">
  <label>信访件编号 <input name="case_no" value="{{ case_no }}" required maxlength="40" autocomplete="off"></label>
  <label>查询码 <input name="code" type="password" required maxlength="20" autocomplete="off"></label>
  <button type="submit">查询</button>
</form>
{% if error %}<p role="alert">{{ error }}</p>{% endif %}
{% if result %}
<section>
  <h2>编号 {{ result.case_no }}</h2>
  <p>当前阶段：{{ result.stage }}</p>
  {% if result.unit_name %}<p>责任单位：{{ result.unit_name }}</p>{% endif %}
  <table><thead><tr><th>环节</th><th>日期</th></tr></thead><tbody>
  {% for m in result.milestones %}<tr><td>{{ m.step }}</td><td>{{ m.date }}</td></tr>{% endfor %}
  </tbody></table>
</section>
{% endif %}
</main>
</body></html>
"""


@bp.route("/query", methods=["GET", "POST"])
def query_page():
    case_no, code = request.values.get("case_no", "").strip(), request.values.get("code", "")
    result, error, status = None, None, 200
    if case_no or code:
        try:
            result = public_progress(container(), case_no, code, request.remote_addr or "")
        except ApiError as err:
            error, status = err.message, err.status
    return render_template_string(PAGE, case_no=case_no, result=result, error=error), status
