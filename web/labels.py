"""Names, not codes, on every page: Jinja filters that turn a process key (`petition_case`), a unit code
(`county_a`) or a journal event type (`task.completed`) into what the office calls it, in the page's language.

    {{ case.process_key | process_name }}   信访事项办理 (Handling a petition matter)
    {{ item.unit | unit_name }}             东城县
    {{ e.type | event_name }}               完成任务

Names come from the deployed definitions (the BPMN process name), the organisation and the journal's labels
(services/audit_export.py); each is looked up once per request. A code without a name is shown as it is."""
from __future__ import annotations

import html
import json
import re

from flask import Flask, g
from flask_babel import gettext as _
from sqlalchemy import select

from engine.store import ProcessDefinition
from services.audit_export import TYPE_LABELS
from services.roles import ROLE_LABELS
from services.units import unit_names

from .http import container


def _cached(name: str, load):
    if not hasattr(g, name):
        try:
            setattr(g, name, load())
        except Exception:  # noqa: BLE001 - a name is a nicety: the page still shows the code
            setattr(g, name, {})
    return getattr(g, name)


def _process_names() -> dict[str, str]:
    with container().session_factory() as s:
        rows = s.execute(select(ProcessDefinition.process_key, ProcessDefinition.name)
                         .order_by(ProcessDefinition.version)).all()
    return {key: name for key, name in rows if name}


def _unit_names() -> dict[str, str]:
    with container().session_factory() as s:
        return unit_names(s)


def process_name(key) -> str:
    if not key:
        return ""
    name = _cached("lx_process_names", _process_names).get(str(key))
    return _(name) if name else str(key)


def unit_name(code) -> str:
    if not code:
        return ""
    return _cached("lx_unit_names", _unit_names).get(str(code)) or str(code)


def event_name(kind) -> str:
    label = TYPE_LABELS.get(str(kind or ""))
    return _(label) if label else str(kind or "")


# Case data the processes keep besides the forms' fields (the forms name theirs: processes/forms/*.schema.json).
SYSTEM_FIELDS = {
    "channel": "信访形式", "title": "标题", "request": "诉求", "facts": "事实和理由", "category": "内容分类",
    "subcategory": "问题类别", "location": "问题发生地", "respondent": "被反映单位或人员",
    "case_no": "编号", "petitioner": "信访人", "petitioners": "信访人", "party_refs": "当事人引用",
    "assignment": "交办转送记录", "dispatch": "交办转送记录", "unit_rule": "决策表建议", "limits": "时限设置",
    "four_lists": "四个清单", "registration": "登记信息", "receipt_notice": "登记回执", "acceptance_notice": "受理告知",
    "reply_notice": "答复意见书", "review_notice": "复查意见书", "rereview_notice": "复核意见书",
    "objection_notice": "异议审核通知", "extension_notice": "延期告知", "co_opinions": "协办意见",
    "co_units": "协办单位", "registering_unit": "登记单位", "escalation_scope": "上交范围", "tier": "联席会议",
    "tier_result": "联席会议意见", "review_org": "复查机关", "rereview_org": "复核机关", "review_outcome": "复查（复核）意见",
    "accepted_at": "受理时间", "handle_from": "办理期限起算", "handle_total_days": "办理期限（日）",
    "extension_days_total": "已延期（日）", "redo_count": "退回重办次数", "query_code": "查询码",
    # inside recorded values (notices, deliveries, parties)
    "party_ref": "当事人引用", "name": "姓名", "id_number": "证件号码", "phone": "电话", "address": "地址",
    "template": "通知模板", "text": "内容", "at": "时间", "case_id": "案件", "delivery": "送达", "status": "状态",
    "to": "收件人", "element_id": "环节", "unit": "单位", "unit_name": "单位名称", "role": "角色", "party": "当事人",
    "inbox": "站内通知", "service": "送达记录", "served_on": "送达日期", "served_at": "送达时间", "method": "送达方式",
    "recorded_at": "记录时间", "document_date": "文书日期", "basis": "依据", "level": "层级", "stage": "阶段",
    "body": "机关", "decision": "意见", "opinion": "意见和理由", "requested_at": "请求时间", "notices": "通知",
    "from": "来自", "lead_unit": "主办单位", "assigning_unit": "交办单位", "dispatch_type": "转送或交办",
    # 人民建议征集 (suggestion)
    "routing": "责任单位建议", "assess_unit": "研究论证单位", "assess_role": "研究论证角色", "reward_unit": "奖励单位",
    "reward_role": "奖励单位角色", "suggestion_result": "人民建议办理结论", "result_notice": "办理结果告知",
    "assess_reminder": "评估催办", "adopt_reminder": "决定催办", "reward_reminder": "奖励催办", "adopted": "是否采纳",
    "rewarded": "是否奖励", "conclusion": "结论", "detail": "说明", "concluded_at": "办结时间",
}
JOURNAL_VALUES = {"journal": "记入日志", "recorded": "已记录", "outbox": "发件箱", "petitioner": "信访人"}


