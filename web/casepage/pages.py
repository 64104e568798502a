"""The case page `/cases/<id>`: header, petitioners (masked unless needed), timeline, current tasks with their
deadlines and how they were counted, incidents, the diagram with the current position, documents (notices as
printable HTML and PDF), comments and attachments. Plus the small JSON endpoints the page and integrations use:
`/api/cases/<id>/diagram`, `/comments`, `/attachments`.

Who may open a case is decided by `web.visibility` (403 page, logged); what of the petitioner they may read is
decided by the one rule of `services.masking`, applied by `web.personal_data` (which records every full view).
"""
from __future__ import annotations

import dataclasses
import io
import json
import re
from datetime import datetime

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from lxml import etree

from engine.runtime import NotFound, due_date_of
from engine.store import ProcessDefinition
from services import (
    attachments,
    clock_governance,
    co_opinions,
    documents,
    linked_cases,
    masking,
    query_code as query_code_rule,
    repeat_originals,
    retention,
    second_assignment,
)
from services.case_timeline import diagram_state, repeat_entries, timeline
from services.index_key import IndexKey
from services.masking import mask_name, mask_petitioner
from services.registration import route_out_of
from services.stats_facts import group_visit_of

from .. import personal_data, visibility
from ..auth import ApiError, Principal, require_login
from ..http import container, to_jsonable
from ..labels import process_name
from ..ui import page_principal
from . import actions

bp = Blueprint("casepage", __name__)

STATUS_LABELS = {"running": "办理中", "waiting": "办理中", "incident": "故障待处理", "completed": "已办结",
                 "paused": "暂停计时"}
def _status_label(view) -> str:
    if view.paused:
        return _("暂停计时")
    if view.status == "completed" and isinstance((view.data or {}).get("withdrawal"), dict):
        return _("已撤回（终止办理）")
    return _(STATUS_LABELS.get(view.status, view.status))


ALERT_LABELS = {"green": "正常", "yellow": "临期", "red": "超期", "paused": "暂停"}


def _visible(p: Principal, case_id: int):
    try:
        with container().extras["read_sessions"]() as s:
            return visibility.visible_case(s, p, case_id)
    except NotFound as err:
        raise ApiError(404, "not_found", err.message) from None


def _may_write(p: Principal) -> bool:
    return visibility.may_write(p)


def _petitioners(data: dict, full: bool) -> list[dict]:
    people = [data["petitioner"]] if isinstance(data.get("petitioner"), dict) else []
    people += [x for x in data.get("petitioners") or [] if isinstance(x, dict) and x not in people]
    return [dict(x) if full else mask_petitioner(x) for x in people]


