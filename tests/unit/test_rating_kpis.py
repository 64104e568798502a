"""参评率 and 满意率 on a small fixed set of cases, without a database: the rating window's 未评价 (written by the
script that ends an expired window, or recorded by staff) is no rating; the first rating is the one counted, also
when a 不满意 was followed by a redo and a second rating; a rating counts in the period it was given, a case's
eligibility in the period it was first signed off."""
from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace

from engine.clock import SHANGHAI
from services.stats import compute
from services.stats_facts import build_facts
from services.stats_settings import KpiSettings, parse_period

SETTINGS = KpiSettings.load()
NOW = datetime(2026, 5, 1, 9, tzinfo=SHANGHAI)


def bj(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def _case(case_id: int, signed_off: str, *after: tuple[str, str, dict]):
    """A case registered 02-01 and first signed off at `signed_off`; `after` are (at, element, changes) events."""
    def ev(seq, at, type_, element_id=None, **data):
        return SimpleNamespace(case_id=case_id, seq=seq, at=bj(at), type=type_, element_id=element_id,
                               data=json.dumps(data))
    case = SimpleNamespace(id=case_id, case_no=None, created_at=bj("2026-02-01T09:00:00"), status="waiting",
                           summary_json=json.dumps({"title": f"事项{case_id}", "channel": "来信", "category": "劳动社保"}))
    events = [
        ev(1, "2026-02-01T09:00:00", "case.started", data={"channel": "来信", "location": "county_a"}),
        ev(2, "2026-02-01T09:00:00", "service.called", "Task_issue_number", handler="issue_case_number",
           result={"case_no": f"XF{case_id}"}),
        ev(3, "2026-02-01T09:00:00", "task.completed", "Task_triage", changes={"route": [None, "交办转送"]}),
        ev(4, signed_off, "task.completed", "Task_serve_reply"),
        ev(5, signed_off, "task.completed", "Task_signoff"),
        ev(6, signed_off, "task.completed", "Task_list_closed"),
    ]
    rating = None
    for i, (at, element, changes) in enumerate(after, start=7):
        data = {k: [rating if k == "rating" else None, v] for k, v in changes.items()}
        rating = changes.get("rating", rating)
        events.append(ev(i, at, "task.completed", element, changes=data))
    return case, events


CASES = [
    _case(1, "2026-03-02T10:00:00", ("2026-03-03T09:00:00", "Task_rating", {"rating": "满意"})),
    _case(2, "2026-03-03T10:00:00", ("2026-03-04T09:00:00", "Task_rating", {"rating": "基本满意"})),
    # 不满意, then the assigning office explained (Task_revisit): still one rating, 不满意
    _case(3, "2026-03-04T10:00:00", ("2026-03-05T09:00:00", "Task_rating", {"rating": "不满意"}),
          ("2026-03-06T09:00:00", "Task_revisit", {"revisit_decision": "解释说明"})),
    # the rating window ran out: the script writes 未评价, no rating task was done
    _case(4, "2026-03-05T10:00:00", ("2026-03-16T00:00:00", "Script_not_rated", {"rating": "未评价"})),
    # 不满意, sent back for redo, rated 满意 in April: the first rating (不满意, March) counts
    _case(5, "2026-03-06T10:00:00", ("2026-03-07T09:00:00", "Task_rating", {"rating": "不满意"}),
          ("2026-03-09T09:00:00", "Task_revisit", {"revisit_decision": "重新办理"}),
          ("2026-04-02T09:00:00", "Task_redo_revisit", {"revisit_redo_result": "已补发"}),
          ("2026-04-03T09:00:00", "Task_rating", {"rating": "满意"})),
    # staff recorded 未评价 on the rating task (the petitioner could not be reached): no rating either
    _case(6, "2026-03-07T10:00:00", ("2026-03-08T09:00:00", "Task_rating", {"rating": "未评价"})),
    # signed off in February, rated in March: eligible in February, its rating counts in March
    _case(7, "2026-02-27T10:00:00", ("2026-03-02T09:00:00", "Task_rating", {"rating": "满意"})),
]


def _kpis(period: str, settings=SETTINGS) -> dict:
    facts = build_facts([c for c, _ in CASES], [], [e for _, evs in CASES for e in evs], settings)
    return {k.key: k for k in compute(facts, parse_period(period, settings), NOW, settings)}


def _ids(kpi, which="numerator"):
    return sorted(kpi.case_ids if which == "numerator" else kpi.denominator_case_ids)


def test_participation_rate_counts_first_ratings_of_cases_signed_off_in_the_period():
    march = _kpis("2026-03")["participation_rate"]
    # signed off in March: 1–6; rated (not 未评价, whether the window ran out or staff recorded it): 1, 2, 3, 5
    assert _ids(march, "denominator") == [1, 2, 3, 4, 5, 6]
    assert _ids(march) == [1, 2, 3, 5] and (march.numerator, march.denominator) == (4, 6)


def test_satisfaction_rate_is_satisfied_over_ratings_given_in_the_period():
    march = _kpis("2026-03")
    rate = march["satisfaction_rate"]
    # ratings given in March: 1 满意, 2 基本满意, 3 不满意, 5 不满意 (its April 满意 is not its first), 7 满意
    assert _ids(rate, "denominator") == [1, 2, 3, 5, 7]
    assert _ids(rate) == [1, 2, 7] and (rate.numerator, rate.denominator) == (3, 5)
    assert march["satisfied"].numerator == 3


def test_basically_satisfied_is_not_satisfied_when_the_setting_says_so():
    strict = SETTINGS.with_overrides(basically_satisfied_counts=False)
    rate = _kpis("2026-03", strict)["satisfaction_rate"]
    assert _ids(rate) == [1, 7] and rate.denominator == 5


def test_a_second_rating_after_redo_counts_nowhere():
    april = _kpis("2026-04")
    assert april["satisfaction_rate"].denominator == 0 and april["participation_rate"].denominator == 0


def test_february_sign_off_rated_in_march():
    february = _kpis("2026-02")["participation_rate"]
    assert _ids(february, "denominator") == [7] and _ids(february) == [7]
