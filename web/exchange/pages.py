"""The exchange with the upstream petition information system (services/exchange.py, docs/exchange.md).

- `POST /api/exchange/inbound`: a matter pushed by the upstream system, signed with the shared key
  (`X-Lianxin-Timestamp`, `X-Lianxin-Signature`: infra/upstream.py). No staff session and no CSRF token (the
  signature is the authentication); rate-limited per address (web/limits.py). 401 for a missing or wrong
  signature (`bad_signature`) or a timestamp outside the allowed skew (`stale`), with nothing stored; 404 while
  no key is configured; 422 with the list of problems for a body that is not JSON or not a valid matter; 201 with
  the case registered; 200 with the same case when the upstream number was registered before (`duplicate`).
- `/admin/exchange` (administrators): the matters received, and the reports to the upstream system with their
  status, attempts and errors; a failed or dead report is resent (`POST /admin/exchange/{id}/resend`, a form with
  the session's CSRF token), recorded with the admin's name in the row's history and the security log.
"""
from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import bounded_json
from engine.store import Outbox
from infra.channels import SIGNATURE_HEADER
from infra.delivery import OutboxConflict, OutboxNotFound, resend
from infra.upstream import TIMESTAMP_HEADER, refusal
from services import exchange, incidents, masking
from services.outbox_queries import outbox_listing

from ..exchange_setup import index_key
from ..http import ApiError, container, ok
from ..notify_setup import templates_of
from ..ui import page_principal

bp = Blueprint("exchange", __name__)
log = logging.getLogger("lianxin.exchange")
ADMINS = ("admin",)
STATUS_LABELS = {"pending": "待发送", "failed": "失败待重试", "sending": "发送中", "sent": "已发送", "dead": "投递失败"}
SOURCE_LABELS = {"push": "接口推送", "folder": "文件交换"}


def _signed_body() -> bytes:
    c = container()
    if not c.settings.exchange_key:
        raise ApiError(404, "not_configured", "未配置与上级信访信息系统的交换（set LIANXIN_EXCHANGE_KEY）")
    raw = request.get_data(cache=False)
    why = refusal(c.settings.exchange_key, raw, request.headers.get(TIMESTAMP_HEADER),
                  request.headers.get(SIGNATURE_HEADER), c.clock.now(), c.settings.exchange_max_skew_seconds)
    if why == "stale":
        log.warning("exchange push refused from %s: timestamp outside the allowed skew", request.remote_addr)
        raise ApiError(401, "stale", f"时间戳超出允许的偏差（{c.settings.exchange_max_skew_seconds} 秒），请求被拒绝；"
                                     f"请核对双方时钟后重新签名发送（{TIMESTAMP_HEADER} too old or too new）")
    if why:
        log.warning("exchange push refused from %s: bad or missing signature", request.remote_addr)
        raise ApiError(401, "bad_signature", f"签名错误（missing or wrong {SIGNATURE_HEADER} / {TIMESTAMP_HEADER}）")
    return raw


@bp.post("/api/exchange/inbound")
def inbound():
    c = container()
    raw = _signed_body()
    try:
        doc = bounded_json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(422, "invalid", "请求体不是 UTF-8 编码的 JSON（body is not JSON）",
                       {"problems": [{"path": "(文档)", "message": "不是 UTF-8 编码的 JSON（not JSON）"}]}) from None
    problems = exchange.problems_of(c, doc)
    if problems:
        raise ApiError(422, "invalid", "交换数据有误，未登记（invalid matter; nothing registered）", {"problems": problems})
    try:
        received = exchange.receive(c, doc, "push", index_key(c))
    except incidents.StartFailed as err:
        raise ApiError(422, "start_failed", str(err), {"problems": [{"path": "(登记)", "message": str(err)}]}) from None
    if not received.duplicate:
        log.info("exchange: upstream %s registered as case %s", received.upstream_no, received.case_id)
    return ok(received.as_json(), 200 if received.duplicate else 201)


# ---------------------------------------------------------------- the administrators' page

def _read_sessions():
    c = container()
    return c.extras.get("read_sessions", c.session_factory)


@bp.get("/admin/exchange")
def page():
    page_principal(*ADMINS)
    c = container()
    status = request.args.get("status") or None
    if status not in (None, *STATUS_LABELS):
        raise ApiError(400, "malformed", _("状态只能是：待发送、失败待重试、发送中、已发送、投递失败。"))
    reports = outbox_listing(_read_sessions(), channel=exchange.OUTBOX_CHANNEL, status=status, limit=200)
    details = exchange.report_details(_read_sessions(), [r["id"] for r in reports["items"]])
    for r in reports["items"]:
        r.update(details.get(r["id"], {}), plain_error=exchange.plain_error(r["last_error"]))
    settings = c.settings
    return render_template("exchange/index.html", reports=reports, status=status, status_labels=STATUS_LABELS,
                           source_labels=SOURCE_LABELS, matters=exchange.recent_matters(_read_sessions()),
                           configured={"key": bool(settings.exchange_key),
                                       "upstream": bool(settings.exchange_upstream_url),
                                       "folder": bool(settings.exchange_dir)})


@bp.post("/admin/exchange/<int:report_id>/resend")
def resend_report(report_id: int):
    p = page_principal(*ADMINS)
    c = container()
    with c.session_factory() as s:
        row = s.get(Outbox, report_id)
        if row is None or row.channel != exchange.OUTBOX_CHANNEL:
            raise ApiError(404, "not_found", _("没有这条上报记录。"))
    try:
        resend(c.session_factory, templates_of(c), report_id, p.username, c.clock.now(), redact=masking.mask_contact_text)
    except OutboxNotFound:
        raise ApiError(404, "not_found", _("没有这条上报记录。")) from None
    except OutboxConflict as exc:
        raise ApiError(409, "conflict", _("这条上报不能重发：只有投递失败或失败待重试的上报可以重发。")) from exc
    log.info("exchange report %s re-queued by %s", report_id, p.username)
    flash(_("上报 %(id)s 已重新排队，稍后由投递进程发送。", id=report_id), "success")
    return redirect(url_for("exchange.page"))
