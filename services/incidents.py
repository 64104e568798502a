"""Cases in incident (故障案件) for the admins' page: what failed, where, since when, in plain words and what to do,
and the checks a repair of a case's data must pass before it reaches the engine.

An incident is a step the engine could not run (a handler refused its data, a script or timer expression failed,
a unit code is unknown, a setting is broken). The admin either corrects the data the step runs on and retries
(engine.commands.RepairData, then RetryIncidents), or moves the case to another step (MoveToStep). This module
reads and checks; the runtime changes the case.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import func, not_, select
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI
from engine.store import Case, Incident, ProcessDefinition

from .case_lookup import case_numbers
from .masking import PERSONAL_KEYS
from .orgchart import chart_for
from .parties import REF, REFS
from .store.parties import SEALED_FIELDS

MAX_VALUE_BYTES = 16 * 1024  # one data item; a case's whole data is bounded elsewhere
MAX_REASON_CHARS = 500
# Data items that name people or carry their references: corrected through the party records, never here.
PROTECTED_KEYS = frozenset({"petitioner", "petitioners", REF, REFS, "query_code_hash", "case_no", "registration"})
_PERSONAL = frozenset(PERSONAL_KEYS) | frozenset(SEALED_FIELDS)
# Data items holding unit codes of the organisation (a repair must name known units).
_UNIT_KEYS = re.compile(r"(^|_)(units?|location|task_force)$")


class RepairRefused(Exception):
    """A repair that would not help or is not allowed: the message says what to do (Chinese first)."""


@dataclass
class Explanation:
    category: str   # handler, unknown_unit, missing_variable, script, timer, setting, bpmn_error, engine
    plain: str      # what went wrong, in the office's words
    todo: str       # what the admin can do


_HANDLER_PREFIX = re.compile(r"^处理程序 \S+ 失败：")
_ENGLISH_NOTE = re.compile(r"（[A-Za-z][^（）]*）$")  # the English gloss after the Chinese words


def explain(kind: str, message: str) -> Explanation:
    """The engine's message for an incident (engine.errors.describe_error) put in plain words with a way out."""
    text = message or ""
    chinese = _ENGLISH_NOTE.sub("", _HANDLER_PREFIX.sub("", text).split("（handler ")[0].strip())
    if "不在组织机构中" in text or "unknown unit" in text or "unknown co-unit" in text or "unknown location" in text:
        return Explanation("unknown_unit", f"案件数据中的单位代码在组织机构中不存在：{chinese}",
                           "在处理页的“修正数据”中把该数据项改为组织机构中的单位代码（如 county_a_housing），"
                           "填写理由后保存并重试；若该单位确实新设，请先在组织机构中添加。")
    missing = re.search(r"name '([^']+)' is not defined|NameError: ([\w]+)|KeyError: '([^']+)'", text)
    if missing:
        name = next(g for g in missing.groups() if g)
        return Explanation("missing_variable", f"流程中的脚本或条件用到了数据项“{name}”，但案件中没有这项数据。",
                           f"在“修正数据”中补上数据项“{name}”（值须为 JSON）后重试；如果该数据项本不应存在，"
                           f"请流程设计员修正流程，或将案件移至其他环节。")
    lowered = text.lower()
    if "timer" in lowered or "timedate" in lowered or "iso 8601" in lowered or "duration" in lowered \
            or "定时器" in text or "期限表达式" in text:
        return Explanation("timer", "期限（定时器）表达式无法计算，案件无法开始计时。",
                           "检查时限设置（processes/settings.dmn）中的天数是否有效，修正设置并部署新版本后重试；"
                           "若是案件数据（如日期）有误，可在“修正数据”中改正后重试。")
    if "settings" in lowered or "时限设置" in text or "设置" in text and kind != "handler":
        return Explanation("setting", f"时限或业务设置有误：{chinese}",
                           "请流程设计员修正设置并部署新版本，然后重试；已在办案件也可移至其他环节。")
    if kind == "handler":
        return Explanation("handler", f"自动环节拒绝了案件数据：{chinese}",
                           "按提示在“修正数据”中改正相关数据项，填写理由后保存并重试。"
                           "若是外部系统暂时不可用（如短信网关），直接重试即可。")
    if kind == "script":
        return Explanation("script", f"流程中的脚本出错：{chinese}",
                           "若与案件数据有关，修正数据后重试；否则请流程设计员修正流程，"
                           "或将案件移至其他环节继续办理。")
    if kind == "bpmn_error":
        return Explanation("bpmn_error", f"流程抛出了没有被处理的错误：{chinese}",
                           "流程在此处没有后续路径：请将案件移至合适的环节，并告知流程设计员补上错误处理。")
    return Explanation("engine", f"流程引擎运行出错：{chinese or kind}",
                       "可先直接重试；仍然失败时修正数据后重试，或将案件移至其他环节，并告知流程设计员。")


