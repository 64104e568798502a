"""The designer's imports and tables: a foreign BPMN file imported as a draft, and the lane table.

`POST /api/designer/import` (multipart `file`, optional `key`) and the form on `/designer` make an uploaded file
the draft of a process (`services.foreign_import`) and answer with every problem on its element; the modeler
opens the draft with the problems marked. `/designer/lane-roles` (page) and `/api/designer/lane-roles` (JSON)
show and change processes/lane_roles.yaml (`services.lane_roles`); a change is a settings change in the security
log (web/security_events.py). Designers and admins only; forms carry the CSRF token.
"""
from __future__ import annotations

from pathlib import Path

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from services import foreign_import, lane_roles
from services.roles import ROLE_LABELS

from ..auth import ApiError, csrf_ok, current_principal, roles_required
from ..http import body, container, ok
from ..ui import page_principal
from .pages import DESIGNERS, _problem, bp

MAX_IMPORT_BYTES = 5 * 1024 * 1024 + 1  # the parser refuses anything larger with its own message


def _upload() -> tuple[str, bytes]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, "malformed", "请以 multipart 字段 file 上传一个 .bpmn 文件（upload a .bpmn file as 'file'）")
    try:
        return upload.filename, upload.stream.read(MAX_IMPORT_BYTES)
    finally:
        upload.close()


def _import(name: str, content: bytes):
    """The upload as a draft; a key that already has someone's draft is a 409 for the API and the page alike."""
    c = container()
    try:
        return foreign_import.import_draft(c.runtime, c.session_factory, name, content, key=request.form.get("key"),
                                           author=current_principal().username, now=c.clock.now(),
                                           replace=request.form.get("replace") in ("1", "on", "true"))
    except foreign_import.DraftExists as err:
        raise _draft_exists(err) from None


def _draft_exists(err: foreign_import.DraftExists) -> ApiError:
    d = err.draft
    return ApiError(409, "conflict", _("流程 %(key)s 已有 %(author)s 于 %(at)s 保存的草稿：导入会替换它。请先与其确认，"
                                       "或勾选“替换已有草稿”后重新导入。", key=d.process_key, author=d.author,
                                       at=d.updated_at.strftime("%Y-%m-%d %H:%M")),
                    {"key": d.process_key, "author": d.author, "updated_at": d.updated_at.isoformat()})


@bp.post("/api/designer/import")
@roles_required(*DESIGNERS)
def import_api():
    name, content = _upload()
    try:
        result = _import(name, content)
    except foreign_import.ImportRefused as err:
        return ok({"error": {"code": "invalid_definition", "details": None,
                             "message": "无法导入：文件无法读取为流程（the file cannot be imported）"},
                   "problems": [_problem(p) for p in err.problems]}, 422)
    return ok({"key": result.key, "file": result.file, "created": result.created,
               "edit_url": url_for("designer.edit", key=result.key),
               "problems": [_problem(p) for p in result.problems],
               "warnings": [_problem(p) for p in result.warnings]}, 201)


@bp.post("/designer/import")
def import_page():
    page_principal(*DESIGNERS)
    if not csrf_ok(request.form.get("csrf_token", "")):
        raise ApiError(403, "csrf", _("表单已过期，请重新打开页面后再导入"))
    name, content = _upload()
    try:
        result = _import(name, content)
    except foreign_import.ImportRefused as err:
        return render_template("designer/import_refused.html", name=name, problems=err.problems), 422
    return redirect(url_for("designer.edit", key=result.key))


# ---------------------------------------------------------------- the lane table

def _table_path() -> Path:
    return Path(container().settings.processes_dir) / lane_roles.FILE_NAME


def _write(rows) -> None:
    try:
        lane_roles.write(_table_path(), rows)
    except OSError as err:  # e.g. processes/ mounted read-only: say so rather than fail with a 500
        raise ApiError(503, "not_writable", f"无法保存泳道角色映射表（{type(err).__name__}）：请管理员检查 processes/ 是否可写"
                                            f"（the lane table cannot be written）") from None


def _rows() -> tuple[list[dict], list[dict]]:
    rows, problems = lane_roles.read(_table_path())
    return ([{"lane": r.lane, "role": r.role, "line": r.line} for r in rows],
            [{"line": p.line, "row": p.row, "message": p.message} for p in problems])


@bp.get("/designer/lane-roles")
def lane_roles_page():
    page_principal(*DESIGNERS)
    rows, problems = _rows()
    return render_template("designer/lane_roles.html", rows=rows, problems=problems, errors=[], roles=ROLE_LABELS)


@bp.post("/designer/lane-roles")
def save_lane_roles_page():
    page_principal(*DESIGNERS)
    if not csrf_ok(request.form.get("csrf_token", "")):
        raise ApiError(403, "csrf", _("表单已过期，请重新打开页面后再保存"))
    sent = [{"lane": lane, "role": role} for lane, role in
            zip(request.form.getlist("lane"), request.form.getlist("role"), strict=False) if lane.strip() or role.strip()]
    rows, errors = lane_roles.validate(sent)
    if errors:
        return render_template("designer/lane_roles.html", rows=sent, problems=[], errors=errors,
                               roles=ROLE_LABELS), 422
    _write(rows)
    return redirect(url_for("designer.lane_roles_page", saved=1))


@bp.get("/api/designer/lane-roles")
@roles_required(*DESIGNERS)
def get_lane_roles():
    rows, problems = _rows()
    return ok({"rows": rows, "problems": problems,
               "roles": [{"name": k, "label": _(v)} for k, v in ROLE_LABELS.items()]})


@bp.put("/api/designer/lane-roles")
@roles_required(*DESIGNERS)
def put_lane_roles():
    rows, errors = lane_roles.validate(body().get("rows"))
    if errors:
        raise ApiError(422, "invalid", "；".join(errors))
    _write(rows)
    return ok({"rows": [{"lane": r.lane, "role": r.role} for r in rows]})
