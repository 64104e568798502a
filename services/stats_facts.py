"""What each case contributes to the statistics, as plain values (统计事实).

`services.store.stats.load_rows` reads the store (cases, work items, selected journal events); `build_facts` turns
those rows into one `CaseFacts` per case. Everything the KPIs need is here: when the matter was received, its
channel and triage route, the responsible unit, the acceptance and handling deadlines with when they were met,
the *first* closure and the *first* written reply (a case sent back for redo or reopened by review keeps its first
result; the new clock is counted separately), the rating, the 13710 milestones and the escalation tiers.
Data keys are read defensively: a process version without a step simply contributes nothing for it. Which element
is which step comes from the settings' element lists (`settings.ids(...)`), which `KpiSettings.load` takes from the
element meanings (processes/meanings.yaml; `services.stats_settings.STATISTICS_ELEMENTS` says which list joins which
meanings); a frozen snapshot's copy of the settings carries the lists it was computed with.
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .stats_settings import KpiSettings

# The service calls whose recorded results the facts read (case number, responsible unit, dispatch): the store
# reads the journal's `service.called` events of these handlers only.
FACT_HANDLERS = ("issue_case_number", "resolve_responsible_unit", "dispatch_case", "route_out", "not_accepted",
                 "send_back_skip_level", "conclude_suggestion")
SUGGESTION_HANDLER = "conclude_suggestion"  # the suggestion process's conclusion: adopted or not, rewarded or not


@dataclass(frozen=True)
class Deadline:
    """One work item with a deadline: when it was due and when (if ever) it was done."""

    element_id: str
    unit: str | None
    created_at: datetime
    due_at: datetime | None
    done_at: datetime | None
    state: str  # open, completed, cancelled
    code: str = ""

    def met(self) -> bool:
        return self.state == "completed" and self.due_at is not None and self.done_at is not None \
            and self.done_at <= self.due_at

    def settled(self, now: datetime) -> bool:
        """Done, given up, or past due: its on-time result is known."""
        return self.state != "open" or (self.due_at is not None and now > self.due_at)


@dataclass(frozen=True)
class UrgentReport:
    """One urgent matter (重大紧急事项) flagged on the case: its kind, when it was flagged, and its two hours limits
    (first report, written follow-up) as deadlines (services/urgent.py keeps them in the register `urgent`)."""
    kind: str
    flagged_at: datetime
    first: Deadline
    written: Deadline

    @property
    def first_hours(self) -> float | None:
        """Hours from the flag to the first report; None while it is not made."""
        if self.first.done_at is None:
            return None
        return (self.first.done_at - self.flagged_at).total_seconds() / 3600


def urgent_report(row: dict) -> UrgentReport | None:
    """The register row of an urgent matter as the statistics read it; None for a row without its times."""
    try:
        at = datetime.fromisoformat(row["at"])
        stages = [(datetime.fromisoformat(row[f"{s}_due"]),
                   datetime.fromisoformat(row[f"{s}_report_at"]) if row.get(f"{s}_report_at") else None)
                  for s in ("first", "written")]
    except (KeyError, TypeError, ValueError):
        return None
    first, written = (Deadline(f"urgent_{name}", row.get("office"), at, due, done,
                               "completed" if done is not None else "open", "urgent")
                      for name, (due, done) in zip(("first", "written"), stages, strict=True))
    return UrgentReport(str(row.get("kind") or ""), at, first, written)


@dataclass
class CaseFacts:
    id: int
    case_no: str
    title: str
    received_at: datetime
    channel: str = ""
    category: str = ""
    nature: str = ""
    location: str = ""
    unit: str = ""
    dispatch_type: str = ""
    dispatched_at: datetime | None = None
    route: str = ""
    outcome: str = ""
    is_repeat: bool = False
    confidential: bool = False
    status: str = ""
    acceptance: Deadline | None = None
    handling_due: datetime | None = None
    handling_unit: str | None = None
    closed_at: datetime | None = None
    reply_at: datetime | None = None
    rating: str | None = None
    rated_at: datetime | None = None
    statutory: list[Deadline] = field(default_factory=list)
    milestones: list[Deadline] = field(default_factory=list)
    escalations: list[Deadline] = field(default_factory=list)
    reviews: list[Deadline] = field(default_factory=list)
    redo_at: list[datetime] = field(default_factory=list)  # each 退回重办 (the bureau sent the reply back)
    redos: list[Deadline] = field(default_factory=list)  # each redo's own handling clock (counted separately)
    route_out_channel: str = ""  # 诉访分离 (at triage or as the reason of 不予受理): the channel's code
    skip_level_area: str = ""  # 越级访 sent back: the area (county) the matter belongs to
    group_visit: bool = False  # 集体访: registered as a visit of five or more people
    visitors: int = 0  # the group visit's headcount (来访人数; the petitioners named when it was not filled in)
    process_key: str = "petition_case"
    settled_at: datetime | None = None  # settled on the spot at triage (当场化解): concluded without a sign-off
    repeated_at: list[datetime] = field(default_factory=list)  # each later petition recognised as its repeat
    concluded_at: datetime | None = None  # a suggestion (人民建议): when the proposer was told the conclusion
    adopted: bool = False  # a suggestion adopted (采纳)
    rewarded: bool = False  # a suggestion adopted and rewarded (奖励)
    urgent: list[UrgentReport] = field(default_factory=list)  # 重大紧急事项 flagged on the case

    def summary(self) -> dict:
        if self.confidential:  # counted, never shown: accusation materials stay with the discipline organ
            return {"id": None, "case_no": "", "title": "", "channel": "", "category": "", "unit": "",
                    "received_at": self.received_at.isoformat(), "status": "", "confidential": True}
        return {"confidential": False, "id": self.id, "case_no": self.case_no, "title": self.title, "channel": self.channel,
                "category": self.category, "unit": self.unit, "received_at": self.received_at.isoformat(),
                "status": self.status}


def group_visit_of(data: dict) -> tuple[bool, int]:
    """(whether the case is a group visit, its headcount): the registered 来访人数, else the petitioners named."""
    if data.get("group_visit") is not True:
        return False, 0
    count = data.get("visitors_count")
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return True, count
    people = data.get("petitioners") if isinstance(data.get("petitioners"), list) else []
    return True, max(len(people), 1)


def _changed(event_data: dict, key: str) -> Any:
    """The new value of `key` in a task.completed event's `changes` (old, new), or None."""
    change = (event_data.get("changes") or {}).get(key)
    return change[1] if isinstance(change, list) and len(change) == 2 else None


