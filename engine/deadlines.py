"""Deadlines on the working-day calendar: the deadline helpers BPMN expressions call, the timer rows that follow
the workflow's waiting timers, and the bookkeeping of the deadline commands (stop the clock, resume, extend,
recompute after a calendar change). The workflow side of those commands is in engine.commands."""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .calendar.display import due_day, overdue_workdays
from .clock import SHANGHAI, add_hours, hours_left
from .context import CommandContext, current_command, current_or_none, deadline_sink, evaluating
from .errors import Conflict, Invalid
from .journal import to_json
from .row_writes import RowWrites, new_row, rows_where
from .store import Case, Timer
from .tree import all_tasks, timer_due

LIVE_TIMERS = select(Timer).where(Timer.case_id == bindparam("case_id"), Timer.status.in_(("pending", "paused")))


HOURS = "H"  # the rule of an hours limit (urgent matters): calendar hours, through nights and rest days


def due_date_of(due_at: datetime):
    """The Beijing date a deadline ending at `due_at` (24:00 of that day, i.e. next day 00:00) falls due."""
    return due_day(due_at)


@dataclass(frozen=True)
class HoursDeadline:
    """A limit in calendar hours (`hours(2)`): no working-day calendar, no rolling forward; it ends `n` hours after
    `start`, to the minute. Urgent matters (重大紧急事项, 《信访工作条例》第二十五条) do not wait for working days."""
    start: datetime
    n: int

    rule = HOURS
    provisional = False

    @property
    def due_at(self) -> datetime:
        return add_hours(self.start, self.n)

    def explain(self) -> str:
        start, due = self.start.astimezone(SHANGHAI), self.due_at.astimezone(SHANGHAI)
        return (f"规则：{self.n}小时（H{self.n}，按自然小时连续计算，夜间、周末和节假日照计）。\n"
                f"起算时间：{start:%Y年%m月%d日 %H:%M}（北京时间）\n到期时间：{due:%Y年%m月%d日 %H:%M}（北京时间）。")

    def to_dict(self) -> dict:
        due = self.due_at
        return {"start": self.start.isoformat(), "rule": HOURS, "n": self.n, "roll_forward": False,
                "due_date": due.astimezone(SHANGHAI).date().isoformat(), "due_at": due.isoformat(),
                "days_skipped": [], "makeup_days_counted": [], "calendar_versions": {}, "overlay_versions": {},
                "provisional": False, "provisional_years": [], "explanation": self.explain()}


