"""The working-day calendar: seeding, provisional years, yearly import, WD/CAL rules with their explanations.

The worked examples are those of domain brief §5 and §11, computed there with chinesecalendar 1.11.0.
"""
from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import chinese_calendar
import pytest
from sqlalchemy import event, func, select

from engine.calendar import (
    CalendarDay,
    CalendarImportError,
    CalendarService,
    CalendarYear,
    CalendarYearMissing,
    DayKind,
    WorkingCalendar,
    YearCalendar,
    check_arrangement,
    chinesecalendar_days,
    import_year,
    qingming,
    record_provisional_year,
    seed_from_chinesecalendar,
    statutory_holidays,
)
from engine.calendar.repository import year_days
from engine.db import Base
from infra.db import make_engine, make_session_factory

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "calendar"
AT = datetime(2026, 11, 6, 1, 30, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))
D = date.fromisoformat


def _factory(path: Path):
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine, tables=[CalendarYear.__table__, CalendarDay.__table__])
    return engine, make_session_factory(engine)


@pytest.fixture
def session_factory(tmp_path):
    engine, factory = _factory(tmp_path / "calendar.db")
    yield factory
    engine.dispose()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """2004–2026 from chinesecalendar; read-only for the tests that use it."""
    engine, factory = _factory(tmp_path_factory.mktemp("cal") / "seeded.db")
    with factory() as session:
        seed_from_chinesecalendar(session)
        session.commit()
    yield factory
    engine.dispose()


@pytest.fixture(scope="module")
def service(seeded):
    return CalendarService(seeded)


@pytest.fixture(scope="module")
def cal(service) -> WorkingCalendar:
    return service.calendar()


def _seed(factory, years) -> None:
    with factory() as session:
        seed_from_chinesecalendar(session, years)
        session.commit()


def _import(factory, source, actor="admin", **kw):
    with factory() as session:
        result = import_year(session, source, actor, AT, **kw)
        session.commit()
        return result


def _counts(factory) -> tuple[int, int]:
    with factory() as session:
        return (session.scalar(select(func.count(CalendarYear.id))),
                session.scalar(select(func.count(CalendarDay.id))))


# -- seeding -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_seeded_year_agrees_with_chinesecalendar_day_by_day(cal, year):
    d = date(year, 1, 1)
    while d.year == year:
        on_holiday, name = chinese_calendar.get_holiday_detail(d)
        kind, our_name = cal.kind_of(d)
        assert cal.is_workday(d) == chinese_calendar.is_workday(d), d
        if on_holiday and name:
            assert kind is DayKind.HOLIDAY, d
            assert our_name.startswith(chinese_calendar.Holiday(name).chinese), (d, our_name)
        elif not on_holiday and d.weekday() >= 5:
            assert kind is DayKind.ADJUSTED_WORKDAY, d
        else:
            assert kind in (DayKind.WORKDAY, DayKind.REST), d
        d += timedelta(days=1)


def test_seed_is_idempotent(session_factory):
    with session_factory() as session:
        first = seed_from_chinesecalendar(session, range(2025, 2027))
        session.commit()
    rows = _counts(session_factory)
    with session_factory() as session:
        again = seed_from_chinesecalendar(session, range(2025, 2027))
        session.commit()
        versions = session.scalars(select(CalendarYear.version)).all()
    assert first == {2025: "created", 2026: "created"}
    assert again == {2025: "unchanged", 2026: "unchanged"}
    in_package = sum(1 for table in (chinese_calendar.holidays, chinese_calendar.workdays)
                     for d in table if d.year in (2025, 2026))
    assert _counts(session_factory) == rows == (2, in_package)
    assert versions == [1, 1]


def test_seed_never_overwrites_an_imported_year(session_factory):
    _import(session_factory, FIXTURES / "2026.yaml")
    with session_factory() as session:
        outcome = seed_from_chinesecalendar(session, [2026])
        session.commit()
        row = session.scalar(select(CalendarYear))
    assert outcome == {2026: "kept-import"}
    assert (row.source, row.version) == ("import", 1)


