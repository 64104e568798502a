"""The statistics' kept facts (services/stats_cache.py) are rebuilt for exactly the cases the journal or an
incident names since the last look, including an event whose id was taken before the last look but that
committed after it (PostgreSQL takes ids at insert, not at commit); and a kept report is answered only up to
the next instant at which a figure can turn."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from engine.calendar.models import CalendarYear
from engine.store import Incident, JournalEvent
from services.stats_cache import FactsStore, ReportCache, fresh_copy, horizon
from services.stats_facts import CaseFacts, Deadline

T = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class Facts:
    def __init__(self, case_id: int):
        self.id = case_id


def event(s: Session, id_: int, case_id: int) -> None:
    s.execute(JournalEvent.__table__.insert(), [dict(id=id_, case_id=case_id, seq=id_, at=T, actor="t", type="x",
                                                      element_id=None, data="{}", prev_hash="", hash="")])


def journal_db():
    """An in-memory database with the tables the kept facts look at."""
    engine = create_engine("sqlite://")
    for table in (JournalEvent.__table__, Incident.__table__, CalendarYear.__table__):
        table.create(engine)
    return engine


def recording_loader(all_ids: list[int]):
    """A facts loader over the cases `all_ids` that records which cases each call asked for (None: all)."""
    loads: list = []

    def load(ids):
        loads.append(None if ids is None else sorted(ids))
        return [Facts(i) for i in (all_ids if ids is None else ids)]
    return load, loads


def test_facts_are_rebuilt_for_the_cases_named_since_the_last_look():
    engine = journal_db()
    store, (load, loads) = FactsStore(), recording_loader([1, 2, 3, 4, 5])

    with Session(engine) as s:
        event(s, 1, 1)
        event(s, 2, 2)
        facts, first = store.facts(s, "k", "chart", load)
        assert loads == [None] and [f.id for f in facts] == [1, 2, 3, 4, 5]
        assert store.facts(s, "k", "chart", load)[1] == first and loads == [None]  # nothing new: nothing read
        event(s, 5, 4)  # ids 3 and 4 taken by transactions not yet committed
        store.facts(s, "k", "chart", load)
        assert loads[-1] == [4]
        event(s, 3, 3)  # ... one of them commits later, below the highest id already read
        store.facts(s, "k", "chart", load)
        assert loads[-1] == [3]
        s.execute(Incident.__table__.insert(), [dict(case_id=5, kind="timer", message="m", at=T)])
        facts, later = store.facts(s, "k", "chart", load)
        assert loads[-1] == [5] and later != first and sorted(f.id for f in facts) == [1, 2, 3, 4, 5]
        store.facts(s, "k", "another chart", load)  # another organisation chart: everything again
        assert loads[-1] is None


def test_the_related_cases_are_rebuilt_with_the_cases_that_changed():
    """A case's facts also read the rows of related cases (a repeat recognised of it, the linked case that writes
    its register rows): `related` names them and they are rebuilt together."""
    engine = journal_db()
    store, (load, loads) = FactsStore(), recording_loader([1, 2, 3])

    with Session(engine) as s:
        store.facts(s, "k", "chart", load, related=lambda _s, ids: {1} if 3 in ids else set())
        event(s, 1, 3)  # case 3 (say, a repeat of case 1, or its linked report case) changed
        store.facts(s, "k", "chart", load, related=lambda _s, ids: {1} if 3 in ids else set())
        assert loads[-1] == [1, 3]


def test_a_kept_report_holds_until_the_next_due_instant():
    due = T + timedelta(days=2)
    f = CaseFacts(id=1, case_no="1", title="t", received_at=T,
                  acceptance=Deadline("accept", "u", T, due, None, "open"))
    until = horizon([f], T, (T - timedelta(days=30), T + timedelta(days=30)))
    assert until == due
    cache = ReportCache()
    cache.put("q", T, until, {"kpis": [{"case_ids": [1]}]})
    assert cache.get("q", T + timedelta(days=1)) is not None
    assert cache.get("q", due) is not None  # "past due" is strictly after the due instant
    assert cache.get("q", due + timedelta(seconds=1)) is None
    assert cache.get("q", T - timedelta(seconds=1)) is None  # a clock set back: computed again
    kept = cache.get("q", T)
    copy = fresh_copy(kept)
    copy["kpis"][0]["case_ids"].remove(1)
    assert kept["kpis"][0]["case_ids"] == [1]