def build_facts(cases: Iterable, items: Iterable, events: Iterable, settings: KpiSettings,
                level_of: Callable[[str], str] | None = None,
                acceptance_due: Callable[[datetime], datetime | None] | None = None,
                repeat_links: Iterable = ()) -> list[CaseFacts]:
    """`cases`: rows with id, case_no, created_at, status, summary_json (and process_key); `items`: work item
    rows; `events`: journal rows (case_id, seq, at, type, element_id, data) in seq order per case; `level_of(unit)`:
    the level (county, city, province) a joint-meeting office belongs to, for the escalation tiers;
    `acceptance_due(at)`: the acceptance limit of a case dispatched at `at` and not yet signed (it has no acceptance
    task yet); `repeat_links`: rows (repeat_case_id, original_case_id, linked_at) of the repeat_link table, every
    repeat recognised (at registration or at triage, merged or refused), marking both the repeat and its original."""
    by_case: dict[int, CaseFacts] = {}
    for c in cases:
        summary = json.loads(c.summary_json or "{}")
        by_case[c.id] = CaseFacts(id=c.id, case_no=c.case_no or str(c.id), title=summary.get("title", ""),
                                  received_at=c.created_at, channel=summary.get("channel", ""),
                                  category=summary.get("category", ""), status=c.status,
                                  process_key=getattr(c, "process_key", None) or "petition_case")
    item_rows: dict[int, list] = {}
    for w in items:
        if w.case_id in by_case:
            item_rows.setdefault(w.case_id, []).append(w)
    event_rows: dict[int, list] = {}
    for e in events:
        if e.case_id in by_case:
            event_rows.setdefault(e.case_id, []).append(e)
    for case_id, facts in by_case.items():
        events_of_case = event_rows.get(case_id, [])
        _apply_events(facts, events_of_case, settings)
        items_of_case = sorted(item_rows.get(case_id, []), key=lambda w: (w.created_at, w.id))
        _apply_items(facts, _with_due_dates(items_of_case, events_of_case, settings), settings,
                     level_of or (lambda unit: ""))
        if not facts.unit:
            facts.unit = facts.location
        if facts.acceptance is None and facts.dispatched_at is not None and acceptance_due is not None:
            due = acceptance_due(facts.dispatched_at)
            if due is not None:  # dispatched, not signed: the acceptance limit runs all the same
                facts.acceptance = Deadline("acceptance", facts.unit, facts.dispatched_at, due, None, "open")
    _apply_repeat_links(by_case, repeat_links)
    return list(by_case.values())


