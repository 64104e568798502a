"""The designer: edit, validate and deploy processes in the browser, compare versions, move running cases.

Pages (designers and admins): `/designer` (processes), `/designer/<key>/edit[?version=N]` (the modeler),
`/designer/<key>/versions`, `/designer/<key>/diff?a=N&b=M` (what changed: `services.definition_diff`, also as JSON),
`/designer/<key>/migrate[?to=N]`.
JSON under `/api/designer/...` (see web/designer/openapi.py). Drafts, validation and deployment go through
`services.store.drafts` and `Runtime.check/deploy`; migration through `engine.case_migration`.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from engine.case_migration import MAX_BATCH, CaseMigration, describe
from engine.definitions import DefinitionError, SourceFile
from engine.store import Case
from services import definition_diff, foreign_import
from services.store import drafts

from .. import visibility
from ..auth import ApiError, current_principal, roles_required
from ..http import body, container, ok
from ..ui import ROLE_LABELS, page_principal
from . import simulation

bp = Blueprint("designer", __name__)
DESIGNERS = ("designer", "admin")
MAX_COMMENT = 2000
MAX_ID = 2**53  # ids and versions beyond this are typos or probes; the database would refuse them less politely


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def _version_arg() -> int | None:
    version = request.args.get("version", type=int)
    if version is not None and not _is_id(version):
        raise ApiError(400, "malformed", "version 必须是正整数（version must be a positive whole number）")
    return version


# ---------------------------------------------------------------- pages

@bp.get("/designer")
def index():
    page_principal(*DESIGNERS)
    c = container()
    definitions = c.runtime.list_definitions()
    with c.session_factory() as s:
        draft_of = {d["key"]: drafts.get(s, d["key"]) for d in definitions}
        imported = foreign_import.imported_new(s)
    return render_template("designer/index.html", definitions=definitions, draft_of=draft_of, imported=imported)


@bp.get("/designer/<key>/edit")
def edit(key: str):
    page_principal(*DESIGNERS)
    version = _version_arg()
    with container().session_factory() as s:
        draft = drafts.get(s, key)
        if version is None and draft is not None and draft.base_definition_id is None:  # imported, not deployed
            return render_template("designer/edit.html", key=key, name=key, version=None, requested=None,
                                   draft=draft)
        row = _version_or_404(s, key, version)
    return render_template("designer/edit.html", key=key, name=row.name, version=row.version,
                           requested=version, draft=draft)


@bp.get("/designer/<key>/versions")
def versions(key: str):
    page_principal(*DESIGNERS)
    with container().session_factory() as s:
        rows = drafts.deployments(s, key)
    if not rows:
        raise ApiError(404, "not_found", _("没有这个流程：%(key)s", key=key))
    return render_template("designer/versions.html", key=key, name=rows[0]["name"], versions=rows)


@bp.get("/designer/<key>/diff")
def diff(key: str):
    page_principal(*DESIGNERS)
    name, a, b, mains, changes = _version_diff(key, strict=False)
    return render_template("designer/diff.html", key=key, name=name, a=a, b=b, main_a=mains[0], main_b=mains[1],
                           diff=changes, counts=changes.counts())


def _version_diff(key: str, strict: bool):
    """Versions a and b of the process (?a=N&b=M; by default the one before the latest and the latest) and what
    changed between them (services.definition_diff), with labels in the request's language."""
    a, b = (_positive_arg(n, strict) for n in ("a", "b"))
    with container().session_factory() as s:
        rows = drafts.deployments(s, key)
        if not rows:
            raise ApiError(404, "not_found", _("没有这个流程：%(key)s", key=key))
        latest = rows[0]["version"]
        a, b = a or max(1, latest - 1), b or latest
        old_row, new_row = _version_or_404(s, key, a), _version_or_404(s, key, b)
        mains = (_main_file(old_row), _main_file(new_row))
        old, new = drafts.sources_of(old_row), drafts.sources_of(new_row)
    return rows[0]["name"], a, b, mains, definition_diff.compare(old, new, _)


