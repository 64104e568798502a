"""The handlers' desk: registration (with likely repeats), the task list, task forms, the case search; and the
JSON endpoints `POST /api/cases` and `POST /api/cases/repeats`.

Who sees what is decided in web/visibility.py; petitioners' personal data is masked in every list here.
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date
from math import ceil

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    has_app_context,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import bindparam, select

from engine.clock import SHANGHAI
from engine.runtime import Conflict, NotFound, task_view
from engine.store import Case, ProcessDefinition, WorkItem
from infra import access_log
from services import (
    case_numbers,
    case_search,
    clock_governance,
    co_opinions,
    element_meanings,
    form_checks,
    identity_checks,
    incidents as incident_model,
    parties,
    portal,
    query_code,
    redo,
    registration as reg,
    repeat_originals,
    second_assignment,
    units as org_units,
)
from services.casework import CHANNEL_CODES
from services.colleagues import colleagues_in as colleagues_of_unit
from services.decision_facts import facts as decision_facts_of
from services.index_key import IndexKey
from services.masking import mask_personal_data, mask_petitioner
from services.store.handling import SavedTaskFilter

from .. import personal_data, security_events, visibility
from ..auth import ApiError, Principal, require_login
from ..http import container, ok, org_chart
from ..ui import page_principal
from . import forms, task_list

bp = Blueprint("handling", __name__)
log = logging.getLogger("lianxin.handling")

REGISTER_ROLES = ("registrar", "county_office", "bureau", "admin")
REGISTER_SCHEMA = "petition_register.schema.json"
PAGE_SIZE = 20


# ---------------------------------------------------------------- shared helpers

def index_key() -> IndexKey:
    """The repeat index's key, derived from the deployment's secret key (services/index_key.py)."""
    settings = container().settings
    return IndexKey.from_secret_key(settings.secret_key, settings.crypto_suite)


def register_schema() -> dict:
    path = container().settings.processes_dir / "forms" / REGISTER_SCHEMA
    return json.loads(path.read_text(encoding="utf-8"))


def categories() -> list[reg.Category]:
    """Parsed once per change of the file (parsing the YAML took ~20 ms of every registration)."""
    path = container().settings.processes_dir / "categories.yaml"
    stamp = path.stat().st_mtime_ns
    cached = container().extras.get("registration_categories")
    if cached is None or cached[0] != stamp:
        cached = (stamp, reg.load_categories(path))
        container().extras["registration_categories"] = cached
    return cached[1]


def locations() -> list[tuple[str, str]]:
    """The places a problem can be located in; read with the registering office when the request asked for it."""
    if has_request_context() and "unit_locations" in g:
        return g.unit_locations
    with container().extras["read_sessions"]() as s:
        return org_units.locations(s)


def unit_names() -> dict[str, str]:
    with container().extras["read_sessions"]() as s:
        return org_units.unit_names(s)


def registering_unit(p: Principal) -> str:
    """The petition office the registrar works in (their own unit of kind petition_office, where they hold a
    registering role), else the city bureau."""
    direct = frozenset(unit for role, unit, _ in p.roles if role in REGISTER_ROLES)
    kept = g.setdefault("registering_unit", {}) if has_request_context() else {}  # a registration asks twice
    if direct not in kept:
        # the places too, in the same statement: the registration's checks ask for them next (`locations`)
        with container().extras["read_sessions"]() as s:
            kept[direct], places = org_units.office_and_locations(s, direct)
        if has_request_context():
            g.unit_locations = places
    return kept[direct]


def _say(message: str, params: dict, in_app: bool = True) -> str:
    """A service's message id in the page's language (Chinese outside a request: a unit test of the rules)."""
    if not in_app:
        return message % params if params else message
    return _(message, **params) if params else _(message)


def check_registration(form: dict, office: str | None = None) -> dict[str, str]:
    in_app = has_app_context()  # outside a request (a unit test of the rules): today's date, Chinese messages
    errors = forms.validate(register_schema(), form)
    for problem in form_checks.unit_problems(register_schema(), form, org_chart(), office):
        errors.setdefault(problem.field, _say(problem.message, problem.params, in_app))
    for problem in reg.group_problems(form) + (reg.category_problems(categories(), form["category"],
                                                                     form.get("subcategory"))
                                               if "category" not in errors and form.get("category") else []):
        errors.setdefault(problem.field, _say(problem.message, problem.params, in_app))
    if "location" not in errors and form.get("location") and form["location"] not in dict(locations()):
        errors["location"] = _say("问题发生地不在组织机构中，请从列表中选择", {}, in_app)
    today = container().clock.now().astimezone(SHANGHAI).date() if in_app else date.today()
    for problem in identity_checks.registration_problems(form, today):
        if problem.field not in errors:  # the schema's message (type, length) comes first
            params = {k: _say(v, {}, in_app) if k in ("channel", "what") else v for k, v in problem.params.items()}
            errors[problem.field] = _say(problem.message, params, in_app)
    return errors


@dataclass
class Registered:
    id: int
    case_no: str | None
    query_code: str | None
    status: str
    merged_into: str | None = None


def register_petition(p: Principal, form: dict, merge_into: int | None) -> Registered:
    """Register a petition, or a suggestion (nature 建议意见: the suggestion process, 人民建议征集)."""
    c = container()
    process = reg.process_for(form)
    if merge_into is not None and process != reg.PROCESS:
        raise ApiError(422, "invalid", _("人民建议不并入信访事项，请取消“并入原件”后登记。"))
    if merge_into is not None:
        with c.extras["read_sessions"]() as s:
            visibility.visible_case(s, p, merge_into)
    data = reg.start_data(form, registering_unit(p))
    code, data[query_code.START_FIELD] = query_code.issue(index_key())  # the case keeps the hash; the code is shown once
    now, key = c.clock.now(), index_key()
    # The people go to the party table, sealed; the case (and its start event) keeps references and masked values.
    def after(s, started, plain):
        # A start that runs into an incident is not a registration: roll it all back and say why.
        incident_model.refuse_failed_start(s, c.runtime, started)
        reg.index_started(s, started, plain, now, key)
        portal.queue_receipt(c, s, started, code, now)  # the receipt SMS (query code, /portal) to a mobile number

    view = parties.start_case(c.runtime, c.extras["vault"], process, data, p.username, now, after=after)
    registration = view.data.get("registration") or {}
    merged = None
    if merge_into is not None and view.status != "incident":
        view = reg.merge_into_original(c.runtime, view, merge_into, p.username)
        merged = view.data.get("original_case_no")
    log.info("registered case %s by %s%s", view.id, p.username, f" (merged into {merged})" if merged else "")
    return Registered(view.id, view.data.get("case_no") or registration.get("case_no"), code, view.status, merged)


def repeat_candidates(p: Principal, form: dict) -> list[dict]:
    c = container()
    found = reg.find_repeats(c.session_factory, c.runtime, form, c.clock.now(), index_key(), vault=c.extras["vault"])
    if not found:
        return []
    with c.extras["read_sessions"]() as s:
        hidden = set(s.scalars(select(Case.id).where(Case.id.in_([x.case_id for x in found]),
                                                     ~visibility.case_filter(p) & _on_discipline_track())))
    return reg.candidates_json(c.runtime, [x for x in found if x.case_id not in hidden])


def _repeats_for(p: Principal, form: dict) -> list[dict]:
    """Likely repeats to merge a petition into; a suggestion (人民建议) is never merged, so none are looked for."""
    return repeat_candidates(p, form) if reg.process_for(form) == reg.PROCESS else []


def _on_discipline_track():
    """Cases on the discipline track are never offered as repeat candidates to someone who may not see them."""
    return visibility.on_discipline_track(Case.id)


def _merge_target(raw) -> int | None:
    if raw in (None, "", 0, "0"):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, "malformed", "merge_into 必须是原件的案件 id（merge_into must be a case id）") from None


# ---------------------------------------------------------------- JSON API

@bp.post("/api/cases")
def api_register():
    p = require_login()
    if not p.has_role(*REGISTER_ROLES):
        raise visibility.refuse(p, "POST /api/cases", "登记信访事项需要登记员、县信访局、市信访局或管理员角色"
                                                      "（registering needs registrar, county_office, bureau or admin）")
    payload = _json_body()
    merge_into = _merge_target(payload.pop("merge_into", None))
    dry_run = bool(payload.pop("dry_run", False))
    errors = check_registration(payload, registering_unit(p))
    if errors:
        raise ApiError(422, "invalid", "登记内容有误，请按提示修改（invalid registration）",
                       _with_units(forms.error_list(register_schema(), errors), payload, registering_unit(p)))
    if dry_run:
        return ok({"valid": True, "repeats": _repeats_for(p, payload)})
    try:
        done = register_petition(p, payload, merge_into)
    except incident_model.StartFailed as err:
        log.warning("registration by %s not saved: start failed at %s (%s)", p.username, err.step, err.engine_message)
        raise ApiError(422, "start_failed", str(err), {"step": err.step, "problem": err.explanation.plain,
                                                       "todo": err.explanation.todo}) from None
    return ok(done.__dict__, 201)


@bp.post("/api/cases/repeats")
def api_repeats():
    p = require_login()
    if not p.has_role(*REGISTER_ROLES):
        raise visibility.refuse(p, "POST /api/cases/repeats", "查重需要登记权限（needs a registering role）")
    payload = _json_body()
    return ok({"repeats": repeat_candidates(p, payload)})


@bp.post("/api/tasks/<int:task_id>/reassign")
def api_reassign(task_id: int):
    return _api_hand_over(task_id, "reassigned")


@bp.post("/api/tasks/<int:task_id>/delegate")
def api_delegate(task_id: int):
    return _api_hand_over(task_id, "delegated")


def _api_hand_over(task_id: int, kind: str):
    p = require_login()
    payload = _json_body()
    to_user = payload.get("to")
    if not isinstance(to_user, str) or not to_user:
        raise ApiError(400, "malformed", "需要 to（接收人用户名）（send the receiving username as to）")
    view = hand_over(p, task_id, to_user, kind, str(payload.get("note", "")))
    return ok(view.__dict__)


def _with_units(entries: list[dict], form: dict, office: str) -> list[dict]:
    """Errors of unit fields name the valid units (code and name)."""
    problems = {x.field: x for x in form_checks.unit_problems(register_schema(), form, org_chart(), office)}
    return [dict(e, **({"valid_units": problems[e["field"]].json()["valid_units"]} if e["field"] in problems else {}))
            for e in entries]


def _json_body() -> dict:
    data = request.get_json(silent=True) if request.data else {}
    if not isinstance(data, dict):
        raise ApiError(400, "malformed", "请求体必须是 JSON 对象（request body must be a JSON object）")
    return data


# ---------------------------------------------------------------- hand over (reassign / delegate)

def colleagues(item: WorkItem, kind: str) -> list[tuple[str, str]]:
    """Who may receive the item: users of its unit; for a reassignment they must also hold its role."""
    with container().extras["read_sessions"]() as s:
        return colleagues_of_unit(s, item.unit, item.role if kind == "reassigned" else None)


def colleagues_in(unit: str) -> list[tuple[str, str]]:
    with container().extras["read_sessions"]() as s:
        return colleagues_of_unit(s, unit)


def hand_over(p: Principal, task_id: int, to_user: str, kind: str, note: str):
    with container().extras["read_sessions"]() as s:
        item = visibility.work_item_for_action(s, p, task_id)
    if item.assignee not in (None, p.username) and not visibility.may_hand_over(p, item):
        raise Conflict(f"任务已由 {item.assignee} 认领，只有认领人或负责人可以移交（claimed by someone else）")
    allowed = {u for u, _ in colleagues(item, kind)}
    if to_user not in allowed:
        what = "持有该任务角色的本单位人员" if kind == "reassigned" else "本单位人员"
        raise ApiError(422, "invalid", f"只能移交给{what}（{to_user} is not in unit {item.unit}）")
    return container().runtime.hand_over(task_id, to_user, p.username, kind, note)


# ---------------------------------------------------------------- registration page

DONE_KEY = "handling_registered"  # session: form nonce -> the registration it saved (double submissions)


@bp.route("/register", methods=["GET", "POST"])
def register():
    p = page_principal(*REGISTER_ROLES)
    schema = register_schema()
    values: dict = {"channel": "来访", "petitioners": [{}]}
    errors: dict = {}
    repeats: list[dict] | None = None
    nonce = request.form.get("nonce") or uuid.uuid4().hex
    already = session.get(DONE_KEY, {}).get(nonce)
    if request.method == "POST" and already:
        flash(_("这份登记已经保存过，未重复登记。"), "warning")
        return render_template("handling/registered.html", done=Registered(**already), upload_url=None)
    if request.method == "POST":
        values = form_checks.names_to_codes(schema, forms.parse_form(schema, request.form), org_chart(),
                                            registering_unit(p))
        errors = check_registration(values, registering_unit(p))
        action = request.form.get("action", "check")
        if not errors and action == "check":
            repeats = _repeats_for(p, values)
            if not repeats:
                action = "save"
        if not errors and action in ("save", "merge"):
            merge_into = _merge_target(request.form.get("merge_into")) if action == "merge" else None
            if action == "merge" and merge_into is None:
                errors["merge_into"] = _("请选择要并入的原件")
            else:
                try:
                    done = register_petition(p, values, merge_into)
                except incident_model.StartFailed as err:
                    log.warning("registration by %s not saved: start failed at %s", p.username, err.step)
                    flash(str(err), "error")
                    return render_template("handling/register.html", fields={f.name: f for f in forms.build_fields(
                        schema, values, errors)}, values=values, errors=errors, repeats=None, categories=categories(),
                        nonce=nonce, category_groups=[(x.name, list(x.children)) for x in categories()],
                        locations=locations(), channels=list(CHANNEL_CODES)), 422
                saved = dict(list(session.get(DONE_KEY, {}).items())[-9:])
                saved[nonce] = dict(done.__dict__, query_code=None)  # shown once, not kept in the cookie
                session[DONE_KEY] = saved
                upload = "casepage.upload_form" in current_app.view_functions
                return render_template("handling/registered.html", done=done,
                                       upload_url=url_for("casepage.upload_form", case_id=done.id) if upload else None)
        if errors:
            flash(_("登记内容有误，未保存。请按提示修改后重新提交。"), "error")
    return render_template("handling/register.html", fields={f.name: f for f in forms.build_fields(schema, values, errors)},
                           values=values, errors=errors, repeats=repeats, categories=categories(), nonce=nonce,
                           category_groups=[(x.name, list(x.children)) for x in categories()],
                           locations=locations(), channels=list(CHANNEL_CODES))


# ---------------------------------------------------------------- task list

@bp.get("/tasks")
def tasks():
    p = page_principal()
    c = container()
    now = c.clock.now()
    filters = task_list.TaskFilters.parse(request.args, strict=False)
    try:
        page = max(int(request.args.get("page", 1)), 1)
    except ValueError:
        page = 1
    with c.extras["read_sessions"]() as s:
        found = task_list.fetch(s, p, filters, now, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        rows = found.rows
        choices = task_list.choices(s, p)
        saved = s.scalars(select(SavedTaskFilter).where(SavedTaskFilter.username == p.username)
                          .order_by(SavedTaskFilter.name)).all()
    names = unit_names()
    people = {u: colleagues_in(u) for u in {w.unit for w, *_ in rows if w.unit}}
    items = []
    cal = c.runtime.calendar.calendar() if any(w.due_at for w, *_ in rows) else None  # one snapshot per page
    for w, summary, petitioner, case_no in rows:
        alert, left = c.runtime.alert(w.due_at, now, cal)
        overdue = c.runtime.overdue_workdays(w.due_at, now, cal) if alert == "red" else 0
        items.append({"task": task_view(w), "summary": json.loads(summary or "{}"), "petitioner": petitioner or "",
                      "case_no": case_no, "alert": alert, "workdays_left": left, "overdue_workdays": overdue,
                      "unit_name": names.get(w.unit or "", w.unit or ""),
                      "intended_unit_name": names.get(w.intended_unit or "", w.intended_unit or ""),
                      "may_act": visibility.may_act_on(p, w),
                      "colleagues": [x for x in people.get(w.unit, []) if x[0] != p.username]})
    return render_template("handling/tasks.html", items=items, f=filters.params(), choices=choices, saved=saved,
                           names=names, page=page, pages=max(ceil(found.total / PAGE_SIZE), 1), total=found.total,
                           more=found.more, has_next=len(rows) == PAGE_SIZE and (found.more or page * PAGE_SIZE < found.total),
                           channels=list(CHANNEL_CODES), me_name=p.username,
                           saved_params={x.id: json.loads(x.params) for x in saved})


@bp.post("/tasks/filters")
def save_filter():
    p = page_principal()
    name = (request.form.get("name") or "").strip()[:64]
    params = task_list.TaskFilters.parse(request.form, strict=False).params()
    if not name:
        flash(_("请为筛选条件起一个名称。"), "error")
        return redirect(url_for("handling.tasks", **params))
    c = container()
    with c.session_factory() as s, s.begin():
        row = s.scalar(select(SavedTaskFilter).where(SavedTaskFilter.username == p.username,
                                                     SavedTaskFilter.name == name))
        if row is None:
            s.add(SavedTaskFilter(username=p.username, name=name, params=json.dumps(params, ensure_ascii=False),
                                  created_at=c.clock.now()))
        else:
            row.params = json.dumps(params, ensure_ascii=False)
    flash(_("筛选条件“%(name)s”已保存。", name=name), "success")
    return redirect(url_for("handling.tasks", **params))


@bp.post("/tasks/filters/<int:filter_id>/delete")
def delete_filter(filter_id: int):
    p = page_principal()
    with container().session_factory() as s, s.begin():
        row = s.get(SavedTaskFilter, filter_id)
        if row is None or row.username != p.username:
            raise ApiError(404, "not_found", _("没有这个筛选条件。"))
        s.delete(row)
    flash(_("筛选条件已删除。"), "success")
    return redirect(url_for("handling.tasks"))


@bp.post("/tasks/<int:task_id>/<any(claim, unclaim, reassign, delegate):action>")
def task_action(task_id: int, action: str):
    p = page_principal()
    back = request.form.get("next") or url_for("handling.tasks")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("handling.tasks")
    try:
        if action in ("claim", "unclaim"):
            with container().extras["read_sessions"]() as s:
                visibility.work_item_for_action(s, p, task_id)
            container().runtime.claim(task_id, p.username, unclaim=action == "unclaim")
            flash(_("已认领任务。") if action == "claim" else _("已退回任务，本单位其他人可认领。"), "success")
        else:
            to_user = request.form.get("to", "")
            hand_over(p, task_id, to_user, "reassigned" if action == "reassign" else "delegated",
                      request.form.get("note", ""))
            flash(_("任务已移交给 %(user)s。", user=to_user), "success")
    except (Conflict, NotFound) as err:
        flash(err.message, "error")
    except ApiError as err:
        if err.status == 403:
            raise
        flash(err.message, "error")
    return redirect(back)


# ---------------------------------------------------------------- task form

def submission_problems(item: WorkItem, case_data: dict, values: dict) -> dict[str, str]:
    """What a task cannot be submitted with beyond its form's schema (field -> message), checked before the step
    runs so that it is refused, not an incident. The triage (meaning `triage`): a 检举控告 names the respondent's
    management level, a 重复信访 names an existing original (whose description it then carries)."""
    if item.element_id not in element_meanings.elements("triage"):
        return {}
    c = container()
    keys = case_numbers.keys_for(c.settings.secret_key, c.settings.previous_secret_keys)
    with c.extras["read_sessions"]() as s:
        return repeat_originals.triage_problems(s, c.runtime, item.case_id, case_data, values, keys)


# (content hash of the deployment's files, form name) -> the form's JSON Schema text. Deployed files never change
# and the hash covers every one of them, so a form found in the case's own deployment is read from the database
# once per process instead of with the whole deployment (every BPMN file) on every submission; the hash, not the
# row id, keys it, so a restored or rebuilt database cannot hand out another deployment's form.
_FORM_TEXTS: dict[tuple[str, str], str] = {}
_FORM_TEXTS_MAX = 1024


# The id and content hash of a case's deployment, in one statement built once.
_DEFINITION_OF_CASE = select(ProcessDefinition.id, ProcessDefinition.content_hash) \
    .join(Case, Case.definition_id == ProcessDefinition.id).where(Case.id == bindparam("case_id"))


def form_schema(item: WorkItem) -> dict | None:
    if not item.form:
        return None
    with container().extras["read_sessions"]() as s:
        # read with the item when it was fetched for an action (web/visibility.py `work_item_for_action`)
        definition_id, content_hash = getattr(item, "case_deployment", None) or s.execute(
            _DEFINITION_OF_CASE, {"case_id": item.case_id}).one()
        text = _FORM_TEXTS.get((content_hash, item.form))
        if text is None:
            sources = json.loads(s.scalar(select(ProcessDefinition.sources_json)
                                          .where(ProcessDefinition.id == definition_id)) or "{}")
            text = sources.get(item.form)
            if text is not None:
                if len(_FORM_TEXTS) >= _FORM_TEXTS_MAX:
                    _FORM_TEXTS.clear()
                _FORM_TEXTS[(content_hash, item.form)] = text
            else:  # a form of a called process lives in that process's newest deployment holding it (not kept)
                for other in s.scalars(select(ProcessDefinition.sources_json).where(
                        ProcessDefinition.process_key == item.process_key).order_by(ProcessDefinition.id.desc())):
                    text = json.loads(other or "{}").get(item.form)
                    if text is not None:
                        break
    return json.loads(text) if text else None


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
def task_form(task_id: int):
    p = page_principal()
    c = container()
    with c.extras["read_sessions"]() as s:
        item = s.get(WorkItem, task_id)
        if item is None:
            raise ApiError(404, "not_found", _("任务不存在。"))
        visibility.visible_case(s, p, item.case_id)
        if not visibility.may_act_on(p, item) and not visibility.sees_all(p):
            raise visibility.refuse(p, f"task page {task_id}", _("此任务不属于您的单位或角色。"))
    view = c.runtime.get_case(item.case_id)
    schema = form_schema(item) or {"type": "object", "properties": {}}
    values: dict = {}
    errors: dict = {}
    stale = False
    if request.method == "POST":
        if not visibility.may_act_on(p, item):  # seeing every case is not doing everyone's work
            raise visibility.refuse(p, f"task form {task_id}", _("此任务不属于您的单位或角色。"))
        chart = org_chart()
        today = c.clock.now().astimezone(SHANGHAI).date()
        values = forms.with_defaults(schema, form_checks.names_to_codes(schema, forms.parse_form(schema, request.form),
                                                                       chart, item.unit), today)
        errors = forms.validate(schema, values, today) or submission_problems(item, view.data, values) \
            or clock_governance.extension_form_errors(item.element_id, item.process_key, view.data, values)
        errors = errors or second_assignment.scope_problems(schema, values, item.intended_unit or item.unit)[0]
        if not errors and form_checks.has_checks(schema):
            for problem in form_checks.check(schema, values, chart, item.unit, view.data):
                errors.setdefault(problem.field, _say(problem.message, problem.params))
        try:
            expected = int(request.form.get("version", ""))
        except ValueError:
            expected = None
        if not errors:
            if item.state != "open" or (item.assignee not in (None, p.username)):
                stale = True
            else:
                try:
                    c.runtime.complete(task_id, values, actor=p.username, expected_version=expected)
                except Conflict:
                    stale = True
                else:
                    flash(_("“%(name)s”已办理。", name=item.name), "success")
                    return redirect(url_for("handling.tasks"))
            if stale:
                flash(_("已被他人处理：此任务或案件在您打开表单后已有变化，本次提交未保存。请刷新后查看。"), "error")
        else:
            flash(_("表单有误，未保存。请按提示修改后重新提交。"), "error")
    now = c.clock.now()
    if request.method != "POST":  # the form opens with its defaults: 送达日期 today, 直接送达
        values = forms.with_defaults(schema, values, now.astimezone(SHANGHAI).date())
    alert, left = c.runtime.alert(item.due_at, now)
    overdue = c.runtime.overdue_workdays(item.due_at, now) if alert == "red" else 0
    facts = {k: view.data.get(k) for k in ("case_no", "title", "channel", "category", "subcategory", "location",
                                            "respondent", "request", "facts") if view.data.get(k)}
    may_act = visibility.may_act_on(p, item) and item.state == "open"
    full = personal_data.shows_in_full(p, item.case_id)  # the one rule (services/masking.py), recorded
    shown = personal_data.resolved(item.case_id, view.data) if full else view.data  # parties' plain fields
    people = [x for x in (shown.get("petitioners") or [shown.get("petitioner") or {}]) if x]
    # The facts a decision rests on, named by the form (`x-facts`: [{key, title}]), e.g. the petitioner's rating
    # and the reason a unit is asked to redo its work.
    decision_facts = decision_facts_of(schema, view.data, full=full)  # services/decision_facts.py
    if not full:
        facts = mask_personal_data(facts)
    extension = clock_governance.extension_request(view.data) \
        if item.element_id in element_meanings.elements("extension_approval") else None
    co_opinions = None
    assignment = view.data.get("assignment") or {}
    if assignment.get("co_units") and item.unit == assignment.get("lead_unit"):  # the lead drafting its reply
        co_opinions = _co_opinions_of(item.case_id, view.data)
    sent_back = None
    if item.element_id in element_meanings.elements("handling"):  # a redo shows why the bureau sent it back
        with c.extras["read_sessions"]() as s:
            sent_back = redo.latest_redo(s, item.case_id, since=item.created_at)
    review_basis = None  # redoing a matter after 撤销/变更: the review body's opinion and reasons
    if item.element_id in element_meanings.elements("review_redo") and isinstance(view.data.get("review_outcome"),
                                                                                   dict):
        review_basis = view.data["review_outcome"]
    names = unit_names()
    return render_template("handling/task.html", item=item, view=view, facts=facts, full_contact=full,
                           co_opinions=co_opinions, sent_back=sent_back, review_basis=review_basis, extension=extension, decision_facts=decision_facts,
                           routing=_routing_facts(item, view.data, names),
                           completion_report=_completion_report(item, view.data),
                           petitioners=people if full else [_masked(x) for x in people],
                           fields=forms.build_fields(schema, values, errors, unit_names=names,
                                                     hidden=form_checks.case_only_fields(schema, view.data)),
                           errors=errors, stale=stale,
                           schema_title=schema.get("title", item.name), alert=alert, workdays_left=left,
                           overdue_workdays=overdue, may_act=may_act,
                           version=request.form.get("version", view.version) if stale is False else view.version,
                           names=names)


def _routing_facts(item: WorkItem, data: dict, names: dict) -> dict | None:
    """At triage: the routing table's suggestion (unit, 转送/交办, basis), shown beside the form the registrar decides
    with; `usable` says whether submitting without a unit takes it."""
    if item.element_id not in element_meanings.elements("triage") or not isinstance(data.get("unit_rule"), dict):
        return None
    rule = data["unit_rule"]
    unit = rule.get("unit") or ""
    chart = org_chart()
    usable = unit in {c.code for c in form_checks.routable_units(chart, item.unit or "")} and unit != item.unit
    return {"unit": unit, "unit_name": names.get(unit, ""), "dispatch": rule.get("dispatch") or "",
            "basis": rule.get("basis") or "", "usable": usable}


def _completion_report(item: WorkItem, data: dict) -> dict | None:
    """At sign-off (审核销号) of an assigned (交办) matter: the unit's written completion report."""
    if item.element_id not in element_meanings.elements("signoff") or not data.get("completion_report"):
        return None
    return {k: data.get(k) or "" for k in ("completion_report", "completion_measures", "completion_result")}