def test_seed_refuses_a_year_chinesecalendar_does_not_cover(session_factory):
    with session_factory() as session, pytest.raises(CalendarYearMissing, match="没有2027年的数据"):
        seed_from_chinesecalendar(session, [2027])


# -- statutory holidays --------------------------------------------------------------------------------------


@pytest.mark.parametrize("year", [2025, 2026])
def test_official_years_since_2025_contain_the_13_statutory_days(cal, year):
    days = statutory_holidays(year)
    assert len({s.date for s in days}) == 13
    assert [s.name for s in days].count("春节") == 4 and [s.name for s in days].count("劳动节") == 2
    for s in days:
        assert cal.kind_of(s.date)[0] is DayKind.HOLIDAY, s


def test_statutory_rules_of_each_era_match_chinesecalendar_2004_to_2026():
    expected_count = {2004: 10, 2007: 10, 2008: 11, 2013: 11, 2014: 11, 2024: 11, 2025: 13, 2026: 13}
    for year in range(2004, 2027):
        days = statutory_holidays(year)
        if year in expected_count:
            assert len(days) == expected_count[year], year
        for s in days:
            assert not chinese_calendar.is_workday(s.date), (year, s)
    # the eras differ where chinesecalendar says they do: Eve off in 2013, a working day in 2024
    assert D("2013-02-09") in {s.date for s in statutory_holidays(2013)}
    assert D("2024-02-09") not in {s.date for s in statutory_holidays(2024)}
    assert chinese_calendar.is_workday(D("2024-02-09")) is True


def test_qingming_formula_matches_chinesecalendar():
    for year in range(2004, 2100):
        terms = chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 10))
        assert (qingming(year), "清明") in terms, year
    for year in range(2008, 2027):
        assert chinese_calendar.get_holiday_detail(qingming(year)) == (True, "Tomb-sweeping Day"), year


def test_provisional_2027_holds_the_statutory_days_and_nothing_else(cal):
    year = cal.year(2027)
    assert (year.provisional, year.version) == (True, 0)
    assert sorted(year.days) == [D(x) for x in (
        "2027-01-01", "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08", "2027-04-05", "2027-05-01",
        "2027-05-02", "2027-06-09", "2027-09-15", "2027-10-01", "2027-10-02", "2027-10-03")]
    assert {k for k, _n in year.days.values()} == {DayKind.HOLIDAY}
    assert year.kind(D("2027-06-09")) == (DayKind.HOLIDAY, "端午节")
    assert cal.is_workday(D("2027-02-09")) is True  # no bridging days without the notice


def test_provisional_year_names_two_festivals_on_one_day(cal):
    kind, name = cal.kind_of(D("2028-10-03"))  # Mid-Autumn falls on National Day in 2028
    assert kind is DayKind.HOLIDAY and "中秋节" in name and "国庆节" in name
    assert len({s.date for s in statutory_holidays(2028)}) == 12


# -- WD and CAL rules ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "n", "due"), [
    ("2026-02-13", 1, "2026-02-14"),  # Saturday, a make-up working day
    ("2026-02-13", 3, "2026-02-25"),
    ("2026-02-13", 7, "2026-03-02"),
    ("2026-02-13", 10, "2026-03-05"),
    ("2026-09-30", 1, "2026-10-08"),
    ("2026-09-30", 3, "2026-10-10"),  # Saturday, a make-up working day
    ("2026-09-30", 7, "2026-10-15"),
    ("2026-09-30", 10, "2026-10-20"),
    ("2026-04-30", 5, "2026-05-11"),
])
def test_workdays_examples_of_the_brief(service, start, n, due):
    deadline = service.due(D(start), workdays=n)
    assert deadline.due_date == D(due)
    assert (deadline.rule, deadline.n, deadline.provisional) == ("WD", n, False)


@pytest.mark.parametrize(("start", "n", "nominal", "due"), [
    ("2026-09-22", 15, "2026-10-07", "2026-10-08"),
    ("2026-08-03", 60, "2026-10-02", "2026-10-08"),
    ("2026-08-03", 90, "2026-11-01", "2026-11-02"),
])
def test_calendar_days_examples_of_the_brief(service, start, n, nominal, due):
    deadline = service.due(D(start), days=n)
    assert (deadline.nominal_due, deadline.due_date, deadline.rule) == (D(nominal), D(due), "CAL")