def _main_file(row) -> str | None:
    try:
        return drafts.main_file(row)
    except drafts.DraftError:
        return None  # the lists are still right; the page says it cannot draw the diagrams


def _positive_arg(name: str, strict: bool) -> int | None:
    """A version number from the query. The API refuses a malformed one; the page, as before, reads what is not a
    number (or 0) as absent and answers 404 for a negative or huge one."""
    text, value = request.args.get(name), request.args.get(name, type=int)
    if strict and text is not None and not _is_id(value):
        raise ApiError(400, "malformed", f"{name} 必须是正整数的版本号（{name} must be a positive version number）")
    if value and not _is_id(value):
        raise ApiError(404, "not_found", _("流程 %(key)s 没有版本 %(v)s", key=request.view_args["key"], v=value))
    return value or None


@bp.get("/designer/<key>/migrate")
def migrate_page(key: str):
    page_principal(*DESIGNERS)
    with container().session_factory() as s:
        rows = drafts.deployments(s, key)
    if not rows:
        raise ApiError(404, "not_found", _("没有这个流程：%(key)s", key=key))
    to = request.args.get("to", type=int) or rows[0]["version"]
    target = next((r for r in rows if r["version"] == to), None)
    if target is None:
        raise ApiError(404, "not_found", _("流程 %(key)s 没有版本 %(v)s", key=key, v=to))
    return render_template("designer/migrate.html", key=key, name=rows[0]["name"], target=target, versions=rows)


def _version_or_404(s, key: str, version: int | None):
    try:
        return drafts.version_row(s, key, version)
    except drafts.DraftError as err:
        raise ApiError(404, "not_found", str(err)) from None


# ---------------------------------------------------------------- what the properties panel offers

@bp.get("/api/designer/handlers")
@roles_required(*DESIGNERS)
def list_handlers():
    return ok({"handlers": container().runtime.handlers.describe()})


@bp.get("/api/designer/forms")
@roles_required(*DESIGNERS)
def list_forms():
    return ok({"forms": sorted(_form_files())})


@bp.get("/api/designer/roles")
@roles_required(*DESIGNERS)
def list_roles():
    return ok({"roles": [{"name": k, "label": _(v)} for k, v in ROLE_LABELS.items()]})


