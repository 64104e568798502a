"""The case page's actions (办理操作): pause for a hearing, resume, retry an incident, correct a deadline, issue a
督办, record a 问责 (services/accountability.py), hand over a claimed task, confirm or decline the petitioner's
撤回 (services/withdrawal.py), and where to request an extension. Each is offered only to those the rules let use it
(the same checks as the API: services/clock_governance.py, services/manual_supervision.py, web/visibility.py), and
each opens a confirmation page saying what it will do before it does it (GET /cases/<id>/actions/<action>); the
confirmed form posts back (POST, CSRF) and the existing runtime call journals the act. A hand-over's confirmed form
posts to the task list's own hand-over (`/tasks/<id>/reassign|delegate`), which checks who may receive it.
"""
from __future__ import annotations

from flask_babel import gettext as _

from engine.runtime import Conflict, Invalid, NotFound
from services import accountability, clock_governance, element_meanings, manual_supervision, withdrawal
from services.colleagues import colleagues_in

from .. import visibility
from ..auth import ApiError, Principal
from ..http import container

ACTIONS = ("pause", "resume", "retry", "correct", "supervise", "handover", "accountability", "withdraw",
           "decline_withdrawal")


def caller(p: Principal) -> clock_governance.Caller:
    return clock_governance.Caller(visibility.may_extend_clocks(p), visibility.may_stop_clocks(p), p.holds)


def open_tasks(view) -> list[clock_governance.OpenTask]:
    return [clock_governance.OpenTask(t.element_id, t.role, t.unit) for t in view.tasks]


def _handover_tasks(p: Principal, view) -> list:
    """Open tasks the user may hand over: claimed by them, or claimed by someone of a unit they supervise."""
    return [t for t in view.tasks if t.assignee and t.unit
            and (t.assignee == p.username or visibility.may_hand_over(p, t))]


def available(p: Principal, view, task_url) -> dict:
    """What the case page offers `p` on this case (action -> what it needs to show); nothing for a closed case or a
    read-only role."""
    if view.status == "completed" or not visibility.may_write(p):
        return {}
    offered: dict = {}
    if view.paused:
        if visibility.may_stop_clocks(p):
            offered["resume"] = True
    else:
        try:
            clock_governance.check_pause(view.process_key, caller(p), open_tasks(view))
            offered["pause"] = True
        except clock_governance.ClockRefused:
            pass
    if view.status == "incident" and _may_retry(p, view):
        offered["retry"] = True
    if visibility.may_correct_deadlines(p) and view.deadlines:
        offered["correct"] = True
    target = manual_supervision.target(view, manual_supervision.chart_of(container().runtime))
    if manual_supervision.may_issue(target, p.holds):
        offered["supervise"] = target
    if _handover_tasks(p, view):
        offered["handover"] = True
    offered.update(_extension(p, view, task_url))
    targets = accountability_targets(p, view)
    if targets:
        offered["accountability"] = targets
    offered.update(_withdrawal(p, view))
    return offered


def _withdrawal(p: Principal, view) -> dict:
    """确认撤回 while the process still listens for it, to the registering office; 不同意撤回 while an online request is
    pending. Both carry the withdrawal's state (the request, its reason)."""
    if not visibility.may_decide_withdrawal(p, (view.data or {}).get("registering_unit")) \
            or withdrawal.MESSAGE not in container().runtime.waiting_messages(view.id):
        return {}
    with container().extras["read_sessions"]() as s:
        current = withdrawal.state(s, view.id)
    offered = {"withdraw": current}
    if current["state"] == "requested":
        offered["decline_withdrawal"] = current
    return offered


def accountability_targets(p: Principal, view) -> list[dict]:
    """The units of the case `p` may hold to account (问责), each with the office in whose name and its people."""
    if view.process_key in accountability.LINKED_PROCESSES:
        return []
    chart = accountability.chart_of(container().runtime)
    assigning = accountability.assigning_unit(view.data)
    with container().extras["read_sessions"]() as s:
        return accountability.targets(s, view.id, chart,
                                      lambda unit: visibility.accountability_office(p, chart, unit, assigning))


def accountability_kinds() -> list[dict]:
    """The kinds with their limit bounds, for the form and its preview."""
    return [{"kind": k, "min": accountability.limit_bounds(k)[0], "max": accountability.limit_bounds(k)[1]}
            for k in accountability.KINDS]


def _extension(p: Principal, view, task_url) -> dict:
    """申请延期 is the handling task's own choice: its unit's handler gets the link, others the explanation."""
    handling = element_meanings.default_meanings().elements("handling", view.process_key)
    mine = [t for t in view.tasks if t.element_id in handling and t.role and p.holds(t.role, t.unit)]
    if mine:
        return {"extension": {"url": task_url(mine[0].id), "task": mine[0].name}}
    return {"extension_note": True} if any(t.element_id in handling for t in view.tasks) else {}


