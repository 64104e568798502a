"""Who may move a case's clocks, and how: the same rules for every role, as the 信访工作条例 (2022) gives them.

- A process that declares statutory limits (meaning `statutory_limit` in processes/meanings.yaml) governs its
  clocks itself. None of them moves through the generic extension endpoint, for anyone: the handling limit is
  extended only through the process's extension path (the unit's request with reason and days, approval by the
  head of the handling unit, the 延期告知书 to the petitioner; 第三十四条), which moves every timer derived from
  it; the other limits have no extension in the regulation.
- In a process without declared statutory limits, a deadline may be extended through the endpoint by the
  supervising offices (bureau, joint-meeting office), never by the unit whose clock it is: nobody who holds the
  role of an open task of the case in that task's unit (the assessed unit) moves its own clock.
- The clock stops (pause) only where the regulation stops it: during a 复核 a hearing's time is not counted
  (第三十六条). The stop is journaled with that basis; anywhere else it is refused.
- A deadline computed wrongly is corrected by an administrator: its own journaled act with the reason.

Each check raises `ClockRefused` with a message that names the proper path; the web layer answers 403.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import element_meanings

_REG = "《信访工作条例》"
EXTENSION_BASIS = f"{_REG}第三十四条"
HEARING_BASIS = f"{_REG}第三十六条：复核机关举行听证的，听证所需时间不计算在复核期限内"
EXTENSION_PATH = ("请承办单位在「办理并拟写答复意见」中选择「申请延期」并写明理由和天数，由本单位负责人在「审批延期申请」中"
                  "批准；批准后办理期限及其提醒、督办和上交的时间一并顺延，并向信访人送达延期告知书")
CORRECTION_PATH = "期限计算有误的，请系统管理员用「更正时限」（POST /api/cases/{id}/deadlines/{key}/correct）更正并写明理由"


class ClockRefused(Exception):
    """The call would move a clock the caller may not move, or in a way the regulation does not allow."""

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message, self.details = message, dict(details or {})


@dataclass(frozen=True)
class OpenTask:
    element_id: str
    role: str | None
    unit: str | None


@dataclass(frozen=True)
class Caller:
    """The one who asks, as the access policy (web/visibility.py) sees them: whether their role lets them extend a
    deadline (a supervising office) or stop the clock at all, and whether they hold a role in a unit."""
    may_extend: bool
    may_stop: bool
    holds: Callable[[str, str | None], bool]


def governed(process_key: str) -> bool:
    """Whether the process declares statutory limits (its clocks move only through its own paths)."""
    return bool(element_meanings.default_meanings().elements("statutory_limit", process_key))


def handling_limit_timers(process_key: str) -> frozenset[str]:
    meanings = element_meanings.default_meanings()
    timers = meanings.mapping("limit_timer", process_key)
    return frozenset(timers[t] for t in meanings.elements("handling", process_key) if t in timers)


def check_extend(process_key: str, key: str, caller: Caller, open_tasks: Iterable[OpenTask]) -> None:
    """Raises ClockRefused unless `caller` may extend deadline `key` of a case of `process_key` here."""
    details = {"deadline": key, "basis": EXTENSION_BASIS}
    if governed(process_key):
        if key in handling_limit_timers(process_key):
            raise ClockRefused(f"办理期限不能直接延长：{EXTENSION_PATH}（{EXTENSION_BASIS}）。"
                               "(the handling limit is extended only through the process: the unit requests, "
                               "the head of the handling unit approves, the petitioner is told)", details)
        raise ClockRefused(f"期限 {key} 由流程按法定时限和时限设置计算，不能通过接口延长；只有办理期限可以经延期审批延长："
                           f"{EXTENSION_PATH}。{CORRECTION_PATH}。(this process governs its own clocks; only the "
                           "handling limit can be extended, through the process's extension path)", details)
    own = [t for t in open_tasks if t.role and caller.holds(t.role, t.unit)]
    if own:
        raise ClockRefused(f"不能延长本单位正在办理的事项的期限（「{own[0].element_id}」由您所在单位办理）；延期由督办的"
                           "信访局或联席会议办公室批准。(the assessed unit cannot move its own clock)", details)
    if not caller.may_extend:
        raise ClockRefused("延长期限由督办的信访局或联席会议办公室批准，承办单位及其负责人、县信访部门和领导不能延长自己"
                           f"被考核的期限。{CORRECTION_PATH}。(only the supervising offices extend a deadline)",
                           details)


def check_pause(process_key: str, caller: Caller, open_tasks: Iterable[OpenTask]) -> str:
    """The legal basis for stopping the clock of a case now, or ClockRefused: only while a 复核 is open, by the
    re-review body (which holds the hearing), the bureau or an administrator."""
    if not caller.may_stop:
        raise ClockRefused("暂停计时只用于复核中举行听证（听证时间不计入复核期限），由复核机关、信访局或系统管理员操作。"
                           f"({HEARING_BASIS}; only the re-review body, the bureau or an administrator stop the clock)",
                           {"basis": HEARING_BASIS})
    rereview = element_meanings.default_meanings().elements("rereview", process_key)
    if not any(t.element_id in rereview for t in open_tasks):
        raise ClockRefused("只有复核中举行听证时才能暂停计时（听证时间不计入复核期限）；其他期限条例没有规定暂停，"
                           f"请按期办理，办理期限确需延长的：{EXTENSION_PATH}。"
                           f"({HEARING_BASIS}; the clock stops nowhere else)", {"basis": HEARING_BASIS})
    return HEARING_BASIS


def extension_request(data: dict) -> dict | None:
    """What the head of the unit decides on (shown on 审批延期申请): the days asked and why, what was extended before,
    and what may still be granted under the statutory maximum. None when no request is in the data."""
    days, reason = data.get("extension_days"), data.get("extension_reason")
    if days is None and not reason:
        return None
    limits = data.get("limits") if isinstance(data.get("limits"), dict) else {}
    most = limits.get("extension_max_days", 30)
    total = data.get("extension_days_total") or 0
    return {"days": days, "reason": reason or "", "total": total, "max": most, "allowance": max(most - total, 0),
            "basis": EXTENSION_BASIS}


def may_concern_extension(element_id: str, process_key: str) -> bool:
    """Whether a task's form asks for or grants an extension (so that its case data is needed to check it)."""
    meanings = element_meanings.default_meanings()
    return element_id in meanings.elements("handling", process_key) | meanings.elements("extension_approval",
                                                                                         process_key)


