"""重大紧急事项 (urgent and major matters, 《信访工作条例》第二十五条): a matter flagged from its case page is
reported at once to the level's party committee and government (本级党委政府) and to the petition office one
level up, within limits counted in calendar HOURS (processes/settings.dmn: `limits.urgent_first_report_hours`,
`limits.urgent_written_report_hours`, `limits.urgent_reminder_lead_hours`).

The regulation says only "及时" (in time); the hours are a local rule, configured per deployment. The reporting is
its own linked case (`processes/urgent_report.bpmn`, started here with the flagged case as its parent), so that
every step has a person and a clock: the level's petition office makes the first report (首报) and the written
follow-up (书面续报); a reminder goes to it `urgent_reminder_lead_hours` before each limit; a missed limit is a
督办 (services/supervision.py `supervise`) by the petition office one level up, with its written-feedback case.

The matter is a row of the flagged case's register `urgent` (opened when the reporting case starts, updated at
each report, closed by the written follow-up): the bureau's live board (`board`) and the figures (`facts_of`)
read it. Who may flag and who sees the board is web/visibility.py's decision; the facts checked here (a kind of
the list, a reason, an open case, no matter already open for it) are refused with a status and a message.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.case_chain import append_case_events, lock_case
from engine.clock import SHANGHAI, hours_left
from engine.commands import StartCase
from engine.handlers import HandlerContext
from engine.journal import PendingEvent
from engine.store import Case, CaseRegister

from . import notices
from .manual_supervision import chart_of
from .notify import send, to_offices, unit_recipients
from .orgchart import OrgChart
from .refusals import Refused
from .supervision import supervising_role

PROCESS = "urgent_report"
REGISTER = "urgent"
KINDS = ("群体性", "极端", "重大紧急")
MAX_REASON_CHARS = 500
STAGES = {"first": "首报本级党委政府和上级信访部门", "written": "书面续报"}
REMINDER_NOTICE, REMINDER_TEMPLATE = "重大紧急事项提醒", "urgent_reminder"


class FlagRefused(Refused):
    """The matter cannot be flagged: `status` 409 (the case is closed, or already flagged and open) or 422 (no
    reason, or a kind not in the list)."""


@dataclass(frozen=True)
class Offices:
    """Who reports: the petition office of the flagging unit's level, in which role; and to whom."""
    office: str
    office_name: str
    office_role: str
    government: str
    up_office: str | None
    up_office_name: str


def offices_for(chart: OrgChart, unit: str) -> Offices:
    """The level's petition office reports (the flagging unit itself when it is one) to the level's party committee
    and government and to the petition office of the level above (the top level: to the national administration)."""
    own = chart.get(unit)
    office = own if own.kind == "petition_office" else chart.petition_office(unit)
    level = chart.level_of(office.code)
    up = chart.level_up(office.code)
    up_office = chart.child_of_kind(up.code, "petition_office") if up is not None else None
    return Offices(office.code, office.name, supervising_role(chart, office.code), f"{level.name}党委、政府",
                   up_office.code if up_office else None, up_office.name if up_office else "国家信访局")


def check_flag(kind: str, reason: str) -> str:
    """The reason, stripped; refuses a kind not in the list and a missing or overlong reason (422)."""
    if kind not in KINDS:
        raise FlagRefused(422, f"请选择事项类别：{'、'.join(KINDS)}。")
    text = (reason or "").strip()
    if not text:
        raise FlagRefused(422, "请写明标记为重大紧急事项的理由。")
    if len(text) > MAX_REASON_CHARS:
        raise FlagRefused(422, f"理由请控制在 {MAX_REASON_CHARS} 字以内。")
    return text


