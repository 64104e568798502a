"""The designer area's part of `/api`: deployed definitions, deploying files, starting a process."""
from __future__ import annotations

from flask import jsonify, request

from engine.definitions import DefinitionError, SourceFile
from services import parties

from ..auth import ApiError, current_principal, login_required, roles_required
from ..http import api_part, body, container, ok
from .simulation import problem_json, simulation_json

bp = api_part(__name__)
MAX_UPLOAD_FILES = 50


@bp.get("/process-definitions")
@login_required
def list_definitions():
    return ok({"definitions": container().runtime.list_definitions()})


@bp.post("/process-definitions")
@roles_required("designer", "admin")
def deploy_definitions():
    files = request.files.getlist("files") or list(request.files.values())
    if not files:
        raise ApiError(400, "malformed", "请以 multipart 上传至少一个 BPMN/DMN/表单文件（upload files as multipart field 'files'）")
    if len(files) > MAX_UPLOAD_FILES:
        raise ApiError(400, "malformed", f"一次最多上传 {MAX_UPLOAD_FILES} 个文件（too many files）")
    sources = [SourceFile(f.filename or "upload.bpmn", f.read()) for f in files]
    p = current_principal()
    try:
        versions, report = container().runtime.deploy_and_report(sources, actor=p.username,
                                                                 comment=request.form.get("comment", ""))
    except DefinitionError as err:
        return jsonify({"error": {"code": "invalid_definition",
                                  "message": f"部署失败：{len(err.problems)} 个问题，未部署任何文件（nothing was deployed）",
                                  "details": None},
                        "errors": [problem_json(pr) for pr in err.problems],
                        **simulation_json(err)}), 422
    return ok({"versions": [v.__dict__ for v in versions], "simulation": report.to_dict()}, 201)


@bp.post("/process-definitions/<key>/instances")
@roles_required("designer", "admin")
def start_instance(key: str):
    data = body().get("data", {})
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "data 必须是对象（data must be an object）")
    c = container()  # people in the start data go to the sealed party table, as at the desk (services/parties.py)
    view = parties.start_case(c.runtime, c.extras["vault"], key, data, current_principal().username, c.clock.now())
    return ok({"id": view.id, "status": view.status, "version": view.version,
               "definition_version": view.definition_version}, 201)