def _apply_repeat_links(by_case: dict[int, CaseFacts], links: Iterable) -> None:
    """A repeat is a repeat however it was recognised; its original was petitioned again (not resolved at once)."""
    for link in links:
        repeat = by_case.get(link.repeat_case_id)
        if repeat is not None:
            repeat.is_repeat = True
        original = by_case.get(link.original_case_id) if link.original_case_id is not None else None
        if original is not None and original is not repeat:
            original.repeated_at.append(link.linked_at)


def _apply_suggestion(f: CaseFacts, at: datetime, result: dict) -> None:
    """The suggestion process's conclusion (service `conclude_suggestion`): adopted or not, rewarded or not."""
    f.concluded_at = f.concluded_at or at
    f.adopted = result.get("adopted") is True
    f.rewarded = f.adopted and result.get("rewarded") is True


def _apply_events(f: CaseFacts, events: list, settings: KpiSettings) -> None:
    triage, reply, signoff = settings.ids("triage"), settings.ids("reply_served"), settings.ids("signoff")
    redo, rating = settings.ids("returned_for_redo"), settings.ids("rating")
    handling = settings.ids("handling")
    pending_signoff: datetime | None = None
    for e in events:
        data = json.loads(e.data or "{}")
        if e.type == "case.started":
            start = data.get("data") or {}
            f.channel = start.get("channel") or f.channel
            f.category = start.get("category") or f.category
            f.nature = start.get("nature") or ""
            f.location = start.get("location") or start.get("registering_unit") or "city_bureau"
            f.is_repeat = bool(start.get("is_repeat"))
            f.group_visit, f.visitors = group_visit_of(start)
            received = start.get("received_at")
            if isinstance(received, str):
                with contextlib.suppress(ValueError):
                    f.received_at = datetime.fromisoformat(received)
            continue
        if e.type == "service.called":
            result = data.get("result") or {}
            if data.get("handler") == "issue_case_number" and isinstance(result, dict):
                f.case_no = result.get("case_no") or f.case_no
            if data.get("handler") in ("resolve_responsible_unit", "dispatch_case") and isinstance(result, dict):
                f.unit = result.get("unit") or f.unit
                f.dispatch_type = result.get("dispatch_type") or f.dispatch_type
            if data.get("handler") == "dispatch_case" and isinstance(result, dict):
                f.dispatched_at = e.at  # the latest dispatch (a reassignment starts the clock again)
            _apply_route_out(f, data.get("handler"), result)
            if data.get("handler") == SUGGESTION_HANDLER and isinstance(result, dict):
                _apply_suggestion(f, e.at, result)
            continue
        if e.type != "task.completed":
            continue
        if pending_signoff is not None and e.at != pending_signoff:
            f.closed_at = f.closed_at or pending_signoff  # the sign-off's command ended without a redo
            pending_signoff = None
        if e.element_id in triage and not f.route:
            f.route = _changed(data, "route") or ""
            if f.route in settings.route_values("repeat"):
                f.is_repeat = True
            f.confidential = f.route in settings.route_values("confidential")
            f.settled_at = e.at if f.route in settings.route_values("on_spot") else None
        elif e.element_id in reply and f.reply_at is None:
            f.reply_at = e.at
        elif e.element_id in signoff and f.closed_at is None:
            pending_signoff = e.at
        elif e.element_id in redo:
            f.redo_at.append(e.at)
            pending_signoff = None  # returned for redo: not a closure
        elif e.element_id in handling and not f.outcome:
            f.outcome = _changed(data, "outcome") or ""
        elif e.element_id in rating and f.rated_at is None:
            value = _changed(data, "rating")
            if value:
                f.rating, f.rated_at = value, e.at
    if pending_signoff is not None and f.closed_at is None:
        f.closed_at = pending_signoff