def flag(runtime, s: Session, case_id: int, actor: str, unit: str, kind: str, reason: str, now: datetime) -> dict:
    """Flag the case as an urgent matter inside the caller's transaction: start its reporting case and journal
    `case.flagged_urgent` (kind, reason, unit, reporting office, reporting case) on the case. `unit`: the unit in
    which the actor flags (their registrar's or handler's unit)."""
    text = check_flag(kind, reason)
    lock_case(s, case_id)
    case = s.get(Case, case_id)
    if case.status == "completed" or case.process_key == PROCESS:
        raise FlagRefused(409, "本件已办结，不能再标记为重大紧急事项。" if case.status == "completed"
                          else "这是重大紧急事项的报告件，请在原信访事项上标记。")
    if open_matter(s, case_id) is not None:
        raise FlagRefused(409, "本件已标记为重大紧急事项，报告尚未完成；请在重大紧急事项看板上跟进。")
    chart = chart_of(runtime)
    who = offices_for(chart, unit)
    summary = _summary(case)
    urgent = {"kind": kind, "reason": text, "at": now.isoformat(), "flagged_by": actor, "flagged_unit": unit,
              "flagged_unit_name": chart.name(unit), "office": who.office, "office_name": who.office_name,
              "office_role": who.office_role, "government": who.government, "up_office": who.up_office,
              "up_office_name": who.up_office_name, "case_id": case_id, "case_no": case.case_no,
              "case_title": summary.get("title") or "信访事项"}
    started = runtime.execute(StartCase(PROCESS, {
        "urgent": urgent, "urgent_kind": kind, "urgent_reason": text, "case_no": case.case_no,
        "parent_case_no": case.case_no, "title": f"重大紧急事项报告：{urgent['case_title']}"},
        parent_case_id=case_id), actor, session=s)
    done = dict(urgent, report_case_id=started.id)
    append_case_events(s, case_id, [PendingEvent("case.flagged_urgent", actor, now, None, done)])
    return done