def extension_form_errors(element_id: str, process_key: str, data: dict, form: dict) -> dict[str, str]:
    """Field -> message for an extension asked or approved beyond what the regulation leaves (第三十四条), checked
    when the form is submitted so that it is refused with its reason instead of being turned down silently by the
    process: the unit asks at most what remains of the maximum, the head grants at most what was asked and what
    remains. Empty for every other task."""
    meanings = element_meanings.default_meanings()
    limits = data.get("limits") if isinstance(data.get("limits"), dict) else {}
    most = limits.get("extension_max_days", 30)
    total = data.get("extension_days_total") or 0
    left = max(most - total, 0)
    if element_id in meanings.elements("handling", process_key) and form.get("handle_action") == "申请延期":
        days = form.get("extension_days")
        if left == 0:
            return {"extension_days": f"已延期{total}日，达到{most}日的上限，不能再申请延期；请按期答复，确实无法化解的提请上交"
                                      f"（{EXTENSION_BASIS}）"}
        if isinstance(days, int) and days > left:
            return {"extension_days": f"延期合计不得超过{most}日，此前已延期{total}日，本次至多申请{left}日（{EXTENSION_BASIS}）"}
    if element_id in meanings.elements("extension_approval", process_key) and form.get("extension_approved") is True:
        days, asked = form.get("approved_days"), data.get("extension_days")
        if isinstance(days, int) and isinstance(asked, int) and days > asked:
            return {"approved_days": f"批准天数不能超过承办单位申请的{asked}日"}
        if isinstance(days, int) and days > left:
            return {"approved_days": f"延期合计不得超过{most}日，此前已延期{total}日，至多批准{left}日（{EXTENSION_BASIS}）"}
    return {}