def refused(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


class Undone(Exception):
    """The action was not done: the message says what to fill in (the confirmation page shows it again)."""


def handover_rows(p: Principal, view) -> list[dict]:
    rows = []
    with container().extras["read_sessions"]() as s:
        for t in _handover_tasks(p, view):
            rows.append({"task": t,
                         "reassign_to": [x for x in colleagues_in(s, t.unit, t.role) if x[0] != t.assignee],
                         "delegate_to": [x for x in colleagues_in(s, t.unit, None) if x[0] != t.assignee]})
    return rows


def _pause(p: Principal, view, form) -> str:
    try:
        basis = clock_governance.check_pause(view.process_key, caller(p), open_tasks(view))
    except clock_governance.ClockRefused as refusal:
        raise refused(refusal.message) from None
    reason = (form.get("reason") or "").strip()
    if not reason:
        raise Undone(_("请写明暂停计时的理由（如听证安排）。"))
    container().runtime.pause_deadlines(view.id, p.username, reason, basis=basis)
    return _("已暂停计时。")


def _resume(p: Principal, view, form) -> str:
    if not visibility.may_stop_clocks(p):
        raise refused(_("恢复计时由复核机关、信访局或系统管理员操作。"))
    container().runtime.resume_deadlines(view.id, p.username, (form.get("reason") or "").strip())
    return _("已恢复计时。")


def _may_retry(p: Principal, view) -> bool:
    with container().extras["read_sessions"]() as s:
        return visibility.may_retry_incidents(s, p, view.id)


def _retry(p: Principal, view, form) -> str:
    if not _may_retry(p, view):
        raise refused(_("重试故障由系统管理员或信访局操作。"))
    container().runtime.retry_incidents(view.id, actor=p.username)
    return _("已重试故障环节。")


def _correct(p: Principal, view, form) -> str:
    if not visibility.may_correct_deadlines(p):
        raise refused(_("更正时限由系统管理员操作。"))
    key, due, reason = form.get("key") or "", form.get("due_date") or "", (form.get("reason") or "").strip()
    if not reason or not due or not key:
        raise Undone(_("请选择期限、填写新的到期日并写明更正理由。"))
    container().runtime.correct_deadline(view.id, key, due, p.username, reason)
    return _("时限已更正。")


def _supervise(p: Principal, view, form) -> str:
    c = container()
    try:
        with c.session_factory() as s, s.begin():
            done = manual_supervision.issue(c.runtime, s, view.id, p.username, p.holds, form.get("reason") or "",
                                            c.clock.now(), supervises=visibility.issues_supervision(p))
    except manual_supervision.SupervisionRefused as refusal:
        if refusal.status == 403:
            raise refused(_(refusal.message, **refusal.params)) from None
        raise Undone(_(refusal.message, **refusal.params)) from None
    return _("已督办%(unit)s。", unit=done["unit_name"])


def _accountability(p: Principal, view, form) -> str:
    c = container()
    chart = accountability.chart_of(c.runtime)
    assigning = accountability.assigning_unit(view.data)
    limit = (form.get("limit_days") or "").strip()
    if limit and not limit.isdigit():
        raise Undone(_("书面反馈期限请填写整数天数，或留空按时限设置。"))
    req = accountability.Request(unit=form.get("unit") or "", kind=form.get("kind") or "",
                                 reason=form.get("reason") or "", person=form.get("person") or "",
                                 limit_days=int(limit) if limit else None)
    try:
        with c.session_factory() as s, s.begin():
            done = accountability.record(c.runtime, s, view.id, p.username, req,
                                         lambda unit: visibility.accountability_office(p, chart, unit, assigning),
                                         c.clock.now())
    except accountability.AccountabilityRefused as refusal:
        if refusal.status == 403:
            raise refused(_(refusal.message)) from None
        raise Undone(_(refusal.message)) from None
    return _("已记录对%(unit)s的%(kind)s，并要求其书面反馈。", unit=done["unit_name"], kind=_(done["kind"]))


def _may_decide_withdrawal(p: Principal, view) -> None:
    if not visibility.may_decide_withdrawal(p, (view.data or {}).get("registering_unit")):
        raise refused(_("撤回由登记本件的信访工作机构确认或不予同意。"))


def _withdrawal_refused(refusal: withdrawal.WithdrawalRefused) -> Undone:
    return Undone(_(refusal.message, **refusal.params))


def _withdraw(p: Principal, view, form) -> str:
    _may_decide_withdrawal(p, view)
    try:
        withdrawal.confirm(container(), view.id, p.username, form.get("channel") or "", form.get("statement") or "")
    except withdrawal.WithdrawalRefused as refusal:
        raise _withdrawal_refused(refusal) from None
    return _("已确认撤回，本件终止办理，并已告知信访人。")


def _decline_withdrawal(p: Principal, view, form) -> str:
    _may_decide_withdrawal(p, view)
    try:
        withdrawal.decline(container(), view.id, p.username, form.get("reason") or "")
    except withdrawal.WithdrawalRefused as refusal:
        raise _withdrawal_refused(refusal) from None
    return _("已不同意撤回，并已告知信访人理由；本件继续办理。")


PERFORM = {"pause": _pause, "resume": _resume, "retry": _retry, "correct": _correct, "supervise": _supervise,
           "accountability": _accountability, "withdraw": _withdraw, "decline_withdrawal": _decline_withdrawal}


def perform(p: Principal, view, action: str, form) -> str:
    """Do a confirmed action by the same rules as the API; the message to show, or Undone / a 403 ApiError."""
    if not visibility.may_write(p):
        raise refused(_("您不能对本件执行此操作。"))
    try:
        return PERFORM[action](p, view, form)
    except (Conflict, NotFound, Invalid, ValueError) as err:
        raise Undone(getattr(err, "message", None) or str(err)) from None


def withdrawal_channels() -> list[tuple[str, str]]:
    """How the petitioner withdrew, for the confirmation form: online (the pending request), or told to the office."""
    return list(withdrawal.CHANNELS.items())