def _masked(petitioner: dict) -> dict:
    return mask_petitioner(petitioner)


# ---------------------------------------------------------------- case search

def _search(p: Principal, page: int) -> tuple[case_search.Query, case_search.Found]:
    """Run the case search of the request's arguments for `p`; a search by personal data (ID number, phone,
    name) is access-logged: one row per case it shows, and a security event naming the kinds (not the value)."""
    c = container()
    try:
        q = case_search.Query.parse(request.args)
    except ValueError as exc:
        raise ApiError(400, "malformed", str(exc)) from None
    key = index_key()
    if q.text:
        reg.rekey(c.session_factory, c.runtime, key, vault=c.extras["vault"])
        reg.index_names(c.session_factory, c.runtime, key, vault=c.extras["vault"])
    with c.extras["read_sessions"]() as s:
        found = case_search.search(s, q, visibility.case_filter(p), key, page, PAGE_SIZE)
    if found.tried & {"id", "phone"} or found.matched_by:
        kinds = sorted(found.tried if found.tried & {"id", "phone"} else found.matched_by)
        with c.session_factory() as s, s.begin():
            access_log.record_many(s, [dict(at=c.clock.now(), username=p.username, case_id=row["case"].id,
                                            what="case_search." + "+".join(kinds), method=request.method,
                                            path=request.path, status=200, remote_addr=request.remote_addr or "-")
                                       for row in found.rows])
        security_events.record("personal_data_search", actor=p.username,
                               detail={"kinds": kinds, "results": found.total})
    return q, found


