"""A case's journal as auditors read it: entries with what changed (before and after), filters, masking of
petitioners' personal data, and the exports (CSV, JSON, printable HTML, PDF).

What "changed" means for each kind of event, all taken from the event's own recorded payload:
- `case.started`: the data the case was registered with (before: nothing);
- `task.submitted`: the values submitted with the form (before: not recorded in this event, see the next
  `task.completed` of the same element, which carries the difference);
- `task.completed`: the difference of the process data before and after the step (`changes` in the payload);
- deadline events: the due date before and after (extension, pause, resumption, recomputation);
- `service.called`: the handler's recorded result; `incident.opened`: the error message.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from jinja2 import Environment

from engine.calendar.display import due_day_and_time

from . import masking
from .spreadsheet import safe_row

BEIJING = ZoneInfo("Asia/Shanghai")

TYPE_LABELS = {
    "case.started": "立案登记", "case.completed": "办结", "task.submitted": "提交表单", "task.completed": "环节完成",
    "task.ready": "环节待办", "task.waiting": "等待中", "task.cancelled": "环节取消", "task.error": "环节出错",
    "timer.fired": "期限到点", "message.delivered": "收到消息", "message.queued": "接收消息（待流程到达）", "service.called": "调用服务",
    "deadline.computed": "计算期限", "deadline.extended": "延长期限", "deadline.corrected": "更正时限",
    "deadlines.paused": "暂停计时",
    "deadlines.resumed": "恢复计时", "deadlines.recomputed": "日历变更后重算期限", "incident.opened": "出现故障",
    "incident.retried": "故障重试", "work_item.unrouted": "未能确定承办单位", "work_item.claimed": "认领任务",
    "work_item.unclaimed": "退回任务", "work_item.reassigned": "改派任务", "work_item.delegated": "委托办理",
    "comment.added": "添加备注", "attachment.added": "上传附件", "case.migrated": "迁移到新流程版本",
    "incident.data_repaired": "修正故障环节的数据", "case.moved": "移至其他环节",
    "portal.submitted": "网上信访提交", "portal.document_served": "网上送达文书", "portal.document_opened": "网上查阅文书",
    "portal.withdrawal_requested": "信访人网上申请撤回", "withdrawal.declined": "不同意撤回",
}
STATUS_LABELS = {"running": "运行中", "waiting": "办理中", "completed": "已办结", "incident": "故障待处理"}
SOURCE_LABELS = {
    "start": "登记时的初始数据（此前为空）",
    "submitted": "提交的表单数据（修改前的值见随后该环节“环节完成”的差异）",
    "diff": "该环节完成前后流程数据的差异",
    "deadline": "期限的到期时间（变更前后）和所用工作日历版本",
    "result": "服务调用记录的结果",
    "incident": "故障信息",
    "assignee": "任务办理人（变更前后）",
    "added": "新增的内容",
    "version": "流程版本（迁移前后）",
    "repair": "管理员修正的数据项（修正前后）及理由",
    "move": "管理员移动的环节（移出、移入）及理由",
}


# ---------------------------------------------------------------- masking (one rule: services.masking)

mask = masking.mask_personal_data


# ---------------------------------------------------------------- entries and filters

@dataclass
class Filters:
    actor: str = ""
    type: str = ""
    element: str = ""
    start: datetime | None = None  # inclusive
    end: datetime | None = None    # exclusive

    @classmethod
    def parse(cls, args) -> Filters:
        """From query arguments: actor, type (exact, or a prefix ending in "." such as `task.`), element, and
        from/to as dates (Beijing days, both inclusive) or ISO instants. Raises ValueError saying what is wrong."""
        return cls(actor=(args.get("actor") or "").strip(), type=(args.get("type") or "").strip(),
                   element=(args.get("element") or "").strip(),
                   start=_instant(args.get("from"), "from", end=False), end=_instant(args.get("to"), "to", end=True))

    def active(self) -> bool:
        return bool(self.actor or self.type or self.element or self.start or self.end)

    def matches(self, event: dict) -> bool:
        if self.actor and event["actor"] != self.actor:
            return False
        if self.type and not (event["type"] == self.type or
                              (self.type.endswith(".") and event["type"].startswith(self.type))):
            return False
        if self.element and event.get("element_id") != self.element:
            return False
        at = _aware(event["at"])
        if self.start and at < self.start:
            return False
        return not (self.end and at >= self.end)


def _instant(text: str | None, name: str, end: bool) -> datetime | None:
    if not text or not text.strip():
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end:
                day += timedelta(days=1)
            return datetime.combine(day, time(0), tzinfo=BEIJING)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} 应为日期（如 2026-03-02）或 ISO 时间（{name} must be a date or ISO-8601 instant）") \
            from None
    return value if value.tzinfo else value.replace(tzinfo=BEIJING)


def _aware(at) -> datetime:
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo else at.replace(tzinfo=ZoneInfo("UTC"))


def element_names(events: list[dict]) -> dict[str, str]:
    names = {}
    for e in events:
        name = e["data"].get("name") if isinstance(e.get("data"), dict) else None
        if e.get("element_id") and isinstance(name, str) and name:
            names.setdefault(e["element_id"], name)
    return names


def patch_rows(patch: list[dict]) -> list[dict]:
    """Rows of a step's JSON Patch (engine.tree.data_changes): an item added to a list (`opinions[+]`), a key added,
    replaced or removed in a table (`comments.r3`); a `test` names the value before the operation that follows it."""
    rows, before = [], None
    for op in patch:
        if op.get("op") == "test":
            before = op.get("value")
            continue
        parts = [p.replace("~1", "/").replace("~0", "~") for p in str(op.get("path", "")).split("/")[1:]]
        field = ".".join(parts[:-1]) + "[+]" if parts and parts[-1] == "-" else ".".join(parts)
        rows.append({"field": field, "before": before, "after": op.get("value") if op.get("op") != "remove" else None})
        before = None
    return rows


def changes_of(event: dict) -> tuple[str | None, list[dict]]:
    """(source, [{field, before, after}]) of one journal event, from its payload."""
    t, data = event["type"], event.get("data") or {}
    if t == "case.started":
        return "start", [{"field": k, "before": None, "after": v} for k, v in (data.get("data") or {}).items()]
    if t == "task.submitted":
        return "submitted", [{"field": k, "before": None, "after": v} for k, v in (data.get("data") or {}).items()]
    if t == "task.completed" and (data.get("changes") or data.get("patch")):
        rows = [{"field": k, "before": ab[0], "after": ab[1]} for k, ab in sorted((data.get("changes") or {}).items())]
        return "diff", sorted(rows + patch_rows(data.get("patch") or []), key=lambda r: r["field"])
    if t == "deadline.computed":
        versions = "，".join(f"{y} 年第 {v} 版" for y, v in (data.get("calendar_versions") or {}).items())
        return "deadline", [{"field": "到期", "before": None, "after": due_text(data.get("due_at"))},
                            {"field": "所用日历", "before": None, "after": versions or None}]
    if t in ("deadline.extended", "deadline.corrected"):
        return "deadline", [{"field": "到期", "before": due_text(data.get("old_due_at")),
                             "after": due_text(data.get("new_due_at"))}]
    if t in ("deadlines.paused", "deadlines.resumed", "deadlines.recomputed"):
        return "deadline", [{"field": f"{d.get('element_id')} 到期",
                             "before": due_text(d.get("old_due_at", d.get("due_at"))),
                             "after": due_text(d.get("new_due_at")) if d.get("new_due_at") else
                             ("暂停计时" if t == "deadlines.paused" else None)}
                            for d in data.get("deadlines", [])]
    if t == "service.called":
        return "result", [{"field": data.get("handler") or "result", "before": None,
                           "after": data.get("result", data.get("error"))}]
    if t.startswith("work_item.") and ("from" in data or "to" in data):
        return "assignee", [{"field": "assignee", "before": data.get("from"), "after": data.get("to")}] + \
            ([{"field": "note", "before": None, "after": data["note"]}] if data.get("note") else [])
    if t == "comment.added":
        return "added", [{"field": "body", "before": None, "after": data.get("body")}]
    if t == "attachment.added":
        return "added", [{"field": k, "before": None, "after": data.get(k)} for k in ("filename", "size", "sha256")]
    if t == "case.migrated":
        return "version", [{"field": "version", "before": data.get("from_version"), "after": data.get("to_version")}]
    if t == "incident.opened":
        return "incident", [{"field": data.get("kind") or "error", "before": None, "after": data.get("message")}]
    if t == "incident.data_repaired":
        return "repair", [{"field": data.get("key"), "before": data.get("before"), "after": data.get("after")},
                          {"field": "reason", "before": None, "after": data.get("reason")}]
    if t == "case.moved":
        return "move", [{"field": "step", "before": ", ".join(data.get("removed") or []),
                         "after": data.get("target_name")},
                        {"field": "reason", "before": None, "after": data.get("reason")}]
    return None, []


def due_text(iso: str | None) -> str | None:
    """A due instant in Beijing time; a deadline ending at midnight reads as 24:00 of its last day."""
    if not iso:
        return None
    day, clock = due_day_and_time(_aware(iso))
    return f"{day.isoformat()} {clock}（北京时间）"


def entries(events: list[dict], filters: Filters | None = None, *, masked: bool = True) -> list[dict]:
    """Journal events as history entries (masked unless `masked` is false), filtered."""
    names = element_names(events)
    out = []
    for e in events:
        if filters is not None and not filters.matches(e):
            continue
        source, changes = changes_of(e)
        data = e.get("data") or {}
        if masked:
            changes = [dict(c, before=mask({c["field"]: c["before"]})[c["field"]],
                            after=mask({c["field"]: c["after"]})[c["field"]]) for c in changes]
            data = mask(data)
        out.append({"seq": e["seq"], "at": _aware(e["at"]), "actor": e["actor"], "type": e["type"],
                    "type_label": TYPE_LABELS.get(e["type"], e["type"]), "element_id": e.get("element_id"),
                    "element_name": names.get(e.get("element_id") or "", ""), "changes_source": source,
                    "changes_label": SOURCE_LABELS.get(source, "") if source else "", "changes": changes,
                    "data": data})
    return out


def show(value) -> str:
    """A value as one line of text for tables and files."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def beijing(at: datetime) -> str:
    return _aware(at).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------- exports