class Deadlines:
    def __init__(self, calendar, yellow_workdays: int = 3):
        self.calendar = calendar
        self.yellow_workdays = yellow_workdays

    # ---- helpers visible to BPMN expressions. They read the command's instant, never the wall clock.

    def helpers(self) -> dict[str, Callable]:
        def now() -> str:
            return current_command().now.astimezone(SHANGHAI).isoformat()

        def workdays(n, start=None) -> str:
            return self._deadline("WD", n, start)

        def days(n, start=None, roll_forward=True) -> str:
            return self._deadline("CAL", n, start, roll_forward=roll_forward)

        def hours(n, start=None) -> str:
            """`n` calendar hours after `start` (default: now), for urgent matters: `hours(2, urgent["at"])`."""
            return self._deadline(HOURS, n, start)

        def hours_before(due, lead) -> str:
            """A reminder `lead` hours before an hours limit due at `due` (at once if less is left), for reminder
            timers: `hours_before(hours(limits["urgent_first_report_hours"], urgent["at"]), 1)`."""
            if isinstance(lead, bool) or not isinstance(lead, int) or lead < 0:
                raise ValueError(f"提前小时数必须是非负整数，收到 {lead!r}（lead must be a whole number of hours ≥ 0）")
            self._mark_reminder(due, {"lead": lead, "hours": True, "deadline_due_at": str(due)})
            return reminder_instant(datetime.fromisoformat(str(due)), {"lead": lead, "hours": True}).isoformat()

        def yellow_at(due, lead=None) -> str:
            """When a deadline due at `due` turns yellow: the start (00:00 Beijing time) of the first day with at
            most `lead` working days left — the same rule as the alerts in task lists. For reminder timers:
            `yellow_at(days(60, accepted_at), limits["yellow_lead_days"])`."""
            lead = self.yellow_workdays if lead is None else lead
            instant = self.yellow_instant(datetime.fromisoformat(str(due)), lead)
            self._mark_reminder(due, {"lead": lead, "deadline_due_at": str(due)})
            return instant.isoformat()

        def due_day(due) -> str:
            """The day (ISO date) a deadline ending at `due` falls due: 24:00 of that day is 00:00 of the next,
            and notices name the due day (docs/deadlines.md, how a due date reads)."""
            return due_date_of(datetime.fromisoformat(str(due))).isoformat()

        return {"now": now, "workdays": workdays, "days": days, "hours": hours, "yellow_at": yellow_at,
                "hours_before": hours_before, "due_day": due_day}

    @staticmethod
    def _mark_reminder(due, reminder: dict) -> None:
        """The deadline just computed for the timer being evaluated is the one it reminds of."""
        cmd, task = current_command(), evaluating.get()
        if task is None:
            return
        for info in reversed(cmd.deadlines):
            if info.get("task_id") == str(task.id) and info.get("due_at") == str(due):
                info["reminder"] = reminder
                break

    def reminder_instant(self, due_at: datetime, reminder: dict) -> datetime:
        """When a reminder of a deadline due at `due_at` fires: `lead` hours before an hours limit, else the start
        of its yellow period (`yellow_instant`)."""
        if reminder.get("hours"):
            return reminder_instant(due_at, reminder)
        return self.yellow_instant(due_at, reminder["lead"])

    def yellow_instant(self, due_at: datetime, lead: int) -> datetime:
        if not isinstance(lead, int) or isinstance(lead, bool) or lead < 0:
            raise ValueError(f"黄色预警提前量必须是非负整数，收到 {lead!r}（lead must be a whole number ≥ 0）")
        due_date = due_date_of(due_at)
        cal = self.command_calendar()
        day, left = due_date, 0  # `left`: working days after `day` up to the due date
        while True:
            extra = 1 if cal.is_workday(day) else 0  # stepping back one day adds `day` itself
            if left + extra > lead:
                break
            left += extra
            day = day - timedelta(days=1)
        return datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI)

    def _deadline(self, rule: str, n, start=None, roll_forward=True) -> str:
        cmd = current_command()
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"期限天数必须是非负整数，收到 {n!r}（deadline days must be a whole number ≥ 0）")
        if self.calendar is None and rule != HOURS:
            raise RuntimeError("no working-day calendar configured")
        begin = cmd.now if start is None else datetime.fromisoformat(str(start))
        deadline = self.compute_deadline(rule, n, begin, roll_forward)
        info = deadline.to_dict()
        task = evaluating.get()
        if task is not None:
            info["task_id"] = str(task.id)
            info["element_id"] = getattr(task.task_spec, "bpmn_id", None)
        info["start_at"] = begin.isoformat()
        cmd.deadlines.append(info)
        sink = deadline_sink.get()
        if sink is not None:  # a replay that must know the rules behind its timers (case migration)
            sink.append(info)
        return deadline.due_at.isoformat()

    def compute_deadline(self, rule: str, n: int, start: datetime, roll_forward: bool = True,
                         session: Session | None = None):
        """`session`: the caller's transaction outside a command (a registration's receipt), so that the calendar
        is checked there instead of on a connection of its own."""
        if rule == HOURS:
            return HoursDeadline(start, n)
        if rule == "WD":
            return self.command_calendar(session).due(start, workdays=n)
        return self.command_calendar(session).due(start, days=n, roll_forward=roll_forward)

    def command_calendar(self, session: Session | None = None):
        """The calendar snapshot, checked through the running command's own session when there is one (else
        `session`): one version read per transaction, and no second connection taken from the pool while the
        case row is locked (a completion computing three deadlines took three)."""
        cmd = current_or_none()
        return self.calendar.calendar(session=cmd.session if cmd is not None and cmd.session is not None
                                      else session)

    # ---- how a deadline stands

    def alert(self, due_at: datetime | None, now: datetime, cal=None) -> tuple[str, int | None]:
        """green, yellow (at most `yellow_workdays` working days left) or red (overdue), and the days left. A loop
        over many items passes one calendar snapshot (`self.calendar.calendar()`) as `cal`."""
        if due_at is None:
            return "green", None
        if now >= due_at:
            return "red", 0
        due_date = due_date_of(due_at)
        left = self.workdays_between(now.astimezone(SHANGHAI).date(), due_date, cal)
        return ("yellow" if left <= self.yellow_workdays else "green"), left

    def overdue_workdays(self, due_at: datetime | None, now: datetime, cal=None) -> int:
        """Working days `due_at` is overdue at `now` (0 while it is not), counted on the working-day calendar."""
        if due_at is None or now < due_at:
            return 0
        cal = cal or self.command_calendar()
        return overdue_workdays(due_at, now, cal.is_workday)

    def views(self, timers, now: datetime, session: Session | None = None) -> list[dict]:
        """Each running deadline with its state; `session`: the caller's, for the calendar's version check."""
        out = []
        cal = None  # one calendar snapshot for the whole view, taken when a deadline needs it
        for t in timers:
            if t.rule is None or reminder_of(t) is not None:  # a reminder is no deadline of its own
                continue
            explanation = json.loads(t.explanation) if t.explanation else {}
            if t.rule == HOURS:
                out.append(self.hours_view(t, now, explanation))
                continue
            if t.status == "paused":
                state, left = "paused", t.remaining_days
            else:
                if cal is None and t.due_at is not None and now < t.due_at:
                    cal = self.calendar.calendar(session=session)
                state, left = self.alert(t.due_at, now, cal)
            overdue = 0
            if state == "red":
                cal = cal or self.calendar.calendar(session=session)
                overdue = self.overdue_workdays(t.due_at, now, cal)
            out.append({"key": t.element_id, "label": t.label or t.element_id, "start": t.start_at,
                        "due_at": t.due_at, "days": t.days, "day_type": "workdays" if t.rule == "WD" else "days",
                        "extension_days": t.extension_days, "provisional": t.provisional, "state": state,
                        "workdays_left": left, "overdue_workdays": overdue,
                        "explanation": explanation.get("explanation")})
        return sorted(out, key=lambda d: d["due_at"])

    @staticmethod
    def hours_view(t: Timer, now: datetime, explanation: dict) -> dict:
        """An hours limit as the case page lists it: red once missed, yellow in its last half (an urgent matter
        has no working days to count), with the hours left."""
        left = t.remaining_days if t.status == "paused" else hours_left(t.due_at, now)
        if t.status == "paused":
            state = "paused"
        elif left <= 0:
            state = "red"
        else:
            state = "yellow" if left <= (t.days or 0) / 2 else "green"
        return {"key": t.element_id, "label": t.label or t.element_id, "start": t.start_at, "due_at": t.due_at,
                "days": t.days, "day_type": "hours", "extension_days": t.extension_days, "provisional": False,
                "state": state, "workdays_left": None, "hours_left": left, "overdue_workdays": 0,
                "explanation": explanation.get("explanation")}

    def workdays_between(self, today, due_date, cal=None) -> int:
        """Working days after `today` up to and including `due_date` (on `cal`, else the current snapshot)."""
        cal = cal or self.command_calendar()
        n, d = 0, today
        while d < due_date:
            d = d + timedelta(days=1)
            if cal.is_workday(d):
                n += 1
        return n

    def days_left(self, row: Timer, now: datetime, reminder: dict | None = None) -> int:
        """Days left of the deadline (for a reminder: of the deadline it reminds of)."""
        due_at = row.due_at if reminder is None else datetime.fromisoformat(reminder["deadline_due_at"])
        if row.rule == HOURS:  # an hours limit stopped keeps the whole hours it had left
            return max(0, math.ceil((due_at - now).total_seconds() / 3600))
        due_date = due_date_of(due_at)
        today = now.astimezone(SHANGHAI).date()
        if due_date <= today:
            return 0
        if row.rule == "CAL":
            return (due_date - today).days
        return self.workdays_between(today, due_date)

    def apply_deadline(self, row: Timer, deadline) -> None:
        """Move a timer to a recomputed deadline; a reminder goes to the moment that deadline turns yellow."""
        reminder = reminder_of(row)
        _apply_deadline(row, deadline)
        if reminder is not None:
            reminder = dict(reminder, deadline_due_at=deadline.due_at.isoformat())
            row.due_at = self.reminder_instant(deadline.due_at, reminder)
            row.explanation = to_json(dict(deadline.to_dict(), reminder=reminder))

    # ---- the timer rows of the deadline commands. Each returns the changes it journals; the rows' task ids,
    # which the workflow's timers get their new values by, are the commands' to keep (engine.commands).

    def pause(self, s: Session, case: Case, ctx: CommandContext) -> tuple[list[dict], list[str]]:
        if case.paused_at is not None:
            raise Conflict(f"案件 {case.id} 已暂停计时（the case's clock is already stopped）")
        changed, task_ids = [], []
        for row in s.scalars(LIVE_TIMERS, {"case_id": case.id}):
            if row.status != "pending" or row.rule is None:
                continue
            row.remaining_days = self.days_left(row, ctx.now, reminder_of(row))
            row.paused_at = ctx.now
            row.status = "paused"
            task_ids.append(row.task_id)
            changed.append({"element_id": row.element_id, "due_at": row.due_at.isoformat(),
                            "remaining_days": row.remaining_days, "rule": row.rule})
        return changed, task_ids

    def resume(self, s: Session, case: Case, ctx: CommandContext) -> tuple[list[dict], list[str]]:
        if case.paused_at is None:
            raise Conflict(f"案件 {case.id} 没有暂停计时（the case's clock is running）")
        changed, task_ids = [], []
        for row in s.scalars(LIVE_TIMERS, {"case_id": case.id}):
            if row.status != "paused":
                continue
            deadline = self.compute_deadline(row.rule, row.remaining_days or 0, ctx.now, row.roll_forward)
            old = row.due_at
            self.apply_deadline(row, deadline)
            row.status, row.paused_at, row.remaining_days = "pending", None, None
            task_ids.append(row.task_id)
            changed.append({"element_id": row.element_id, "old_due_at": old.isoformat(),
                            "new_due_at": row.due_at.isoformat(), "explanation": deadline.explain()})
        return changed, task_ids

    def extend(self, s: Session, case: Case, element_id: str, days: int, max_days: int):
        """Returns the extended row, its old due time, the deadline and the reminders that follow it
        ([(task id, new due)])."""
        rows = [r for r in s.scalars(LIVE_TIMERS, {"case_id": case.id}) if r.element_id == element_id]
        if not rows:
            raise Conflict(f"案件 {case.id} 没有进行中的期限 {element_id}（no running deadline {element_id}）")
        row = rows[0]
        if row.extension_days + days > max_days:
            raise Invalid(f"延期总计不得超过 {max_days} 日，已延期 {row.extension_days} 日"
                          f"（extensions may total at most {max_days} days）",
                          {"already_extended": row.extension_days, "max_days": max_days})
        old = row.due_at
        deadline = self.command_calendar().due(due_date_of(old), days=days, roll_forward=True, cutoff=None)
        row.extension_days += days
        row.due_at = deadline.due_at
        row.explanation = to_json(dict(deadline.to_dict(), extension_of=old.isoformat()))
        row.provisional = row.provisional or deadline.provisional
        return row, old, deadline, self._move_reminders(s, case, old, row.due_at)

    def _move_reminders(self, s: Session, case: Case, old: datetime, new: datetime) -> list[tuple[str, str]]:
        """The reminders of a deadline that moved from `old` to `new`, not yet fired, follow it."""
        followers = []
        for other in s.scalars(LIVE_TIMERS, {"case_id": case.id}):
            reminder = reminder_of(other)
            if other.status != "pending" or reminder is None or \
                    datetime.fromisoformat(reminder["deadline_due_at"]) != old:
                continue
            other.due_at = self.reminder_instant(new, reminder)
            other.explanation = to_json(dict(json.loads(other.explanation),
                                             reminder=dict(reminder, deadline_due_at=new.isoformat())))
            followers.append((other.task_id, other.due_at.isoformat()))
        return followers

    def correct(self, s: Session, case: Case, element_id: str, due: date, reason: str):
        """An administrator's correction: the running deadline `element_id` ends at 24:00 of `due`. Returns the
        row, its old due time and the reminders that follow it ([(task id, new due)])."""
        rows = [r for r in s.scalars(LIVE_TIMERS, {"case_id": case.id})
                if r.element_id == element_id and reminder_of(r) is None]
        if not rows:
            raise Conflict(f"案件 {case.id} 没有进行中的期限 {element_id}（no running deadline {element_id}）")
        row = rows[0]
        if row.status != "pending":
            raise Conflict(f"期限 {element_id} 正在暂停计时，请恢复计时后再更正（the clock is stopped; resume first）")
        old, new = row.due_at, datetime.combine(due + timedelta(days=1), time.min, tzinfo=SHANGHAI)
        if new == old:
            raise Invalid(f"期限 {element_id} 本来就在 {due.isoformat()} 24:00 到期，无需更正（unchanged）")
        row.due_at = new
        info = json.loads(row.explanation) if row.explanation else {}
        note = f"系统管理员更正为 {due.year}年{due.month}月{due.day}日 24:00 到期，理由：{reason}"
        info["explanation"] = f"{info['explanation']}；{note}" if info.get("explanation") else note
        info["corrected"] = {"from": old.isoformat(), "to": new.isoformat(), "reason": reason}
        row.explanation = to_json(info)
        return row, old, self._move_reminders(s, case, old, new)

    def recompute(self, s: Session, timer_ids: list[int], ctx: CommandContext) -> tuple[list[dict], list[str]]:
        changes, task_ids = [], []
        for row in s.scalars(select(Timer).where(Timer.id.in_(timer_ids))):
            if row.status != "pending" or row.due_at <= ctx.now:
                continue
            deadline = self.compute_deadline(row.rule, row.days, row.start_at, row.roll_forward)
            if row.extension_days and row.rule != HOURS:
                base = due_date_of(deadline.due_at)
                deadline = self.command_calendar().due(base, days=row.extension_days, cutoff=None)
            reminder = reminder_of(row)
            due_at = deadline.due_at if reminder is None else self.reminder_instant(deadline.due_at, reminder)
            if due_at == row.due_at and deadline.provisional == row.provisional:
                continue
            old, was_provisional = row.due_at, row.provisional
            self.apply_deadline(row, deadline)
            task_ids.append(row.task_id)
            changes.append({"element_id": row.element_id, "old_due_at": old.isoformat(),
                            "new_due_at": row.due_at.isoformat(), "was_provisional": was_provisional,
                            "provisional": row.provisional,
                            "calendar_versions": deadline.to_dict()["calendar_versions"]})
        return changes, task_ids


