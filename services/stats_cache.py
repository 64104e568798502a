"""Every case's statistical facts, kept between requests and brought up to date from the journal (issue #21: the
statistics read every case's journal on every request, 5.7 s at 10,000 cases).

A case's facts (services.stats_facts) depend on its own rows (case row, work items, journal), the settings,
the organisation chart and the working calendar, and on the rows of a few related cases: the repeats recognised
of it (repeat_link) and the linked cases that write its register rows (an urgent matter's report case); the caller
names those (`related`), and they are rebuilt with the cases that changed. Every change to a case writes a journal event, so the facts
kept are brought up to date by rebuilding those of the cases with journal events newer than the last ones read
(`journal_event.id`, the primary key: an indexed range), and of the cases that got an incident (a timer that
failed for good sets the case's status without a journal event). A change of the settings, the chart or the
calendar's version builds everything again.

On PostgreSQL ids are taken when a row is inserted, not when it commits: an id below the highest one read may
still come from a transaction that commits later. The ids missing below the highest one are therefore kept for
`GAP_SECONDS` and asked for again at every refresh (an id left by a rolled-back transaction never comes).

`ReportCache` keeps a computed report with the instant it was computed and the first instant after which it can
change: every comparison with "now" in the KPIs (services.stats) is with a deadline's due instant or the
period's bounds, so between two such instants the figures are the same, and a report asked for again before the
next one is answered from the cache (with its `computed_at` set to the new instant). Both caches are per process
and answer exactly what a computation from scratch would.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import func, select

from engine.calendar.models import CalendarYear
from engine.store import Incident, JournalEvent

GAP_SECONDS = 600.0
MAX_GAPS = 20000


class _Entry:
    def __init__(self, signature, by_case: dict, mark: int, incident_mark: int):
        self.signature = signature
        self.by_case = by_case
        self.mark, self.incident_mark = mark, incident_mark
        self.gaps: dict[int, float] = {}
        self.generation = 0
        self._list: list | None = None

    def facts(self) -> list:
        if self._list is None:
            self._list = [self.by_case[k] for k in sorted(self.by_case)]
        return self._list


class FactsStore:
    """The facts of every case for one database, per settings digest."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._generations = 0

    def facts(self, s, key: str, signature, load: Callable[[Iterable[int] | None], list],
              related: Callable | None = None) -> tuple[list, int]:
        """(facts, generation) as of now. `load(None)` builds every case's facts, `load(ids)` those of `ids`
        (a case no longer counted is simply absent); `signature` (chart, calendar) must equal the kept one.
        `related(s, ids)`: the other cases whose facts depend on the rows of `ids` (a linked case's parent, the
        other side of a repeat), rebuilt with them."""
        top = s.scalar(select(func.coalesce(func.max(JournalEvent.id), 0)))
        incident_top = s.scalar(select(func.coalesce(func.max(Incident.id), 0)))
        calendar = tuple(s.execute(select(func.count(CalendarYear.id),
                                          func.coalesce(func.sum(CalendarYear.version), 0))).one())
        signature = (signature, calendar)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.signature != signature or len(entry.gaps) > MAX_GAPS:
                entry = _Entry(signature, {f.id: f for f in load(None)}, top, incident_top)
                return self._keep(key, entry)
            if top == entry.mark and incident_top == entry.incident_mark and not entry.gaps:
                return entry.facts(), entry.generation
            changed = self._changed_cases(s, entry, top, incident_top)
            if changed and related is not None:
                changed |= related(s, changed)
            if changed:
                fresh = {f.id: f for f in load(changed)}
                for case_id in changed:
                    entry.by_case.pop(case_id, None)
                entry.by_case.update(fresh)
                return self._keep(key, entry)
            return entry.facts(), entry.generation

    def _keep(self, key: str, entry: _Entry) -> tuple[list, int]:
        self._generations += 1
        entry.generation = self._generations
        entry._list = None
        self._entries[key] = entry
        return entry.facts(), entry.generation

    @staticmethod
    def _changed_cases(s, entry: _Entry, top: int, incident_top: int) -> set[int]:
        now = time.monotonic()
        wanted = JournalEvent.id > entry.mark
        if entry.gaps:
            wanted = wanted | JournalEvent.id.in_(sorted(entry.gaps))
        rows = s.execute(select(JournalEvent.id, JournalEvent.case_id).where(wanted)).all()
        seen = {r.id for r in rows}
        for gap in [g for g in entry.gaps if g in seen or now - entry.gaps[g] > GAP_SECONDS]:
            del entry.gaps[gap]
        for missing in set(range(entry.mark + 1, top + 1)) - seen:
            entry.gaps[missing] = now
        changed = {r.case_id for r in rows}
        if incident_top != entry.incident_mark:
            changed |= set(s.scalars(select(Incident.case_id).where(Incident.id > entry.incident_mark)))
        entry.mark, entry.incident_mark = max(top, entry.mark), max(incident_top, entry.incident_mark)
        return changed


def horizon(facts: Iterable, now: datetime, bounds: Iterable[datetime]) -> datetime | None:
    """The first instant at or after `now` at which a comparison of the KPIs with "now" can turn: the due instants
    of every deadline and the period's bounds (None: no such instant)."""
    first = None
    for at in _instants(facts, bounds):
        if at is not None and at >= now and (first is None or at < first):
            first = at
    return first


def _instants(facts: Iterable, bounds: Iterable[datetime]):
    yield from bounds
    for f in facts:
        yield f.handling_due
        if f.acceptance is not None:
            yield f.acceptance.due_at
        for group in (f.statutory, f.milestones, f.escalations, f.reviews, f.redos):
            for d in group:
                yield d.due_at


class ReportCache:
    """Reports per (facts generation, question), each valid from the instant it was computed up to its horizon."""

    def __init__(self, size: int = 64):
        self._lock = threading.Lock()
        self._kept: dict = {}
        self._size = size

    def get(self, key, now: datetime):
        with self._lock:
            kept = self._kept.get(key)
        if kept is None:
            return None
        computed, until, result = kept
        if now < computed or (until is not None and now > until):
            return None
        return result

    def put(self, key, now: datetime, until: datetime | None, result: dict) -> None:
        with self._lock:
            if len(self._kept) >= self._size:
                self._kept.pop(next(iter(self._kept)))
            self._kept[key] = (now, until, result)


def fresh_copy(value):
    """A copy of a report whose dicts and lists can be changed without touching the kept one."""
    if isinstance(value, dict):
        return {k: fresh_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        if value and not isinstance(value[0], (dict, list)):
            return list(value)
        return [fresh_copy(v) for v in value]
    return value