def test_calendar_days_without_roll_forward_may_end_on_a_holiday(cal):
    deadline = cal.add_days(D("2026-09-22"), 15, roll_forward=False)
    assert deadline.due_date == D("2026-10-07")
    assert deadline.days_skipped == []
    assert "不顺延" in deadline.explain()


def test_workdays_record_skipped_days_and_counted_makeup_days(cal):
    deadline = cal.add_workdays(D("2026-02-13"), 3)
    assert deadline.makeup_days_counted == [(D("2026-02-14"), "春节")]
    assert deadline.days_skipped == [(D("2026-02-15") + timedelta(days=i), "春节") for i in range(9)]
    text = deadline.explain()
    assert "2026-02-14（星期六），春节调休" in text
    assert "2026-02-15 至 2026-02-23，春节，共9天" in text
    assert "到期日：2026-02-25（星期三），截止于当日24:00（北京时间）" in text


def test_rolled_forward_calendar_deadline_explains_why(cal):
    deadline = cal.add_days(D("2026-09-22"), 15)
    assert deadline.days_skipped == [(D("2026-10-07"), "国庆节")]
    assert "名义到期日：2026-10-07（星期三），当日不是工作日" in deadline.explain()
    weekend = cal.add_days(D("2026-08-03"), 90)
    assert weekend.days_skipped == [(D("2026-11-01"), "周末")]


def test_due_at_is_midnight_after_the_due_date_in_beijing(cal):
    deadline = cal.add_workdays(D("2026-02-13"), 1)
    assert deadline.due_at == datetime(2026, 2, 14, 16, 0, tzinfo=UTC)
    assert deadline.due_at.utcoffset() == timedelta(0)


def test_deadline_to_dict_is_json(cal):
    data = json.loads(json.dumps(cal.add_workdays(D("2026-04-30"), 5).to_dict(), ensure_ascii=False))
    assert data["due_date"] == "2026-05-11"
    assert data["due_at"] == "2026-05-11T16:00:00+00:00"
    assert data["calendar_versions"] == {"2026": 1}
    assert data["makeup_days_counted"] == [{"date": "2026-05-09", "for": "劳动节"}]
    assert {"date": "2026-05-01", "reason": "劳动节"} in data["days_skipped"]
    assert data["provisional"] is False and "劳动节" in data["explanation"]


def test_counting_into_an_unpublished_year_is_provisional_and_says_so(cal):
    deadline = cal.add_workdays(D("2026-12-28"), 5)
    assert deadline.due_date == D("2027-01-05")  # 2027-01-01 statutory, then a weekend
    assert (deadline.provisional, deadline.provisional_years) == (True, [2027])
    assert deadline.calendar_versions == {2026: 1, 2027: 0}
    assert "2027年的节假日安排尚未正式录入" in deadline.explain()
    assert "临时期限" in deadline.explain()
    assert deadline.to_dict()["provisional"] is True


def test_counting_inside_an_official_year_is_not_provisional(cal):
    deadline = cal.add_workdays(D("2026-12-01"), 5)
    assert deadline.due_date == D("2026-12-08")
    assert (deadline.provisional, deadline.provisional_years) == (False, [])
    assert "临时" not in deadline.explain()


def test_years_before_2004_are_refused(cal):
    with pytest.raises(CalendarYearMissing, match="早于日历的起始年份2004年") as caught:
        cal.add_workdays(D("2003-12-29"), 3)
    assert caught.value.year == 2003


def test_a_gap_in_the_loaded_years_is_refused(session_factory):
    _seed(session_factory, range(2024, 2027))
    service = CalendarService(session_factory)
    assert service.due(D("2024-01-02"), workdays=1).due_date == D("2024-01-03")
    with pytest.raises(CalendarYearMissing, match="缺少2010年的数据"):
        service.due(D("2010-03-01"), workdays=1)


def test_an_empty_calendar_is_refused(session_factory):
    with pytest.raises(CalendarYearMissing, match="没有任何正式年份"):
        CalendarService(session_factory).due(D("2026-03-02"), days=15)