def _page_number() -> int:
    try:
        return max(int(request.args.get("page", 1)), 1)
    except ValueError:
        return 1


@bp.get("/cases")
def cases():
    p = page_principal()
    page = _page_number()
    q, found = _search(p, page)
    return render_template("handling/cases.html", found=found.rows, q=q.text, query=q, page=page,
                           pages=max(ceil((found.total or 0) / PAGE_SIZE), 1), total=found.total, more=found.more,
                           units=sorted(unit_names().items(), key=lambda kv: kv[0]))


@bp.get("/api/cases")
def api_cases():
    """案件查询 over the API: `q` (case number, petitioner name, phone or ID number, title words), `unit`, `from`,
    `to` (registration dates), `page`; only cases the caller may see, petitioners masked. `total` counts up to
    services.case_search.COUNT_CAP; `more` says that more cases match (the newest COUNT_CAP can be paged)."""
    p = require_login()
    page = _page_number()
    q, found = _search(p, page)
    return ok({"total": found.total, "more": found.more, "page": page, "page_size": PAGE_SIZE, "cases": [
        {"id": r["case"].id, "case_no": r["case_no"], "title": r["summary"].get("title"),
         "channel": r["summary"].get("channel"), "category": r["summary"].get("category"),
         "petitioner": r["petitioner"], "status": r["case"].status, "registered_at": r["case"].created_at}
        for r in found.rows]})


@bp.app_template_global()
def case_link(case_id: int) -> str:
    for endpoint in ("casepage.case", "casepage.case_page", "casepage.show"):
        if endpoint in current_app.view_functions:
            return url_for(endpoint, case_id=case_id)
    return url_for("api.get_case", case_id=case_id)


def _co_opinions_of(case_id: int, data: dict) -> dict | None:
    """The co-units' opinions of a case, for the lead unit's task form."""
    c = container()
    history = c.runtime.history(case_id)
    with c.extras["read_sessions"]() as s:
        units, people = co_opinions.names(s)
        return co_opinions.co_opinions(s, history, data, units, people)