@dataclass
class Report:
    case: dict           # id, case_no, process_key, status, created_at
    entries: list[dict]
    exported_by: str
    exported_at: datetime
    masked: bool
    verification: dict | None = None  # {ok, events, first_bad_seq, reason}
    filters: dict | None = None


CSV_COLUMNS = ["序号 seq", "时间（北京）", "操作人 actor", "事件类型 type", "事件", "环节 element", "环节名称",
               "字段 field", "修改前 before", "修改后 after"]


def to_csv(report: Report) -> bytes:
    """One row per changed field (an event without changed data has one row with empty field columns). UTF-8
    with a byte-order mark so that spreadsheet programs open the Chinese text correctly."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(safe_row(CSV_COLUMNS))
    for e in report.entries:
        base = [e["seq"], beijing(e["at"]), e["actor"], e["type"], e["type_label"], e["element_id"] or "",
                e["element_name"]]
        if not e["changes"]:
            w.writerow(safe_row(base + ["", "", ""]))
        for c in e["changes"]:
            w.writerow(safe_row(base + [c["field"], show(c["before"]) if c["before"] is not None else "",
                                        show(c["after"])]))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_json(report: Report) -> bytes:
    doc = {"case": report.case, "exported_by": report.exported_by, "exported_at": report.exported_at.isoformat(),
           "masked": report.masked, "filters": report.filters, "verification": report.verification,
           "events": [dict(e, at=_aware(e["at"]).isoformat()) for e in report.entries]}
    return json.dumps(doc, ensure_ascii=False, indent=2, default=str).encode("utf-8")


_HTML = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>案件审计报告 {{ r.case.case_no or r.case.id }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}table{border-collapse:collapse;width:100%;font-size:.85em}
th,td{border:1px solid #999;padding:.3em .4em;vertical-align:top;text-align:left}th{background:#eee}
.ok{color:#1a6b2a}.bad{color:#a11;font-weight:bold}.muted{color:#666}dl{display:grid;grid-template-columns:9em 1fr}
dd{margin:0 0 .3em}@media print{body{margin:0}a{color:inherit;text-decoration:none}}
</style></head><body>
<h1>案件审计报告</h1>
<dl>
<dt>案件</dt><dd>{{ r.case.case_no or "—" }}（内部编号 {{ r.case.id }}）</dd>
<dt>流程</dt><dd>{{ r.case.process_key }} 第 {{ r.case.definition_version }} 版</dd>
<dt>状态</dt><dd>{{ status_labels.get(r.case.status, r.case.status) }}</dd>
<dt>导出人</dt><dd>{{ r.exported_by }}</dd>
<dt>导出时间</dt><dd>{{ beijing(r.exported_at) }}（北京时间）</dd>
<dt>个人信息</dt><dd>{% if r.masked %}信访人证件号码、电话、地址已脱敏{% else %}未脱敏（导出人有权查看）{% endif %}</dd>
{% if r.filters %}<dt>筛选条件</dt><dd>{% for k, v in r.filters.items() if v %}{{ k }}={{ v }} {% endfor %}</dd>{% endif %}
{% if r.verification %}<dt>完整性校验</dt><dd>{% if r.verification.ok %}<span class="ok">通过：{{ r.verification.events }} 个事件的哈希链完整，重放结果与存储状态一致</span>
{% else %}<span class="bad">未通过：第 {{ r.verification.first_bad_seq }} 号事件起 —— {{ r.verification.reason }}</span>{% endif %}</dd>{% endif %}
</dl>
<p class="muted">“修改前/修改后”取自各事件记录的内容：登记时为初始数据；提交表单为提交的值；环节完成为该环节前后流程数据的差异；期限事件为变更前后的到期时间。</p>
<table><thead><tr><th>序号</th><th>时间（北京）</th><th>操作人</th><th>事件</th><th>环节</th><th>字段</th><th>修改前</th><th>修改后</th></tr></thead>
<tbody>
{% for e in r.entries %}{% set n = e.changes|length %}
{% if n == 0 %}<tr><td>{{ e.seq }}</td><td>{{ beijing(e.at) }}</td><td>{{ e.actor }}</td><td>{{ e.type_label }}</td>
<td>{{ e.element_name or e.element_id or "" }}</td><td></td><td></td><td></td></tr>
{% else %}{% for c in e.changes %}<tr>{% if loop.first %}<td rowspan="{{ n }}">{{ e.seq }}</td><td rowspan="{{ n }}">{{ beijing(e.at) }}</td>
<td rowspan="{{ n }}">{{ e.actor }}</td><td rowspan="{{ n }}">{{ e.type_label }}</td><td rowspan="{{ n }}">{{ e.element_name or e.element_id or "" }}</td>{% endif %}
<td>{{ c.field }}</td><td>{{ show(c.before) if c.before is not none else "" }}</td><td>{{ show(c.after) }}</td></tr>{% endfor %}{% endif %}
{% endfor %}
</tbody></table>
</body></html>
""")