def test_years_past_the_lunar_tables_are_refused(cal):
    with pytest.raises(CalendarYearMissing, match="超出可推算范围"):
        cal.add_workdays(D("2099-12-30"), 5)


def test_zero_means_the_receipt_day_or_the_next_working_day(cal):
    assert cal.add_workdays(D("2026-03-02"), 0).due_date == D("2026-03-02")
    on_holiday = cal.add_workdays(D("2026-02-15"), 0)
    assert (on_holiday.due_date, on_holiday.n) == (D("2026-02-24"), 0)
    assert "收件当日到期" in on_holiday.explain()
    assert cal.add_days(D("2026-02-15"), 0).due_date == D("2026-02-24")
    assert cal.add_days(D("2026-02-15"), 0, roll_forward=False).due_date == D("2026-02-15")


def test_counts_must_be_whole_and_rules_exclusive(cal, service):
    with pytest.raises(ValueError, match="非负整数"):
        cal.add_workdays(D("2026-03-02"), -1)
    with pytest.raises(ValueError, match="非负整数"):
        cal.add_days(D("2026-03-02"), True)
    with pytest.raises(ValueError, match="只能给出一个"):
        service.due(D("2026-03-02"), workdays=1, days=1)


def test_the_rules_need_no_database():
    calendar = WorkingCalendar([YearCalendar(2026, 3, False, chinesecalendar_days(2026))])
    deadline = calendar.add_workdays(D("2026-09-30"), 3)
    assert (deadline.due_date, deadline.calendar_versions) == (D("2026-10-10"), {2026: 3})


def test_the_version_key_is_read_once_per_transaction_and_forgotten_by_a_write(session_factory):
    """A completion asks for the calendar for every deadline it computes; one version read per transaction
    serves them all, and an import inside that transaction is seen at once."""
    from engine.calendar.repository import version_key

    _seed(session_factory, [2026])
    service = CalendarService(session_factory)
    statements: list[str] = []
    engine = session_factory.kw["bind"]
    listen = lambda *args, **kw: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        with session_factory() as session, session.begin():
            first = service.calendar(session=session)
            for _ in range(3):
                assert service.calendar(session=session) is first
            reads = [q for q in statements if "sum(calendar_year.version)" in q]
            assert len(reads) == 1, statements
            before = version_key(session)
            import_year(session, FIXTURES / "2027.yaml", "admin", AT)
            assert version_key(session) == (before[0] + 1, before[1] + 1)
            assert service.calendar(session=session) is not first
        with session_factory() as session, session.begin():  # a new transaction reads again
            version_key(session)
        assert len([q for q in statements if "sum(calendar_year.version)" in q]) == 3
    finally:
        event.remove(engine, "before_cursor_execute", listen)


# -- office-hours cut-off ------------------------------------------------------------------------------------


def test_received_before_the_cutoff_counts_that_day(cal):
    for when in (datetime(2026, 2, 13, 17, 0, tzinfo=BEIJING), datetime(2026, 2, 13, 17, 30, tzinfo=BEIJING)):
        deadline = cal.add_workdays(when, 1)
        assert (deadline.counted_from, deadline.due_date, deadline.receipt_note) == \
            (D("2026-02-13"), D("2026-02-14"), None)


@pytest.mark.parametrize("when", [
    datetime(2026, 2, 13, 17, 31, tzinfo=BEIJING),
    datetime(2026, 2, 13, 10, 0, tzinfo=UTC),  # 18:00 in Beijing
    datetime(2026, 2, 13, 18, 0),  # naive: Beijing wall time
])
def test_received_after_the_cutoff_counts_from_the_next_working_day(cal, when):
    deadline = cal.add_workdays(when, 1)
    assert deadline.received_on == D("2026-02-13")
    assert deadline.counted_from == D("2026-02-14")  # the make-up Saturday is the next working day
    assert deadline.due_date == D("2026-02-24")
    assert "晚于办公截止时间 17:30" in deadline.explain()
    assert "2026-02-14（星期六，春节调休上班日）" in deadline.explain()