def sync_timers(s: Session, case: Case, wf: BpmnWorkflow, ctx: CommandContext, new_case: bool,
                has_timers: bool) -> tuple[list[Timer], RowWrites]:
    """The case's timer rows follow the workflow's waiting timers: new ones added, moved ones moved, gone ones
    fired (when due) or cancelled. Returns the live rows, and the new and closed rows to write once the case
    row is written (`RowWrites.write`); a timer that moved is changed through the session."""
    waiting = {}
    for task in all_tasks(wf):
        if task.state != TaskState.WAITING:
            continue
        due = timer_due(task)
        if due is not None:
            waiting[str(task.id)] = (task, due)
    existing = {} if new_case or not has_timers else {  # LIVE_TIMERS, read through the driver (engine.row_writes)
        t.task_id: t for t in rows_where(s, Timer, "t.case_id = {p} AND t.status IN ('pending', 'paused')",
                                         (case.id,))}
    computed = {d["task_id"]: d for d in ctx.deadlines if d.get("task_id")}
    writes = RowWrites(Timer.__table__)
    for task_id, row in existing.items():
        if task_id in waiting:
            _follow(row, waiting[task_id][1], computed.get(task_id))
            continue
        fired = row.status == "pending" and row.due_at <= ctx.now
        writes.changed.append((row, {"status": "fired" if fired else "cancelled",
                                     "fired_at": ctx.now if fired else None}))
    pending = [row for task_id, row in existing.items() if task_id in waiting]
    for task_id, (task, due) in waiting.items():
        if task_id not in existing:
            row = new_row(Timer, case_id=case.id, task_id=task_id, element_id=task.task_spec.bpmn_id, due_at=due,
                          status="pending", attempts=0, created_at=ctx.now,
                          label=getattr(task.task_spec, "bpmn_name", None), extension_days=0,
                          provisional=False, roll_forward=True)  # written by RowWrites, not flushed
            if task_id in computed:
                apply_rule(row, computed[task_id])
            writes.new.append(row)
            pending.append(row)
    return pending, writes


def _follow(row: Timer, due: datetime, computed: dict | None) -> None:
    if row.status == "pending" and row.due_at != due:
        row.due_at = due
    if computed is not None:
        apply_rule(row, computed)


def apply_rule(row: Timer, info: dict) -> None:
    row.rule, row.days = info["rule"], info["n"]
    row.start_at = datetime.fromisoformat(info["start_at"])
    row.roll_forward = bool(info.get("roll_forward", True))
    row.provisional = bool(info.get("provisional"))
    row.explanation = to_json(info)


def _apply_deadline(row: Timer, deadline) -> None:
    row.due_at = deadline.due_at
    row.provisional = bool(deadline.provisional)
    row.explanation = to_json(deadline.to_dict())


def reminder_instant(due_at: datetime, reminder: dict) -> datetime:
    """An hours reminder: `lead` hours before the limit it reminds of."""
    return due_at - timedelta(hours=int(reminder["lead"]))


def reminder_of(row: Timer) -> dict | None:
    """{"lead", "deadline_due_at"} when the timer is a reminder computed with yellow_at(deadline, lead)."""
    if not row.explanation:
        return None
    reminder = json.loads(row.explanation).get("reminder")
    return reminder if isinstance(reminder, dict) else None