def _instant(text):
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _case_context(p: Principal, case_id: int) -> dict:
    c = container()
    view = c.runtime.get_case(case_id)
    history = c.runtime.history(case_id)
    now = c.clock.now()
    with c.extras["read_sessions"]() as s:
        units, people = co_opinions.names(s)
        comment_rows = attachments.list_comments(s, case_id)
        attachment_rows = attachments.list_attachments(s, case_id)
        opinions = co_opinions.co_opinions(s, history, view.data, units, people)
        erasure = retention.erasure_of(s, case_id)
        chain = [dict(link, at=_instant(link["at"])) for link in second_assignment.chain(s, case_id, view.data)]
        repeat_of, repeats = repeat_originals.both_ways(s, case_id, lambda: visibility.case_filter(p))
        children, parent = linked_cases.both_ways(s, case_id)
        links = {"children": children, "parent": parent}
    # erased under the retention rule: nothing to show in full any more, the page says why it reads masked
    full = erasure is None and personal_data.shows_in_full(p, case_id)
    # the same rule for everything else on the page: free text (request, facts, timeline) masked as well
    data = personal_data.resolved(case_id, view.data) if full else masking.mask_personal_data(view.data)
    shown_history = personal_data.resolved(case_id, history) if full else masking.mask_personal_data(history)
    comment_rows = comment_rows if full else _masked_comments(comment_rows)
    tasks = []
    for t in view.tasks:
        state, left = c.runtime.alert(t.due_at, now)
        overdue = c.runtime.overdue_workdays(t.due_at, now) if state == "red" else 0
        tasks.append({"task": t, "alert": state, "alert_label": ALERT_LABELS[state], "workdays_left": left,
                      "overdue_workdays": overdue,
                      "due_date": due_date_of(t.due_at) if t.due_at else None,
                      "unit_name": units.get(t.unit or "", t.unit or ""),
                      "assignee_name": people.get(t.assignee or "", t.assignee or "")})
    deadlines = [dict(d, alert_label=ALERT_LABELS.get(d["state"], d["state"]),
                      due_date=due_date_of(d["due_at"])) for d in view.deadlines]
    assignment = data.get("assignment") or {}
    header = {
        "case_no": view.case_no or data.get("case_no") or (data.get("registration") or {}).get("case_no") or "",
        "title": data.get("title") or view.process_key,
        "status": _status_label(view),
        "status_code": view.status,
        "channel": data.get("channel") or "",
        "category": data.get("category") or "",
        "location": units.get(data.get("location") or "", data.get("location") or ""),
        "unit": assignment.get("unit_name") or units.get(assignment.get("unit") or "", ""),
        "dispatch_type": assignment.get("dispatch_type") or "",  # 转送 or 交办, as triage decided
        "dispatch_basis": assignment.get("basis") or "",
        "registered_at": _instant((data.get("registration") or {}).get("registered_at")) or view.created_at,
        "request": data.get("request") or "",
        "facts": data.get("facts") or "",
        "process": f"{process_name(view.process_key)} v{view.definition_version}",
        "group_visit": group_visit_of(data)[1],  # 集体访: its headcount, else 0
        "skip_level": (data.get("registration") or {}).get("skip_level") or "",  # 越级访: the registration's hint
        "route_out": _route_out_text(data),  # 诉访分离: the channel and the competent body
    }
    states = {x["alert"] for x in tasks} | {d["state"] for d in deadlines}
    worst = "red" if "red" in states else "yellow" if "yellow" in states else None
    return {
        "case_id": case_id, "view": view, "header": header, "petitioners": _petitioners(data, full),
        "petitioner_full": full, "erasure": erasure,
        "timeline": list(reversed(sorted(timeline(shown_history, lambda u: people.get(u, u),
                                                  lambda code: units.get(code, code), _)
                                         + repeat_entries(repeats, _), key=lambda e: (e.at, e.seq)))),
        "repeat_of": repeat_of, "repeats": repeats,
        "tasks": tasks, "deadlines": deadlines, "incidents": view.incidents, "worst_alert": worst,
        "notices": documents.notice_list(data, lambda code: units.get(code, code)),
        "comments": comment_rows, "attachments": attachment_rows, "people": people, "co_opinions": opinions,
        "chain": chain,
        "may_write": _may_write(p), "max_mb": attachments.MAX_ATTACHMENT_BYTES // (1024 * 1024),
        "task_names": {t.id: t.name for t in view.tasks}, "task_url": _task_url, "links": links,
        "actions": actions.available(p, view, _task_url),
    }


def _route_out_text(data: dict) -> str:
    found = route_out_of(data)
    return f"{found['channel_name']}：{found['unit_name']}" if found else ""


def _task_url(task_id: int) -> str:
    """The task form page of the handling area (its path is agreed; the endpoint exists once that area is in)."""
    if "handling.task_form" in current_app.view_functions:
        return url_for("handling.task_form", task_id=task_id)
    return f"/tasks/{task_id}"


# ---------------------------------------------------------------- pages