def test_received_on_a_rest_day_counts_from_the_next_working_day(cal):
    on_sunday = cal.add_workdays(datetime(2026, 3, 1, 10, 0, tzinfo=BEIJING), 1)
    assert (on_sunday.counted_from, on_sunday.due_date) == (D("2026-03-02"), D("2026-03-03"))
    assert "不是工作日（周末）" in on_sunday.explain()
    # a bare date is the receipt date itself, without office hours
    assert cal.add_workdays(D("2026-03-01"), 1).due_date == D("2026-03-02")


def test_cutoff_applies_to_calendar_days_too(cal):
    late = cal.add_days(datetime(2026, 6, 1, 18, 0, tzinfo=BEIJING), 15)
    assert (late.counted_from, late.due_date) == (D("2026-06-02"), D("2026-06-17"))
    assert cal.add_days(datetime(2026, 6, 1, 9, 0, tzinfo=BEIJING), 15).due_date == D("2026-06-16")


def test_cutoff_is_configurable_per_call_and_per_service(cal, seeded):
    late_afternoon = datetime(2026, 6, 1, 16, 30, tzinfo=BEIJING)
    assert cal.add_workdays(late_afternoon, 1).due_date == D("2026-06-02")
    assert cal.add_workdays(late_afternoon, 1, cutoff=time(16, 0)).due_date == D("2026-06-03")
    evening = datetime(2026, 6, 1, 20, 0, tzinfo=BEIJING)
    assert cal.add_workdays(evening, 1, cutoff=None).due_date == D("2026-06-02")
    noon_office = CalendarService(seeded, office_cutoff=time(12, 0))
    after_noon = datetime(2026, 6, 1, 13, 0, tzinfo=BEIJING)
    assert noon_office.due(after_noon, workdays=1).due_date == D("2026-06-03")


# -- import --------------------------------------------------------------------------------------------------


def test_importing_the_2026_notice_gives_the_days_of_chinesecalendar(session_factory):
    result = _import(session_factory, FIXTURES / "2026.yaml")
    assert (result.year, result.version, result.created, result.warnings) == (2026, 1, True, [])
    assert (result.holiday_days, result.makeup_days) == (33, 6)
    calendar = CalendarService(session_factory).calendar()
    d = date(2026, 1, 1)
    while d.year == 2026:
        assert calendar.is_workday(d) == chinese_calendar.is_workday(d), d
        d += timedelta(days=1)
    with session_factory() as session:
        assert year_days(session, 2026) == chinesecalendar_days(2026)
        row = session.scalar(select(CalendarYear))
    assert (row.source, row.status, row.notice_date) == ("import", "official", D("2025-11-04"))
    assert row.imported_by == "admin"
    assert row.imported_at == AT


def test_importing_the_notice_over_the_seed_changes_no_day(session_factory):
    _seed(session_factory, [2026])
    result = _import(session_factory, FIXTURES / "2026.yaml")
    assert (result.previous_version, result.version, result.changed_dates) == (1, 2, [])


def test_yaml_and_csv_imports_agree(tmp_path):
    engine_a, yaml_db = _factory(tmp_path / "a.db")
    engine_b, csv_db = _factory(tmp_path / "b.db")
    try:
        _import(yaml_db, FIXTURES / "2027.yaml")
        _import(csv_db, (FIXTURES / "2027.csv").read_text(encoding="utf-8"))  # as text, format sniffed
        with yaml_db() as a, csv_db() as b:
            assert year_days(a, 2027) == year_days(b, 2027)
            assert len(year_days(a, 2027)) == 29 + 5
    finally:
        engine_a.dispose()
        engine_b.dispose()