def element_names(s: Session, runtime, definition_id: int) -> dict[str, str]:
    spec, subprocess_specs = runtime.load_definition(s, definition_id)
    names: dict[str, str] = {}
    for sp in [spec, *subprocess_specs.values()]:
        for task_spec in sp.task_specs.values():
            bpmn_id, name = getattr(task_spec, "bpmn_id", None), getattr(task_spec, "bpmn_name", None)
            if bpmn_id and name:
                names.setdefault(bpmn_id, name)
    return names


def open_incidents(s: Session, runtime, *, case_filter=None, limit: int = 500) -> list[dict]:
    """Every case in incident, oldest incident first: case, process and version, failing step by name, since
    when, the engine's message and its plain explanation."""
    query = (select(Incident, Case, ProcessDefinition.version)
             .join(Case, Case.id == Incident.case_id)
             .join(ProcessDefinition, ProcessDefinition.id == Case.definition_id)
             .where(Incident.resolved_at.is_(None), Case.status == "incident")
             .order_by(Incident.at, Incident.id).limit(limit))
    if case_filter is not None:
        query = query.where(case_filter)
    names: dict[int, dict[str, str]] = {}
    rows = []
    found = s.execute(query).all()
    numbers = case_numbers(s, sorted({case.id for _, case, _ in found}))
    for inc, case, version in found:
        if case.definition_id not in names:
            names[case.definition_id] = element_names(s, runtime, case.definition_id)
        why = explain(inc.kind, inc.message)
        rows.append({"incident_id": inc.id, "case_id": case.id, "case_no": numbers.get(case.id),
                     "process_key": case.process_key, "version": version, "element_id": inc.element_id,
                     "step": names[case.definition_id].get(inc.element_id or "", inc.element_id or "（流程）"),
                     "since": inc.at, "kind": inc.kind, "category": why.category, "message": inc.message,
                     "plain": why.plain, "todo": why.todo})
    return rows


def confidential_incident_count(s: Session, case_filter) -> int:
    """Confidential cases in incident outside `case_filter` (the caller's visible cases)."""
    return s.scalar(select(func.count(func.distinct(Case.id))).join(Incident, Incident.case_id == Case.id)
                    .where(Incident.resolved_at.is_(None), Case.status == "incident",
                           Case.confidential.is_(True), not_(case_filter))) or 0


def case_incidents(s: Session, runtime, case_id: int) -> list[dict]:
    return [r for r in open_incidents(s, runtime) if r["case_id"] == case_id]


# ---------------------------------------------------------------- checking a repair

def parse_value(text: str):
    """The JSON text an admin typed for a data item."""
    if not isinstance(text, str) or not text.strip():
        raise RepairRefused("请填写新的值（JSON，例如 [\"county_a_housing\"] 或 \"文字\"）（enter the new value as JSON）")
    if len(text.encode("utf-8")) > MAX_VALUE_BYTES:
        raise RepairRefused(f"新的值太大（超过 {MAX_VALUE_BYTES // 1024} KB），请只改需要修正的内容"
                            f"（value larger than {MAX_VALUE_BYTES // 1024} KB）")
    try:
        return json.loads(text)
    except ValueError as err:
        raise RepairRefused(f"新的值不是有效的 JSON（第 {getattr(err, 'lineno', 1)} 行第 {getattr(err, 'colno', 1)} 列）："
                            f"文字要加英文双引号，列表用 [ ]，对象用 {{ }}（invalid JSON: {err}）") from None