def _apply_route_out(f: CaseFacts, handler: str | None, result) -> None:
    """诉访分离 by channel (a version before the route-out list: 诉讼), and 越级访 sent back by area."""
    if not isinstance(result, dict):
        return
    if handler in ("route_out", "not_accepted") and result.get("channel"):
        f.route_out_channel = str(result["channel"])
    elif handler == "route_out" and result.get("kind") == "诉讼":
        f.route_out_channel = "litigation"
    elif handler == "send_back_skip_level" and result.get("area"):
        f.skip_level_area = str(result["area"])


def _with_due_dates(items: list, events: list, settings: KpiSettings) -> list:
    """A work item created after its limit had already passed has no due date of its own (its timer fired at
    once): take the due instant the journal recorded for that timer when the item was created."""
    timers = settings.elements.get("limit_timers") or {}
    computed: dict[str, list] = {}
    for e in events:
        if e.type == "deadline.computed":
            due = json.loads(e.data or "{}").get("due_at")
            if due:
                computed.setdefault(e.element_id, []).append((e.at, datetime.fromisoformat(due)))
    out = []
    for w in items:
        if w.due_at is None and w.element_id in timers:
            known = [due for at, due in computed.get(timers[w.element_id], []) if at <= w.created_at]
            if known:
                w = _Item(w.id, w.case_id, w.element_id, w.unit, w.state, w.created_at, known[-1], w.completed_at)
        out.append(w)
    return out


@dataclass(frozen=True)
class _Item:
    id: int
    case_id: int
    element_id: str
    unit: str | None
    state: str
    created_at: datetime
    due_at: datetime | None
    completed_at: datetime | None


def _deadline(w, code: str = "") -> Deadline:
    return Deadline(w.element_id, w.unit, w.created_at, w.due_at, w.completed_at if w.state != "open" else None,
                    w.state, code)


def _apply_items(f: CaseFacts, items: list, settings: KpiSettings, level_of: Callable[[str], str]) -> None:
    acceptance, handling = settings.ids("acceptance"), settings.ids("handling")
    statutory, reviews = settings.ids("statutory"), settings.ids("review")
    milestones = settings.elements.get("milestones") or {}
    escalation = settings.ids("escalation_entry")
    handling_steps = settings.ids("sign") | acceptance | handling
    assigned_units = [w.unit for w in items if w.element_id in handling_steps and w.unit]
    if assigned_units:
        f.unit = assigned_units[-1]  # the unit that signed, accepted or handled last (after any reassignment)
    for w in items:
        if w.element_id in acceptance and f.acceptance is None:
            f.acceptance = _deadline(w)
        # The deadline in force at the first closure (an approved extension moves it). A redo has a clock of its
        # own (limits.redo_days from 退回重办): it is counted as a redo, never as the case's handling limit.
        redone = bool(f.redo_at) and w.created_at >= f.redo_at[0]
        if w.element_id in handling and w.due_at is not None and redone and w.created_at in f.redo_at:
            f.redos.append(_deadline(w))
        if w.element_id in handling and w.due_at is not None and not redone \
                and (f.closed_at is None or w.created_at <= f.closed_at):
            f.handling_due, f.handling_unit = w.due_at, w.unit
        if w.element_id in statutory and w.due_at is not None and not (redone and w.element_id in handling):
            f.statutory.append(_deadline(w))  # a redo's clock is the office's own, not a statutory limit
        if w.element_id in reviews and w.due_at is not None:
            f.reviews.append(_deadline(w))
        if w.element_id in milestones and w.due_at is not None:
            f.milestones.append(_deadline(w, milestones[w.element_id]))
        if w.element_id in escalation:
            f.escalations.append(_deadline(w, level_of(w.unit or "")))