def test_a_real_pre_2025_year_is_checked_under_its_own_rules(session_factory):
    text = """
year: 2024
notice: {title: 国务院办公厅关于2024年部分节假日安排的通知, date: 2023-10-25}
holidays:
  - {name: 元旦, from: 2024-01-01}
  - {name: 春节, from: 2024-02-10, to: 2024-02-17}
  - {name: 清明节, from: 2024-04-04, to: 2024-04-06}
  - {name: 劳动节, from: 2024-05-01, to: 2024-05-05}
  - {name: 端午节, from: 2024-06-10}
  - {name: 中秋节, from: 2024-09-15, to: 2024-09-17}
  - {name: 国庆节, from: 2024-10-01, to: 2024-10-07}
workdays:
  - {date: 2024-02-04, for: 春节}
  - {date: 2024-02-18, for: 春节}
  - {date: 2024-04-07, for: 清明节}
  - {date: 2024-04-28, for: 劳动节}
  - {date: 2024-05-11, for: 劳动节}
  - {date: 2024-09-14, for: 中秋节}
  - {date: 2024-09-29, for: 国庆节}
  - {date: 2024-10-12, for: 国庆节}
"""
    result = _import(session_factory, text)  # Eve (02-09) was not yet statutory in 2024
    assert result.warnings == []
    calendar = CalendarService(session_factory).calendar()
    for d in (date(2024, 1, 1) + timedelta(days=i) for i in range(366)):
        assert calendar.is_workday(d) == chinese_calendar.is_workday(d), d


@pytest.mark.parametrize(("name", "message"), [
    ("bad_2027_labour_day_missing.yaml",
     ("2027-05-02 是法定节假日（劳动节），但不在放假日期内；请把它加入劳动节的放假时段 "
     "(2027-05-02 is a statutory holiday but not in the days off")),
    ("bad_2027_makeup_on_weekday.yaml", "2027-02-22 是星期一，调休上班日应为周六或周日"),
    ("bad_2027_date_twice.yaml", "2027-06-09 出现了两次（holidays 第5项、holidays 第6项）"),
    ("bad_2027_other_year.yaml", "2026-12-31 不属于 2027 年；跨年的日期请登记在 2026 年的文件中"),
    ("bad_2027_unknown_region.yaml", "未知地区代码 'CN-XX'"),
    ("bad_2027_invalid_date.csv", "第14行：日期 '2027-02-30' 无效，请写成 YYYY-MM-DD"),
])
def test_bad_files_are_rejected_with_the_fix_and_nothing_is_written(session_factory, name, message):
    with pytest.raises(CalendarImportError) as caught:
        _import(session_factory, FIXTURES / name)
    assert len(caught.value.problems) == 1, caught.value.problems
    assert message in caught.value.problems[0]
    assert "未写入任何数据" in str(caught.value)
    assert _counts(session_factory) == (0, 0)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("{name: 春节, from: 2027-02-05,", "{name: 春节, from: 2027-02-06,"),
     "2027-02-05 是法定节假日（春节），但不在放假日期内"),
    (lambda t: t.replace("year: 2027\n", ""), "缺少 year（年份）"),
    (lambda t: t.replace("holidays:", "holiday:"), "未知字段 'holiday'"),
    (lambda t: t.replace("  - {name: 元旦", "- {name: 元旦"), "YAML 格式错误"),
    (lambda t: t.replace("  title: 国务院办公厅关于2027年部分节假日安排的通知（示例）\n", ""), "缺少通知标题"),
])
def test_other_mistakes_are_named(edit, message):
    text = edit((FIXTURES / "2027.yaml").read_text(encoding="utf-8"))
    with pytest.raises(CalendarImportError) as caught:
        check_arrangement(text)
    assert any(message in p for p in caught.value.problems), caught.value.problems
    for problem in caught.value.problems:  # Chinese first, English in brackets after
        assert re.match(r"^[^()]*[\u4e00-\u9fff][^()]*\(.*[A-Za-z].*\)$", problem), problem


def test_a_long_stretch_of_work_is_a_warning_not_an_error():
    text = (FIXTURES / "2027.yaml").read_text(encoding="utf-8").replace(
        "workdays:\n", "workdays:\n  - {date: 2027-02-14, for: 春节}\n")
    checked = check_arrangement(text)
    assert len(checked.warnings) == 1
    assert "2027-02-14 至 2027-02-20 连续上班7天，超过6天" in checked.warnings[0]
    assert checked.days[D("2027-02-14")] == (DayKind.ADJUSTED_WORKDAY, "春节")