@bp.errorhandler(413)
def too_large(_err):
    message = _("文件过大，单个附件不能超过 %(mb)s MB，请压缩或拆分后再上传。",
                mb=attachments.MAX_ATTACHMENT_BYTES // (1024 * 1024))
    case_id = (request.view_args or {}).get("case_id")
    if request.path.startswith("/api/") or case_id is None:
        return _json({"error": {"code": "too_large", "message": message, "details": None}}, 413)
    flash(message, "error")
    return redirect(url_for("casepage.case_page", case_id=case_id) + "#attachments")


@bp.get("/cases/<int:case_id>")
def case_page(case_id: int):
    p = page_principal()
    _visible(p, case_id)
    return render_template("casepage/case.html", **_case_context(p, case_id))


def _notice(p: Principal, case_id: int, kind: str, query_code: str | None = None) -> documents.Notice:
    _visible(p, case_id)
    c = container()
    view = c.runtime.get_case(case_id)
    with c.extras["read_sessions"]() as s:
        units, _people = co_opinions.names(s)
    full = personal_data.shows_in_full(p, case_id)
    if query_code is not None and not query_code_rule.case_matches(query_code, view.data, _code_key()):
        raise ApiError(422, "invalid", _("查询码与本件不符，请核对登记页面上的查询码；补打的回执不含查询码。"))

    try:
        data = personal_data.resolved(case_id, view.data) if full else view.data
        return documents.build_notice(kind, data, lambda code: units.get(code, code),
                                      name_shown=(lambda n: n) if full else mask_name, query_code=query_code)
    except documents.NoticeUnavailable as err:
        raise ApiError(404 if kind not in documents.kinds() else 422, "notice_unavailable", str(err)) from None


@bp.get("/cases/<int:case_id>/documents/<kind>.html")
def document_html(case_id: int, kind: str):
    p = page_principal()
    notice = _notice(p, case_id, kind)
    return render_template("casepage/notice.html", notice=notice, case_id=case_id, kind=kind)


@bp.get("/cases/<int:case_id>/documents/<kind>.pdf")
def document_pdf(case_id: int, kind: str):
    p = page_principal()
    return _pdf(_notice(p, case_id, kind))


def _code_key() -> IndexKey:
    settings = container().settings
    return IndexKey.from_secret_key(settings.secret_key, settings.crypto_suite)


def _posted_code() -> str:
    code = (request.form.get("query_code") or "").strip()
    if not code:
        raise ApiError(400, "malformed", _("没有查询码：补打回执请用案件页面的“打印”。"))
    return code


@bp.post("/cases/<int:case_id>/documents/receipt.html")
def receipt_with_code(case_id: int):
    """The 登记回执 printed at registration: the query code comes from the registrar's page (it is never stored)
    and is checked against the case's digest before it is printed."""
    p = page_principal()
    _visible(p, case_id)
    code = _posted_code()
    notice = _notice(p, case_id, "receipt", query_code=code)
    return render_template("casepage/notice.html", notice=notice, case_id=case_id, kind="receipt", code=code)


@bp.post("/cases/<int:case_id>/documents/receipt.pdf")
def receipt_pdf_with_code(case_id: int):
    p = page_principal()
    _visible(p, case_id)
    return _pdf(_notice(p, case_id, "receipt", query_code=_posted_code()))


def _pdf(notice: documents.Notice):
    pdf = documents.render_pdf(notice)
    name = f"{notice.title}-{notice.case_no}.pdf"
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", as_attachment=False, download_name=name)


def _work_item_arg(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "malformed", _("任务编号必须是整数。")) from None


@bp.post("/cases/<int:case_id>/comments")
def add_comment_form(case_id: int):
    p = page_principal()
    _visible(p, case_id)
    _refuse_read_only(p, case_id)
    c = container()
    try:
        with c.session_factory() as s, s.begin():
            attachments.add_comment(s, case_id, _work_item_arg(request.form.get("work_item_id")),
                                    request.form.get("body", ""), p.username, c.clock.now())
    except attachments.AttachmentRefused as err:
        flash(str(err), "error")
    else:
        flash(_("意见已保存。"), "success")
    return redirect(url_for("casepage.case_page", case_id=case_id) + "#comments")


@bp.post("/cases/<int:case_id>/attachments")
def upload_form(case_id: int):
    p = page_principal()
    _visible(p, case_id)
    _refuse_read_only(p, case_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("请选择要上传的文件。"), "error")
    else:
        try:
            _store(p, case_id, _work_item_arg(request.form.get("work_item_id")), upload)
        except attachments.AttachmentRefused as err:
            flash(str(err), "error")
        else:
            flash(_("附件已上传：%(name)s", name=attachments.safe_filename(upload.filename)), "success")
    return redirect(url_for("casepage.case_page", case_id=case_id) + "#attachments")


def _store(p: Principal, case_id: int, work_item_id: int | None, upload) -> attachments.AttachmentInfo:
    c = container()
    data = upload.stream.read(attachments.MAX_ATTACHMENT_BYTES + 1)
    with c.session_factory() as s, s.begin():
        return attachments.store_attachment(s, case_id, work_item_id, upload.filename, upload.mimetype, data,
                                            p.username, c.clock.now(), vault=c.extras["vault"])


@bp.get("/cases/<int:case_id>/attachments/<int:attachment_id>")
def download_page(case_id: int, attachment_id: int):
    p = page_principal()
    return _download(p, case_id, attachment_id)


def _download(p: Principal, case_id: int, attachment_id: int):
    _visible(p, case_id)
    with container().extras["read_sessions"]() as s:
        try:
            info, content = attachments.get_attachment(s, case_id, attachment_id, container().extras["vault"])
        except LookupError as err:
            raise ApiError(404, "not_found", str(err)) from None
        except attachments.AttachmentRefused as err:
            raise ApiError(409, "integrity", str(err)) from None
    response = send_file(io.BytesIO(content), mimetype=info.content_type, as_attachment=True,
                         download_name=info.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["ETag"] = f'"{info.sha256}"'
    return response


def _refuse_read_only(p: Principal, case_id: int) -> None:
    if not _may_write(p):
        raise visibility.refuse(p, f"writing to case {case_id}",
                                _("审计员只能查看，不能添加意见或附件。"))


# ---------------------------------------------------------------- JSON

def _api_case(case_id: int) -> Principal:
    p = require_login()
    _visible(p, case_id)
    return p


@bp.get("/api/cases/<int:case_id>/diagram")
def diagram_json(case_id: int):
    """The deployed BPMN of the case's definition version, and where the case stands on it."""
    _api_case(case_id)
    c = container()
    view = c.runtime.get_case(case_id)
    with c.extras["read_sessions"]() as s:
        row = s.get(ProcessDefinition, view.definition_id)
        sources = json.loads(row.sources_json)
    xml = _process_source(sources, view.process_key)
    state = diagram_state(c.runtime.history(case_id))
    now = c.clock.now()
    alerts = {}
    for t in view.tasks:
        alerts[t.element_id] = c.runtime.alert(t.due_at, now)[0]
    return _json({"case_id": case_id, "process_key": view.process_key, "definition_id": view.definition_id,
                  "definition_version": view.definition_version, "xml": xml, "active": state["active"],
                  "completed": state["completed"], "tasks": [t.element_id for t in view.tasks], "alerts": alerts})


def _process_source(sources: dict[str, str], process_key: str) -> str:
    """The BPMN file (of those deployed with the version) that declares the process itself."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    for name, text in sources.items():
        if not name.endswith(".bpmn"):
            continue
        try:
            root = etree.fromstring(text.encode("utf-8"), parser)
        except etree.XMLSyntaxError:
            continue
        if root.xpath("//*[local-name()='process'][@id=$key]", key=process_key):
            return text
    raise ApiError(404, "not_found", f"流程 {process_key} 的 BPMN 文件未找到（no BPMN source for the process）")


def _json(payload, status: int = 200) -> Response:
    return current_app.response_class(json.dumps(to_jsonable(payload), ensure_ascii=False), status=status,
                                      mimetype="application/json")


@bp.get("/api/cases/<int:case_id>/comments")
def comments_json(case_id: int):
    p = _api_case(case_id)
    with container().extras["read_sessions"]() as s:
        rows = attachments.list_comments(s, case_id)
    if not personal_data.shows_in_full(p, case_id):
        rows = _masked_comments(rows)
    return _json({"comments": [r.__dict__ for r in rows]})


def _masked_comments(rows: list[attachments.CommentInfo]) -> list[attachments.CommentInfo]:
    """Comments with a phone or ID number typed into them (已电话联系 138...) masked, as the journal is."""
    return [dataclasses.replace(r, body=masking.mask_text(r.body)) for r in rows]


@bp.post("/api/cases/<int:case_id>/comments")
def add_comment_json(case_id: int):
    p = _api_case(case_id)
    _refuse_read_only(p, case_id)
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("body"), str):
        raise ApiError(400, "malformed", "需要 JSON 对象 {\"body\": \"意见\", \"work_item_id\": 可选}（body is required）")
    c = container()
    try:
        with c.session_factory() as s, s.begin():
            row = attachments.add_comment(s, case_id, _work_item_arg(data.get("work_item_id")), data["body"],
                                          p.username, c.clock.now())
    except attachments.AttachmentRefused as err:
        raise ApiError(422, "invalid", str(err)) from None
    return _json(row.__dict__, 201)


@bp.get("/api/cases/<int:case_id>/attachments")
def attachments_json(case_id: int):
    _api_case(case_id)
    with container().extras["read_sessions"]() as s:
        rows = attachments.list_attachments(s, case_id)
    return _json({"attachments": [dict(r.__dict__, url=url_for("casepage.download_json", case_id=case_id,
                                                               attachment_id=r.id)) for r in rows]})


@bp.post("/api/cases/<int:case_id>/attachments")
def upload_json(case_id: int):
    p = _api_case(case_id)
    _refuse_read_only(p, case_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, "malformed", "请以 multipart 字段 file 上传文件（upload the file as multipart field 'file'）")
    try:
        info = _store(p, case_id, _work_item_arg(request.form.get("work_item_id")), upload)
    except attachments.AttachmentRefused as err:
        status = 413 if re.search(r"过大", str(err)) else 422
        raise ApiError(status, "too_large" if status == 413 else "invalid", str(err)) from None
    return _json(info.__dict__, 201)


@bp.get("/api/cases/<int:case_id>/attachments/<int:attachment_id>")
def download_json(case_id: int, attachment_id: int):
    p = require_login()
    return _download(p, case_id, attachment_id)


# ---------------------------------------------------------------- actions (web/casepage/actions.py)

@bp.get("/cases/<int:case_id>/actions/<any(pause, resume, retry, correct, supervise, handover, accountability, withdraw, decline_withdrawal):action>")
def action_confirm(case_id: int, action: str):
    """What the action will do, with its form: nothing is done until the form is confirmed."""
    p = page_principal()
    _visible(p, case_id)
    view = container().runtime.get_case(case_id)
    offered = actions.available(p, view, _task_url)
    if action not in offered:
        raise actions.refused(_("您不能对本件执行此操作。"))
    deadlines = [dict(d, due_date=due_date_of(d["due_at"])) for d in view.deadlines]
    return render_template("casepage/action.html", action=action, case_id=case_id, view=view,
                           case_no=view.case_no or (view.data or {}).get("case_no") or "", deadlines=deadlines,
                           target=offered.get("supervise"), basis=clock_governance.HEARING_BASIS,
                           target_due=due_date_of(offered["supervise"].due_at)
                           if offered.get("supervise") and offered["supervise"].due_at else None,
                           handover=actions.handover_rows(p, view) if action == "handover" else [],
                           accountability_targets=offered.get("accountability") or [],
                           accountability_kinds=actions.accountability_kinds(),
                           withdrawal=offered.get("withdraw"), withdrawal_channels=actions.withdrawal_channels(),
                           back=url_for("casepage.case_page", case_id=case_id))


@bp.post("/cases/<int:case_id>/actions/<any(pause, resume, retry, correct, supervise, accountability, withdraw, decline_withdrawal):action>")
def action_do(case_id: int, action: str):
    p = page_principal()
    _visible(p, case_id)
    view = container().runtime.get_case(case_id)
    try:
        flash(actions.perform(p, view, action, request.form), "success")
    except actions.Undone as undone:
        flash(str(undone), "error")
        return redirect(url_for("casepage.action_confirm", case_id=case_id, action=action))
    return redirect(url_for("casepage.case_page", case_id=case_id) + "#timeline")
