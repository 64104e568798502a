"""A case's journal told in plain Chinese for the case page (who, when, what), and where the case stands on its
diagram (active, completed elements). Pure functions on `Runtime.history()` rows; no framework imports.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from engine.calendar.display import due_day

LIVE_STATES = {"ready", "waiting", "started", "error"}
# Short decisions worth showing next to a submitted task; longer texts are on the documents and the form.
_MAX_VALUE_CHARS = 40
# Month names for a translation of the date text that writes them ({mon} {d}, {y}).
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


@dataclass
class TimelineEntry:
    seq: int
    at: datetime
    actor: str
    kind: str  # start, task, handover, migration, timer, message, deadline, incident, end, comment, attachment, notice,
    #            repeat (a repeat petition linked to this case)
    text: str
    detail: str = ""


def element_names(history: list[dict]) -> dict[str, str]:
    names: dict[str, str] = {}
    for ev in history:
        name = (ev.get("data") or {}).get("name")
        if ev.get("element_id") and isinstance(name, str) and name:
            names.setdefault(ev["element_id"], name)
    return names


def _same(text: str) -> str:
    return text


def _short_values(data: dict, _: Callable[[str], str] = _same) -> str:
    parts = []
    for value in (data or {}).values():
        if isinstance(value, bool):
            parts.append(_("是") if value else _("否"))
        elif isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip() \
                and len(str(value)) <= _MAX_VALUE_CHARS:
            parts.append(str(value))
    return "，".join(parts[:4])


def _day(d: date, _: Callable[[str], str]) -> str:
    return _("{y}年{m}月{d}日").format(y=d.year, m=d.month, d=d.day, mon=_MONTHS[d.month - 1])


def _due_day(text: str | None, _: Callable[[str], str] = _same) -> str:
    """A stored due instant is 24:00 of the due day, i.e. 00:00 the next morning: name the due day."""
    if not text:
        return ""
    try:
        day = due_day(text)
    except ValueError:
        return text
    return _day(day, _)


def timeline(history: list[dict], person: Callable[[str], str] = lambda u: u,
             unit: Callable[[str], str] = lambda code: code,
             _: Callable[[str], str] = _same) -> list[TimelineEntry]:
    """The events a reader cares about, oldest first; engine bookkeeping (effects, internal steps) left out.
    `_` translates a sentence (its Chinese text is the message id; `{who}` and the like are filled in after)."""
    names = element_names(history)
    out: list[TimelineEntry] = []
    for ev in history:
        kind, data, el = ev["type"], ev.get("data") or {}, ev.get("element_id")
        name = _(names[el]) if names.get(el or "") else (el or "")  # the step by its name, in the page language
        who = person(ev["actor"])
        entry = None
        if kind == "case.started":
            entry = ("start", _("{who} 登记信访事项").format(who=who),
                     _short_values({k: (data.get("data") or {}).get(k) for k in ("channel", "category")}, _))
        elif kind == "task.submitted":
            entry = ("task", _("{who} 办理「{name}」").format(who=who, name=name), _short_values(data.get("data") or {}, _))
        elif kind == "task.ready" and data.get("type") == "UserTask":
            entry = ("task", _("生成待办「{name}」").format(name=name), "")
        elif kind == "timer.fired":
            entry = ("timer", _("期限或提醒时间已到"), "")
        elif kind == "message.delivered":
            entry = _message_entry(who, data, _)
        elif kind == "message.queued":
            entry = ("message", _("{who} 接收「{name}」（流程到达时自动转入）").format(who=who, name=data.get("name", "")),
                     _short_values(data.get("payload") or {}, _))
        elif kind == "deadline.computed" and data.get("due_at") and not name.endswith("提醒"):
            # reminders (临期提醒) are the office's own alarms, not deadlines: the deadline itself is listed
            rule = {"WD": _("{n}个工作日"), "H": _("{n}小时")}.get(data.get("rule"), _("{n}日"))
            entry = ("deadline", _("计算期限「{name}」：{day}到期").format(name=name, day=_due_day(data.get("due_at"), _)),
                     rule.format(n=data.get("n")))
        elif kind == "deadline.extended":
            entry = ("deadline", _("{who} 延长期限「{name}」{days}日，至{day}").format(
                who=who, name=name, days=data.get("days"), day=_due_day(data.get("new_due_at"), _)),
                str(data.get("reason") or ""))
        elif kind == "deadline.corrected":
            entry = ("deadline", _("{who} 更正时限「{name}」：{old}改为{day}到期").format(
                who=who, name=name, old=_due_day(data.get("old_due_at"), _), day=_due_day(data.get("new_due_at"), _)),
                str(data.get("reason") or ""))
        elif kind == "deadlines.paused":
            basis = str(data.get("basis") or "")
            entry = ("deadline", _("{who} 暂停计时").format(who=who),
                     "；".join(x for x in (str(data.get("reason") or ""), basis) if x))
        elif kind == "deadlines.resumed":
            entry = ("deadline", _("{who} 恢复计时").format(who=who), str(data.get("reason") or ""))
        elif kind == "deadlines.recomputed":
            entry = ("deadline", _("工作日历更新，期限重新计算"), "")
        elif kind == "incident.opened":
            entry = ("incident", _("「{name}」出现故障，等待处理").format(name=name), str(data.get("message") or ""))
        elif kind == "incident.retried":
            entry = ("incident", _("{who} 重试故障环节").format(who=who), "")
        elif kind == "incident.data_repaired":
            entry = ("incident", _("{who} 修正故障环节「{name}」的数据项 {key}").format(
                who=who, name=name, key=data.get("key", "")), _repair_detail(data, _))
        elif kind == "case.moved":
            entry = ("incident", _("{who} 将案件移至「{name}」").format(who=who, name=data.get("target_name") or name),
                     _("理由：{reason}").format(reason=data.get("reason") or ""))
        elif kind in ("case.supervised", "case.flagged_urgent"):  # a 督办 by hand; an urgent matter flagged
            entry = _office_act(kind, who, name, data, _)
        elif kind == "case.accountability_recorded":  # 问责 (services/accountability.py)
            entry = ("deadline", _("{who} 以{office}名义对{unit}作出{kind}").format(
                who=who, office=data.get("office_name") or "", unit=data.get("unit_name") or "",
                kind=_(data.get("kind") or "")), _("事由：{reason}").format(reason=data.get("reason") or ""))
        elif kind == "case.completed":
            entry = ("end", _("案件办结"), "")
        elif kind in ("work_item.claimed", "work_item.unclaimed", "work_item.reassigned", "work_item.delegated"):
            entry = _hand_change(kind, who, name, data, person, _)
        elif kind == "work_item.orphaned":  # nobody held the role in the unit (services/work_placement.py)
            entry = ("handover", _("「{name}」无人可办，交由{unit}办理").format(
                name=data.get("name") or name, unit=unit(str(data.get("unit") or ""))),
                _("原定：{unit}（{role}）").format(unit=unit(str(data.get("intended_unit") or "")),
                                                 role=data.get("intended_role") or ""))
        elif kind == "work_item.handed_back":
            entry = ("handover", _("{who} 将「{name}」交回{unit}").format(
                who=who, name=name, unit=unit(str((data.get("to") or {}).get("unit") or ""))), "")
        elif kind == "case.migrated":
            moved = len(data.get("deadlines") or [])
            entry = ("migration", _("{who} 将案件从流程第{old}版迁移到第{new}版").format(
                who=who, old=data.get("from_version"), new=data.get("to_version")),
                _("{n}个期限按新版本重新计算").format(n=moved) if moved else "")
        elif kind.startswith(("portal.", "withdrawal.")):  # the petitioner's acts on the portal (services/portal.py)
            # and the office's answer to a withdrawal (services/withdrawal.py)
            entry = _portal_entry(kind, who, data, _)
        elif kind == "comment.added":
            entry = ("comment", _("{who} 添加办理意见").format(who=who), str(data.get("body") or ""))
        elif kind == "attachment.added":
            entry = ("attachment", _("{who} 上传附件「{name}」").format(who=who, name=data.get("filename", "")), "")
        elif kind == "service.called":
            for template, to in _notices_sent(data, unit, _):
                out.append(TimelineEntry(ev["seq"], ev["at"], ev["actor"], "notice",
                                         _("发出「{name}」").format(name=template), to))
        if entry:
            out.append(TimelineEntry(ev["seq"], ev["at"], ev["actor"], entry[0], entry[1], entry[2]))
    return out


def _office_act(kind: str, who: str, name: str, data: dict, _: Callable[[str], str]) -> tuple[str, str, str]:
    """A 督办 issued by hand (services/manual_supervision.py), or an urgent matter flagged (services/urgent.py)."""
    reason = _("理由：{reason}").format(reason=data.get("reason") or "")
    if kind == "case.flagged_urgent":
        return ("deadline", _("{who} 标记为重大紧急事项（{kind}），由{office}报告").format(
            who=who, kind=_(str(data.get("kind") or "")), office=data.get("office_name") or ""), reason)
    return ("deadline", _("{who} 督办{unit}办理「{task}」").format(
        who=who, unit=data.get("unit_name") or "", task=data.get("task") or name), reason)


def repeat_entries(repeats: list[dict], _: Callable[[str], str] = _same) -> list[TimelineEntry]:
    """The original's timeline entries for the repeats linked to it (services.repeat_originals.repeats_of): they
    happen in the repeat's own journal, so the original's journal does not have them (seq 0: not one of its events)."""
    out = []
    for r in repeats:
        at = r.get("linked_at")
        at = datetime.fromisoformat(at) if isinstance(at, str) else at
        if at is None:
            continue
        number = r.get("case_no") or _("（无权查看的事项）")
        text = _("同一事项再次信访：{case_no}，{outcome}").format(case_no=number, outcome=_(r.get("outcome") or ""))
        out.append(TimelineEntry(0, at, "", "repeat", text, ""))
    return out


def _message_entry(who: str, data: dict, _: Callable[[str], str]) -> tuple[str, str, str]:
    payload = data.get("payload") or {}
    if data.get("name") == "撤回" and isinstance(payload, dict):  # services/withdrawal.py: the case ends
        return "message", _("{who} 确认信访人撤回（{channel}），终止办理").format(
            who=who, channel=_(str(payload.get("channel") or ""))), \
            _("理由：{reason}").format(reason=payload.get("reason") or "")
    return "message", _("{who} 送达「{name}」").format(who=who, name=data.get("name", "")), _short_values(payload, _)


def _portal_entry(kind: str, who: str, data: dict, _: Callable[[str], str]) -> tuple[str, str, str] | None:
    """网上信访: the submission, a document served or opened, a withdrawal request; the office declining it."""
    title = str(data.get("title") or data.get("kind") or "")
    if kind == "portal.submitted":
        return "start", _("{who} 通过网上信访提交").format(who=who), ""
    if kind == "portal.document_served":
        return "notice", _("{who} 在网上信访查阅「{name}」（电子送达）").format(who=who, name=title), \
            str(data.get("served_on") or "")
    if kind == "portal.document_opened":
        return "notice", _("{who} 在网上信访再次查阅「{name}」").format(who=who, name=title), ""
    if kind == "portal.withdrawal_requested":
        return "message", _("{who} 通过网上信访申请撤回").format(who=who), \
            _("理由：{reason}").format(reason=data.get("reason") or "")
    if kind == "withdrawal.declined":
        return "message", _("{who} 不同意撤回，已告知信访人").format(who=who), \
            _("理由：{reason}").format(reason=data.get("reason") or "")
    return None


def _short_json(value) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _MAX_VALUE_CHARS * 2 else text[:_MAX_VALUE_CHARS * 2] + "…"


def _repair_detail(data: dict, _: Callable[[str], str] = _same) -> str:
    before = _short_json(data.get("before")) if data.get("had_key") else _("（原无此项）")
    return _("理由：{reason}；原值 {before}，改为 {after}").format(reason=data.get("reason") or "", before=before,
                                                              after=_short_json(data.get("after")))


def _hand_change(kind: str, who: str, name: str, data: dict, person: Callable[[str], str],
                 _: Callable[[str], str] = _same) -> tuple[str, str, str]:
    """Who holds a task now: claimed (认领), given back to the unit (退回), reassigned (转办), delegated (委托)."""
    if kind == "work_item.claimed":
        return "handover", _("{who} 认领「{name}」").format(who=who, name=name), ""
    if kind == "work_item.unclaimed":
        return "handover", _("{who} 退回「{name}」，交回本单位待认领").format(who=who, name=name), ""
    to = person(data["to"]) if data.get("to") else ""
    text = _("{who} 将「{name}」转办给 {to}") if kind == "work_item.reassigned" else _("{who} 将「{name}」委托给 {to}")
    was = _("原办理人：{who}").format(who=person(data["from"])) if data.get("from") else _("原无办理人")
    note = str(data.get("note") or "").strip()
    return "handover", text.format(who=who, name=name, to=to), f"{was}；{note}" if note else was


def _notices_sent(data: dict, unit: Callable[[str], str], _: Callable[[str], str] = _same) -> list[tuple[str, str]]:
    """Notices a handler sent: the notify handler's own, or those another handler (dispatch, route-out) lists."""
    result = data.get("result")
    found = []
    if isinstance(result, dict):
        candidates = [result] + [n for n in result.get("notices") or [] if isinstance(n, dict)]
        for notice in candidates:
            if isinstance(notice.get("template"), str) and isinstance(notice.get("to"), list):
                found.append((notice["template"], _recipient(notice["to"], unit, _)))
    return found


def _recipient(to: list, unit: Callable[[str], str], _: Callable[[str], str] = _same) -> str:
    if any(isinstance(x, dict) and x.get("party") == "petitioner" for x in to):
        return _("致信访人")
    units = [unit(x["unit"]) for x in to if isinstance(x, dict) and x.get("unit")]
    return _("致 {units}").format(units="、".join(units)) if units else ""


def diagram_state(history: list[dict]) -> dict:
    """Elements live now (ready, waiting, started, error) and those completed, from the task events."""
    last: dict[str, tuple[str, str]] = {}
    completed: list[str] = []
    for ev in history:
        kind = ev["type"]
        if not kind.startswith("task.") or kind == "task.submitted" or not ev.get("element_id"):
            continue
        task_id = (ev.get("data") or {}).get("task_id") or f"{ev['element_id']}#{ev['seq']}"
        state = kind.split(".", 1)[1]
        last[task_id] = (ev["element_id"], state)
        if state == "completed" and ev["element_id"] not in completed:
            completed.append(ev["element_id"])
    active = sorted({el for el, state in last.values() if state in LIVE_STATES})
    return {"active": active, "completed": [c for c in completed if c not in active]}
