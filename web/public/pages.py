"""The petitioner's side, unsigned: SMS from the gateway, and progress by case number and query code (the rules
and the read model: services/sms_petitions.py, services/public_progress.py).

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

The query code is made at SMS intake (services/sms_petitions.py) or at the desk before the case starts; the case keeps only its keyed
hash (services/query_code.py) and codes are checked against that hash. The SMS receipt is the one place the code
is written out.
"""
from __future__ import annotations

import logging
import time

from flask import Blueprint, render_template_string, request

from services import masking, sms_petitions
from services.case_lookup import normal_case_no
from services.index_key import IndexKey
from services.public_progress import find_case as public_progress_of
from services.sms_petitions import phone_digits

from ..http import ApiError, container, ok
from ..sms_gateway import signed_gateway_json

bp = Blueprint("public", __name__)
log = logging.getLogger("lianxin.public")


def _code_key() -> IndexKey:
    """The key query codes are hashed with: the repeat index's, from the deployment's secret key."""
    settings = container().settings
    return IndexKey.from_secret_key(settings.secret_key, settings.crypto_suite)


# ---------------------------------------------------------------- the gateway's webhook

@bp.post("/api/sms/inbound")
def sms_inbound():
    c = container()
    message = signed_gateway_json("inbound")
    if not isinstance(message, dict) or not message.get("id") or not message.get("from") \
            or not isinstance(message.get("text", ""), str):
        raise ApiError(400, "malformed", "短信需要 id、from 和 text（an inbound SMS needs id, from and text）")
    phone, text, gateway_id = phone_digits(message["from"]), message.get("text") or "", str(message["id"])[:200]
    outcome, duplicate = sms_petitions.receive(c, _code_key(), gateway_id, phone, text.strip(), c.clock.now())
    if not duplicate:
        log.info("SMS inbound %s from %s: %s", gateway_id, masking.mask_phone(phone), outcome["status"])
    return ok(dict(outcome, duplicate=duplicate))


# ---------------------------------------------------------------- public progress

def public_progress(c, case_no: str, code: str, client: str) -> dict:
    """The case's public progress, or 404 for a wrong case number or code alike. Wrong tries are counted and
    refused by web/limits.py. Both kinds of wrong answer do the same work (the code's keyed digest, one lookup)
    and every answer takes at least `query_min_ms`, so the time taken does not tell whether a number exists."""
    started = time.monotonic()
    try:
        found = public_progress_of(c, _code_key(), normal_case_no(case_no), code)
        if found is None:
            log.info("public query refused for a case number from %s", client)
            raise ApiError(404, "not_found", "案件编号或查询码不正确，请核对登记回执上的编号和查询码后再试"
                                             "（wrong case number or query code: check both on your receipt）")
        return found
    finally:
        rest = c.settings.query_min_ms / 1000 - (time.monotonic() - started)
        if rest > 0:
            time.sleep(rest)


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