def form_properties(s: Session, definition_id: int, key: str) -> list[tuple[str, dict]]:
    """(form, property schema) of every form of the case's process bundle that declares `key`."""
    sources = json.loads(s.scalar(select(ProcessDefinition.sources_json)
                                  .where(ProcessDefinition.id == definition_id)) or "{}")
    found = []
    for name, text in sorted(sources.items()):
        if not name.endswith(".schema.json"):
            continue
        try:
            schema = json.loads(text)
        except ValueError:
            continue
        prop = (schema.get("properties") or {}).get(key) if isinstance(schema, dict) else None
        if isinstance(prop, dict):
            found.append((name, prop))
    return found


def check_repair(s: Session, runtime, case_id: int, key: str, value, reason: str,
                 failing_data: dict) -> None:
    """Refuse a repair that is not allowed or cannot be right (RepairRefused with what to do)."""
    _check_reason_and_key(reason, key, failing_data)
    if len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > MAX_VALUE_BYTES:
        raise RepairRefused(f"新的值太大（超过 {MAX_VALUE_BYTES // 1024} KB），请只改需要修正的内容"
                            f"（value larger than {MAX_VALUE_BYTES // 1024} KB）")
    if key in PROTECTED_KEYS or key in _PERSONAL or _names_person(value):
        raise RepairRefused(f"“{key}”含信访人个人信息，不能在此修改：请在案件页的当事人信息中更正"
                            f"（personal data is corrected in the party records, not here）")
    case = s.get(Case, case_id)
    for form, prop in form_properties(s, case.definition_id, key):
        errors = sorted(Draft202012Validator(prop, format_checker=FormatChecker()).iter_errors(value),
                        key=lambda e: list(e.path))
        if errors:
            title = prop.get("title") or key
            raise RepairRefused(f"新的值不符合表单“{form}”中“{title}”的要求：{errors[0].message}"
                                f"（value does not match the form schema）")
    if _UNIT_KEYS.search(key):
        _check_units(runtime, value)


def _check_reason_and_key(reason, key, failing_data: dict) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise RepairRefused("请填写修正理由（a reason is required）")
    if len(reason) > MAX_REASON_CHARS:
        raise RepairRefused(f"理由不能超过 {MAX_REASON_CHARS} 字（reason too long）")
    if not isinstance(key, str) or not key.strip() or key.startswith("spiff__"):
        raise RepairRefused("请选择要修正的数据项（choose a data key）")
    if key not in failing_data and not _may_add(key):
        raise RepairRefused(f"数据项名称“{key}”无效：只能修正已有的数据项，或补上脚本提示缺少的数据项"
                            f"（letters, digits and _ only）")


def _check_units(runtime, value) -> None:
    chart = chart_for(SimpleNamespace(ports=runtime.ports))
    codes = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    unknown = [c for c in codes if isinstance(c, str) and not chart.has(c)]
    if unknown:
        raise RepairRefused(f"单位代码 {', '.join(unknown)} 不在组织机构中，请使用组织机构中的单位代码"
                            f"（unknown unit code）")


def _may_add(key: str) -> bool:
    """A key the failing step lacks may be added (a script said it is missing)."""
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", key))


def _names_person(value) -> bool:
    if isinstance(value, dict):
        return any(k in _PERSONAL or k in (REF, REFS) or _names_person(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_names_person(v) for v in value)
    return False


def since_text(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------- a registration whose start fails

class StartFailed(Exception):
    """A case whose start ran into an incident: the start is rolled back (nothing registered) and the registrar
    is told why, in plain words."""

    def __init__(self, step: str, explanation: Explanation, message: str):
        self.step, self.explanation, self.engine_message = step, explanation, message
        super().__init__(f"登记未保存：案件在“{step}”环节无法启动。{explanation.plain} 登记内容未丢失，"
                         f"请核对后重新提交；如仍失败，请联系系统管理员（the case could not start at {step}; "
                         f"nothing was registered）")


def refuse_failed_start(s: Session, runtime, view) -> None:
    """Raise StartFailed when the case just started stands in incident (call inside the start's transaction, so
    that raising rolls the whole registration back)."""
    if view.status != "incident" or not view.incidents:
        return
    inc = view.incidents[0]
    names = element_names(s, runtime, view.definition_id)
    raise StartFailed(names.get(inc.element_id or "", inc.element_id or "登记"), explain(inc.kind, inc.message),
                      inc.message)