def _summary(case: Case) -> dict:
    try:
        value = json.loads(case.summary_json or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def open_matter(s: Session, case_id: int) -> CaseRegister | None:
    return s.scalar(select(CaseRegister).where(CaseRegister.case_id == case_id, CaseRegister.register == REGISTER,
                                               CaseRegister.status == "open").limit(1))


# ---------------------------------------------------------------- the reporting case's steps (urgent_report.bpmn)

@dataclass
class OpenInput:
    urgent: dict
    first_due: str
    written_due: str


def open_urgent(inp: OpenInput, ctx: HandlerContext) -> dict:
    """登记重大紧急事项：在原信访事项的重大紧急事项登记中新增一条（类别、理由、报告单位、首报和续报时限）。"""
    u = inp.urgent
    row = {"key": f"urgent-{ctx.case_id}", "report_case_id": ctx.case_id, "case_id": u.get("case_id"),
           "case_no": u.get("case_no"), "title": u.get("case_title"), "kind": u["kind"], "reason": u["reason"],
           "at": u["at"], "flagged_by": u.get("flagged_by"), "flagged_unit": u.get("flagged_unit"),
           "flagged_unit_name": u.get("flagged_unit_name"), "office": u["office"], "office_name": u["office_name"],
           "government": u.get("government"), "up_office_name": u.get("up_office_name"),
           "first_due": inp.first_due, "written_due": inp.written_due, "first_report_at": None,
           "written_report_at": None}
    return _write(ctx, row)


@dataclass
class ReportInput:
    row: dict
    stage: str
    text: str


def record_report(inp: ReportInput, ctx: HandlerContext) -> dict:
    """记录首报或书面续报：报告时间、报告人、距标记的小时数、是否超过时限；书面续报后该事项办结（离开看板）。"""
    if inp.stage not in STAGES:
        raise ValueError(f"报告阶段应为 first 或 written，收到“{inp.stage}”（unknown stage）")
    text = (inp.text or "").strip()
    if not text:
        raise ValueError("报告内容为空（the report is empty）")
    row = dict(inp.row)
    due = datetime.fromisoformat(row[f"{inp.stage}_due"])
    row.update({f"{inp.stage}_report_at": ctx.now.isoformat(), f"{inp.stage}_report_by": ctx.actor,
                f"{inp.stage}_hours": round(-hours_left(datetime.fromisoformat(row["at"]), ctx.now), 1),
                f"{inp.stage}_late": ctx.now > due, f"{inp.stage}_text": text[:200]})
    return _write(ctx, row, close=inp.stage == "written")


@dataclass
class RemindInput:
    urgent: dict
    stage: str
    due: str


def remind(inp: RemindInput, ctx: HandlerContext) -> dict:
    """重大紧急事项报告时限前提醒：通知报告单位（本级信访部门）在时限内报告。"""
    u = inp.urgent
    to = unit_recipients(u["office"], role=u["office_role"])
    left = max(0.0, hours_left(datetime.fromisoformat(inp.due), ctx.now))
    fields = {"case_no": u.get("case_no") or "", "task": STAGES[inp.stage], "hours": left}
    notice = send(ctx, to, REMINDER_NOTICE, fields)
    notice["inbox"] = to_offices(ctx, to, notices.default_catalogue().inbox_template(REMINDER_NOTICE), {
        "case_no": u.get("case_no") or "", "title": u.get("case_title") or "信访事项", "unit": u["office_name"],
        "step": STAGES[inp.stage], "kind": u["kind"], "hours_left": left,
        "due": datetime.fromisoformat(inp.due).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")})
    return notice


def _write(ctx: HandlerContext, row: dict, close: bool = False) -> dict:
    fields = dict(register=REGISTER, key=row["key"], unit=row["office"], person=None, data=row, of_parent=True)
    ctx.emit("register", action="open", **fields)
    if close:
        ctx.emit("register", action="close", **fields)
    return row


# ---------------------------------------------------------------- the board and the figures

def board(s: Session, now: datetime, case_condition=None) -> list[dict]:
    """The open urgent matters, most pressing first: kind, reason, unit, the step due and its hours left (negative
    once missed), whether the first report is made, whether a 督办 was issued. `case_condition`: a condition on
    `CaseRegister.case_id` limiting the rows to the cases the caller may see."""
    q = select(CaseRegister).where(CaseRegister.register == REGISTER, CaseRegister.status == "open")
    if case_condition is not None:
        q = q.where(case_condition)
    rows = [json.loads(r.data or "{}") for r in s.scalars(q)]
    supervised = _supervised(s, [r.get("report_case_id") for r in rows])
    out = [_board_row(r, now, r.get("report_case_id") in supervised) for r in rows]
    return sorted(out, key=lambda r: r["hours_left"])


def _board_row(row: dict, now: datetime, supervised: bool) -> dict:
    stage = "written" if row.get("first_report_at") else "first"
    due = datetime.fromisoformat(row[f"{stage}_due"])
    left = hours_left(due, now)
    state = "red" if left <= 0 else ("yellow" if left <= _half(row, stage) else "green")
    return {"case_id": row.get("case_id"), "case_no": row.get("case_no"), "title": row.get("title"),
            "report_case_id": row.get("report_case_id"), "kind": row.get("kind"), "reason": row.get("reason"),
            "unit": row.get("flagged_unit"), "unit_name": row.get("flagged_unit_name"),
            "office": row.get("office"), "office_name": row.get("office_name"), "flagged_at": row.get("at"),
            "reported": bool(row.get("first_report_at")), "first_report_at": row.get("first_report_at"),
            "first_late": row.get("first_late"), "step": STAGES[stage], "due_at": due.isoformat(),
            "hours_left": left, "state": state, "supervised": supervised}


def _half(row: dict, stage: str) -> float:
    """Half the step's limit, in hours: the board turns yellow then."""
    return -hours_left(datetime.fromisoformat(row[f"{stage}_due"]), datetime.fromisoformat(row["at"])) / 2


def _supervised(s: Session, report_case_ids: list) -> set[int]:
    ids = [i for i in report_case_ids if isinstance(i, int)]
    if not ids:
        return set()
    return set(s.scalars(select(CaseRegister.case_id).where(CaseRegister.case_id.in_(ids),
                                                            CaseRegister.register == "supervision")))


def rows_by_case(s: Session) -> dict[int, list[dict]]:
    """Every urgent matter's register row (open or closed), by the flagged case: for the figures."""
    out: dict[int, list[dict]] = {}
    for r in s.scalars(select(CaseRegister).where(CaseRegister.register == REGISTER)):
        out.setdefault(r.case_id, []).append(json.loads(r.data or "{}"))
    return out


def median_hours(values: list[float]) -> float | None:
    """The median of the reporting times in hours, to one decimal; None without any."""
    return round(statistics.median(values), 1) if values else None