def _form_titles() -> dict[str, str]:
    with container().session_factory() as s:
        rows = s.execute(select(ProcessDefinition.sources_json).order_by(ProcessDefinition.version)).scalars().all()
    titles: dict[str, str] = {}
    for sources in rows:
        for name, text in json.loads(sources or "{}").items():
            if not name.endswith(".json"):
                continue
            try:
                props = json.loads(text).get("properties") or {}
            except (ValueError, AttributeError):
                continue
            for key, prop in props.items():
                if isinstance(prop, dict) and isinstance(prop.get("title"), str):
                    titles.setdefault(key, prop["title"])
    return titles


def field_name(key) -> str:
    """A case-data variable by its name: the form field's title, else the process's own name for it."""
    key = str(key or "")
    title = SYSTEM_FIELDS.get(key) or _cached("lx_form_titles", _form_titles).get(key)
    return _(title) if title else key


def _code_pattern():
    names = {code: _(label) for code, label in {**ROLE_LABELS, **JOURNAL_VALUES}.items()}
    names.update(_cached("lx_process_names", _process_names))
    names.update(_cached("lx_unit_names", _unit_names))
    if not names:
        return None, names
    codes = sorted(names, key=len, reverse=True)
    return re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(re.escape(c) for c in codes) + r")(?![A-Za-z0-9_])"), names


def named_codes(text) -> str:
    """`text` (a value as the journal shows it) with unit codes and process keys replaced by their names."""
    if text is None:
        return ""
    pattern, names = _cached("lx_code_pattern", lambda: _code_pattern())
    if pattern is None:
        return str(text)
    return pattern.sub(lambda m: names[m.group(1)], str(text))


def readable(value, elements: dict | None = None) -> str:
    """A recorded value (the audit journal's before/after) for people: records as "名称：值" pairs, lists joined,
    codes (units, processes, roles, element ids given in `elements`) by their names; yes/no in words."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, dict):
        return "；".join(f"{field_name(k)}：{readable(v, elements)}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(f"（{readable(v, elements)}）" if isinstance(v, dict) else readable(v, elements) for v in value)
    text = str(value)
    if elements and text in elements and elements[text]:
        return _(elements[text])
    return named_codes(text)


def element_names_of(bpmn_xml: str | None) -> dict[str, str]:
    """Every named element of a BPMN diagram: {id: name}."""
    if not bpmn_xml:
        return {}
    return {m.group(2): html.unescape(m.group(3)) for m in re.finditer(
        r'<(?:\w+:)?(\w+)\b[^>]*?\bid="([^"]+)"[^>]*?\bname="([^"]*)"', bpmn_xml) if m.group(3)}


def names_for_scripts(bpmn_xml: str | None = None) -> dict:
    """What a page script needs to show names instead of codes, in the page's language: case-data fields, the
    diagram's elements, and units, processes and roles (`codes`)."""
    fields = {k: _(v) for k, v in _cached("lx_form_titles", _form_titles).items()}
    fields.update({k: _(v) for k, v in SYSTEM_FIELDS.items()})
    pattern, codes = _cached("lx_code_pattern", lambda: _code_pattern())
    return {"fields": fields, "elements": {k: _(v) for k, v in element_names_of(bpmn_xml).items()},
            "codes": dict(codes), "yes": _("是"), "no": _("否")}


def init_labels(app: Flask) -> None:
    app.jinja_env.filters["process_name"] = process_name
    app.jinja_env.filters["unit_name"] = unit_name
    app.jinja_env.filters["event_name"] = event_name
    app.jinja_env.filters["field_name"] = field_name
    app.jinja_env.filters["named_codes"] = named_codes
    app.jinja_env.filters["readable"] = readable