def test_reimport_bumps_the_version_only_when_something_changed(session_factory):
    first = _import(session_factory, FIXTURES / "2027.yaml")
    same = _import(session_factory, FIXTURES / "2027.yaml")
    corrected = (FIXTURES / "2027.yaml").read_text(encoding="utf-8").replace(
        "{name: 中秋节, from: 2027-09-15}", "{name: 中秋节, from: 2027-09-15, to: 2027-09-17}")
    fixed = _import(session_factory, corrected, actor="admin2")
    assert (first.version, same.version, same.changed) == (1, 1, False)
    assert (fixed.version, fixed.previous_version, fixed.changed) == (2, 1, True)
    assert fixed.changed_dates == [D("2027-09-16"), D("2027-09-17")]
    info = CalendarService(session_factory).show_year(2027)
    assert (info["version"], info["imported_by"]) == (2, "admin2")


def test_an_import_reaches_a_running_service(session_factory):
    _seed(session_factory, [2026])
    service = CalendarService(session_factory)
    start = D("2027-01-25")
    before = service.due(start, workdays=10)
    assert (before.due_date, before.provisional) == (D("2027-02-10"), True)
    _import(session_factory, FIXTURES / "2027.yaml")
    after = service.due(start, workdays=10)
    assert (after.due_date, after.provisional) == (D("2027-02-15"), False)  # make-up Sunday 01-31 counts
    assert after.calendar_versions == {2027: 1}
    assert "（示例）" in after.explain()


def test_a_regional_overlay_adds_local_holidays(session_factory):
    _seed(session_factory, [2026])
    overlay = """
year: 2026
region: CN-XZ
notice: {title: 西藏自治区2026年雪顿节放假安排（示例）, date: 2026-07-01}
holidays:
  - {name: 雪顿节, from: 2026-08-12}
"""
    result = _import(session_factory, overlay)
    assert (result.region, result.warnings) == ("CN-XZ", [])
    service = CalendarService(session_factory)
    tibet = service.due(D("2026-08-11"), workdays=1, region="CN-XZ")
    assert tibet.due_date == D("2026-08-13")
    assert tibet.overlay_versions == {2026: 1}
    assert "雪顿节" in tibet.explain()
    assert service.due(D("2026-08-11"), workdays=1).due_date == D("2026-08-12")


# -- admin views ---------------------------------------------------------------------------------------------


def test_show_year_summarises_an_official_year(service):
    info = service.show_year(2026)
    assert (info["source"], info["status"], info["version"]) == ("chinesecalendar", "official", 1)
    assert (info["holiday_days"], info["makeup_days"]) == (33, 6)
    assert info["holidays"][1] == {"name": "春节", "start": "2026-02-15", "end": "2026-02-23", "days": 9}
    assert [p["name"] for p in info["holidays"]] == ["元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"]
    assert all(s["day_off"] for s in info["statutory"]) and len(info["statutory"]) == 13


def test_show_year_of_an_imported_and_of_a_provisional_year(session_factory):
    _seed(session_factory, [2026])
    service = CalendarService(session_factory)
    provisional = service.show_year(2027)
    assert (provisional["status"], provisional["version"], provisional["notice"]) == ("provisional", 0, None)
    assert (provisional["holiday_days"], provisional["makeup_days"]) == (13, 0)
    _import(session_factory, FIXTURES / "2027.yaml")
    official = service.show_year(2027)
    assert official["notice"] == {"title": "国务院办公厅关于2027年部分节假日安排的通知（示例）", "date": "2026-11-05",
                                  "url": None}
    assert (official["status"], official["source"]) == ("official", "import")
    assert official["imported_by"] == "admin"


def test_provisional_years_warn_the_administrator(session_factory):
    _seed(session_factory, [2026])
    service = CalendarService(session_factory)
    assert service.provisional_years() == [2027]
    _import(session_factory, FIXTURES / "2027.yaml")
    assert service.provisional_years() == [2028]
    with session_factory() as session:
        assert record_provisional_year(session, 2029, actor="admin", at=AT) == "created"
        with pytest.raises(ValueError, match="已有正式数据"):
            record_provisional_year(session, 2027, actor="admin", at=AT)
        session.commit()
    assert service.provisional_years() == [2028, 2029]
    stored = service.due(D("2029-12-27"), workdays=3)
    assert (stored.calendar_versions, stored.provisional_years) == ({2029: 1, 2030: 0}, [2029, 2030])