def to_html(report: Report) -> bytes:
    return _HTML.render(r=report, beijing=beijing, show=show, status_labels=STATUS_LABELS).encode("utf-8")


def to_pdf(report: Report) -> bytes:
    """A4 landscape, Chinese text in the PDF reader's built-in STSong-Light (no font file is embedded)."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    body = ParagraphStyle("body", fontName=font, fontSize=8, leading=10, wordWrap="CJK")
    head = ParagraphStyle("head", fontName=font, fontSize=16, leading=20, spaceAfter=6)
    info = ParagraphStyle("info", fontName=font, fontSize=10, leading=14)

    def p(text, style=body):
        return Paragraph(escape(str(text)), style)

    v = report.verification
    lines = [
        f"案件：{report.case.get('case_no') or '—'}（内部编号 {report.case['id']}）  流程：{report.case.get('process_key')} "
        f"第 {report.case.get('definition_version')} 版  "
        f"状态：{STATUS_LABELS.get(report.case.get('status'), report.case.get('status'))}",
        f"导出人：{report.exported_by}  导出时间：{beijing(report.exported_at)}（北京时间）  个人信息："
        + ("已脱敏" if report.masked else "未脱敏"),
    ]
    if v is not None:
        lines.append("完整性校验：" + (f"通过（{v['events']} 个事件）" if v["ok"] else
                                  f"未通过：第 {v['first_bad_seq']} 号事件起 —— {v['reason']}"))
    story = [p("案件审计报告", head)] + [p(line, info) for line in lines] + [Spacer(1, 4 * mm)]
    rows = [[p(h) for h in ("序号", "时间（北京）", "操作人", "事件", "环节", "字段", "修改前", "修改后")]]
    for e in report.entries:
        base = [p(e["seq"]), p(beijing(e["at"])), p(e["actor"]), p(e["type_label"]),
                p(e["element_name"] or e["element_id"] or "")]
        changes = e["changes"] or [None]
        for i, c in enumerate(changes):
            cells = base if i == 0 else [p("")] * 5
            if c is None:
                rows.append(cells + [p(""), p(""), p("")])
            else:
                rows.append(cells + [p(c["field"]), p(show(c["before"]) if c["before"] is not None else ""),
                                     p(_clip(show(c["after"])))])
    widths = [12 * mm, 30 * mm, 22 * mm, 24 * mm, 38 * mm, 30 * mm, 55 * mm, 55 * mm]
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(table)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title="案件审计报告",
                            author=report.exported_by)
    doc.build(story)
    return buf.getvalue()


def _clip(text: str, limit: int = 1500) -> str:
    return text if len(text) <= limit else text[:limit] + "……（已截断，完整内容见 JSON 导出）"


EXPORTERS = {"csv": (to_csv, "text/csv; charset=utf-8"), "json": (to_json, "application/json"),
             "html": (to_html, "text/html; charset=utf-8"), "pdf": (to_pdf, "application/pdf")}