def _form_files() -> dict[str, Path]:
    folder = Path(container().settings.processes_dir) / "forms"
    return {p.name: p for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


# ---------------------------------------------------------------- processes, drafts, validation, deployment

@bp.get("/api/designer/processes/<key>")
@roles_required(*DESIGNERS)
def get_process(key: str):
    version = _version_arg()
    with container().session_factory() as s:
        draft = drafts.get(s, key)
        if version is None and draft is not None and draft.base_definition_id is None:  # imported, not deployed
            return ok({"process_key": key, "name": key, "definition_id": None, "version": None,
                       "main_file": next(iter(draft.files)), "files": draft.files, "draft": draft.to_dict()})
        row = _version_or_404(s, key, version)
        payload = {"process_key": key, "name": row.name, "definition_id": row.id, "version": row.version,
                   "main_file": drafts.main_file(row), "files": drafts.sources_of(row),
                   "draft": draft.to_dict() if draft else None}
    return ok(payload)


@bp.get("/api/designer/processes/<key>/diff")
@roles_required(*DESIGNERS)
def get_diff(key: str):
    _name, a, b, mains, changes = _version_diff(key, strict=True)
    return ok({"process_key": key, "a": a, "b": b, "main_files": {"a": mains[0], "b": mains[1]}, **changes.to_dict()})


@bp.get("/api/designer/processes/<key>/versions")
@roles_required(*DESIGNERS)
def get_versions(key: str):
    with container().session_factory() as s:
        rows = drafts.deployments(s, key)
    if not rows:
        raise ApiError(404, "not_found", f"没有这个流程：{key}（no such process）")
    return ok({"process_key": key, "versions": rows})


@bp.put("/api/designer/processes/<key>/draft")
@roles_required(*DESIGNERS)
def save_draft(key: str):
    base_id, files = _edit_request()
    data = body()
    expected = {}
    if "expected_updated_at" in data:
        if data["expected_updated_at"] is not None and not isinstance(data["expected_updated_at"], str):
            raise ApiError(400, "malformed", "expected_updated_at 必须是时间文本或 null（must be a timestamp or null）")
        expected["expected_updated_at"] = data["expected_updated_at"]
    c = container()
    with c.session_factory() as s, s.begin():
        try:
            view = drafts.save(s, key, base_id, files, current_principal().username, c.clock.now(), **expected)
        except drafts.DraftConflict as err:
            raise ApiError(409, "conflict", str(err)) from None
        except drafts.DraftError as err:
            raise ApiError(422, "invalid", str(err)) from None
        payload = view.to_dict()
    return ok({"draft": payload})


@bp.delete("/api/designer/processes/<key>/draft")
@roles_required(*DESIGNERS)
def discard_draft(key: str):
    with container().session_factory() as s, s.begin():
        found = drafts.discard(s, key)
    if not found:
        raise ApiError(404, "not_found", f"流程 {key} 没有草稿（no draft）")
    return ok({"discarded": True})


@bp.post("/api/designer/processes/<key>/validate")
@roles_required(*DESIGNERS)
def validate(key: str):
    base_id, files = _edit_request()
    bundle = _bundle(key, base_id, files)
    problems, report = simulation.validate(container().runtime, bundle)
    return ok({"ok": not problems and (report is None or report.ok), "problems": [_problem(p) for p in problems],
               "warnings": [_problem(p) for p in drafts.warnings_of(bundle)],
               "simulation": report.to_dict() if report is not None else None})


@bp.post("/api/designer/processes/<key>/deploy")
@roles_required(*DESIGNERS)
def deploy(key: str):
    base_id, files = _edit_request()
    comment = body().get("comment")
    if not isinstance(comment, str) or not comment.strip():
        raise ApiError(422, "comment_required", "请填写部署说明：改了什么、为什么改（a deployment comment is required）")
    if len(comment) > MAX_COMMENT:
        raise ApiError(422, "invalid", f"部署说明最多 {MAX_COMMENT} 字（comment too long）")
    c = container()
    actor = current_principal().username
    try:
        versions_, report = c.runtime.deploy_and_report(_bundle(key, base_id, files), actor=actor,
                                                        comment=comment.strip())
    except DefinitionError as err:
        return jsonify({"error": {"code": "invalid_definition",
                                  "message": f"未部署：发现 {len(err.problems)} 个问题，请先修改（nothing was deployed）",
                                  "details": None},
                        "problems": [_problem(p) for p in err.problems], **simulation.simulation_json(err)}), 422
    with c.session_factory() as s, s.begin():
        drafts.discard(s, key)
    mine = [v for v in versions_ if v.process_key == key]
    return ok({"versions": [v.__dict__ for v in versions_], "version": mine[0].version if mine else None,
               "created": bool(mine and mine[0].created),
               "simulation": report.to_dict()}, 201)


def _edit_request() -> tuple[int, dict[str, str]]:
    data = body()
    base_id, files = data.get("base_definition_id"), data.get("files")
    if not _is_id(base_id) and base_id is not None:  # None: a process imported as a draft, never deployed
        raise ApiError(400, "malformed", "需要 base_definition_id（整数）：草稿基于哪个已部署版本（base version id required）")
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ApiError(400, "malformed", "files 必须是 {文件名: 文本}（files must map file names to text）")
    return base_id, files


def _bundle(key: str, base_id: int | None, files: dict[str, str]) -> list[SourceFile]:
    """The base version's files with the edits, plus any form of processes/forms the edits newly name."""
    with container().session_factory() as s:
        base = s.get(drafts.ProcessDefinition, base_id) if base_id is not None else None
        imported = drafts.get(s, key) if base_id is None else None
        if (base is None or base.process_key != key) and (imported is None or imported.base_definition_id):
            raise ApiError(422, "invalid", f"版本 {base_id} 不属于流程 {key}（base version mismatch）")
        known = drafts.sources_of(base) if base is not None else imported.files
    unknown = sorted(set(files) - set(known))
    if unknown:
        raise ApiError(422, "invalid", f"文件 {'、'.join(unknown)} 不属于流程 {key}（unknown files）")
    bundle = drafts.bundle(base, files)
    names = {f.name for f in bundle}
    text = "\n".join(files.values())
    for name, path in _form_files().items():
        if name not in names and f'"{name}"' in text:
            bundle.append(SourceFile(name, path.read_bytes()))
    return bundle


def _problem(p) -> dict:
    return dict(simulation.problem_json(p), text=str(p))


# ---------------------------------------------------------------- migration

@bp.post("/api/designer/migrations/check")
@roles_required(*DESIGNERS)
def migration_check():
    data = body()
    to, case_ids = _migration_request(data, require_cases=False)
    from_id = data.get("from_definition_id")
    if from_id is not None and not _is_id(from_id):
        raise ApiError(400, "malformed", "from_definition_id 必须是版本的 id（must be a definition id）")
    p = current_principal()
    if case_ids is not None:
        _refuse_unseen(p, case_ids)
    checks = CaseMigration(container().runtime).check(to, case_ids, from_definition_id=from_id)
    with container().extras["read_sessions"]() as s:
        seen = visibility.visible_case_ids(s, p, [c.case_id for c in checks])
    result = describe([c for c in checks if c.case_id in seen])
    # cases the caller may not see (the discipline track) are counted, never named
    result["hidden"] = sum(c.case_id not in seen for c in checks)
    return ok(result)


@bp.post("/api/designer/migrations")
@roles_required(*DESIGNERS)
def migration_run():
    to, case_ids = _migration_request(body(), require_cases=True)
    p = current_principal()
    _refuse_unseen(p, case_ids)
    moved = CaseMigration(container().runtime).migrate(to, case_ids, actor=p.username)
    return ok({"migrated": [c.to_dict() for c in moved]}, 201)  # numbers, titles, versions: no personal data


def _refuse_unseen(p, case_ids: list[int]) -> None:
    """A case the caller may not see is neither checked nor moved (403, logged; the message names no case)."""
    if len(case_ids) > MAX_BATCH:
        return  # the migration refuses the batch itself, with its own message
    with container().extras["read_sessions"]() as s:
        existing = set(s.scalars(select(Case.id).where(Case.id.in_(sorted(set(case_ids))))))
        unseen = existing - visibility.visible_case_ids(s, p, existing)  # an unknown id stays a 404
    if unseen:
        raise visibility.refuse(p, f"migration of {len(unseen)} case(s)",
                                "所选案件中有您无权查看的案件，请只选择迁移检查列出的案件"
                                "（some of the selected cases are not visible to you; select only listed cases）")


def _migration_request(data: dict, require_cases: bool) -> tuple[int, list[int] | None]:
    to, case_ids = data.get("to_definition_id"), data.get("case_ids")
    if not _is_id(to):
        raise ApiError(400, "malformed", "需要 to_definition_id（目标版本的 id）（target version id required）")
    if case_ids is None and not require_cases:
        return to, None
    if not isinstance(case_ids, list) or not all(_is_id(i) for i in case_ids):
        raise ApiError(400, "malformed", "case_ids 必须是案件 id 的列表（case_ids must be a list of case ids）")
    return to, case_ids

