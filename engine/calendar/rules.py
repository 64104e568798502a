"""Working-day rules: WD(n) and CAL(n) deadlines, each with the reasons behind it.

Deadlines are recomputed at every timer, so the rules run on an in-memory snapshot of the calendar
(`WorkingCalendar`) and never touch the database or the clock: the caller passes the instant the clock
started. A deadline is only as good as the year data behind it, so every `Deadline` names the calendar
versions it used and says whether any of them was provisional (a year whose official arrangement is not yet
loaded). A year the calendar cannot vouch for (before 2004, or a gap between loaded years) raises
`CalendarYearMissing`: a wrong due date that looks right is worse than none.

Counting conventions (domain brief §5, §11):
- WD(n): the first day counted is the next working day after receipt; make-up weekend working days (调休上班)
  count, holidays and ordinary weekends do not.
- CAL(n): receipt + n days, the receipt day not counted; a due date on a rest day rolls forward to the next
  working day unless the clock's rule says otherwise.
- A deadline ends at 24:00 Beijing time of its due date.
- Office-hours cut-off: something received after closing time, or on a rest day, counts as received on the
  next working day. It applies only when the start is a datetime; a bare date is the receipt date itself.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from engine.clock import SHANGHAI

from .errors import CalendarYearMissing
from .kinds import FIRST_YEAR, LAST_COMPUTABLE_YEAR, NATIONAL, REGIONS, WEEKDAY_NAMES, DayKind, YearSource
from .statutory import provisional_days

DEFAULT_CUTOFF = time(17, 30)
USE_CALENDAR_CUTOFF: Any = object()  # "use the calendar's own cut-off"; None means "no cut-off at all"
_ONE_DAY = timedelta(days=1)
_SOURCE_NAMES = {YearSource.CHINESECALENDAR: "chinesecalendar 数据包", YearSource.IMPORT: "管理员导入的通知"}


@dataclass(frozen=True, eq=False)
class YearCalendar:
    """One year of one region as loaded: the days that differ from the Monday–Friday rule, and where they came
    from. `version` 0 means computed in memory (a provisional year nobody stored)."""

    year: int
    version: int
    provisional: bool
    days: Mapping[date, tuple[DayKind, str | None]]
    source: str = YearSource.CHINESECALENDAR
    notice_title: str | None = None
    overlay_version: int | None = None

    def __post_init__(self) -> None:
        # One byte per day: counting then costs an index per day instead of a dict lookup and a weekday call.
        first = date(self.year, 1, 1).toordinal()
        last = date(self.year, 12, 31).toordinal()
        weekday0 = date(self.year, 1, 1).weekday()
        flags = bytearray(1 if (weekday0 + i) % 7 < 5 else 0 for i in range(last - first + 1))
        for d, (kind, _name) in self.days.items():
            flags[d.toordinal() - first] = 1 if DayKind(kind).is_working else 0
        object.__setattr__(self, "_first", first)
        object.__setattr__(self, "_last", last)
        object.__setattr__(self, "_flags", bytes(flags))

    def working(self, d: date) -> bool:
        return bool(self._flags[d.toordinal() - self._first])  # type: ignore[attr-defined]

    def kind(self, d: date) -> tuple[DayKind, str | None]:
        found = self.days.get(d)
        if found:
            return DayKind(found[0]), found[1]
        return (DayKind.WORKDAY if d.weekday() < 5 else DayKind.REST), None

    def label(self) -> str:
        if self.provisional:
            stored = f"第{self.version}版，" if self.version else ""
            return f"{self.year}年（{stored}临时推算：周末加法定节假日，未含调休）"
        where = f"《{self.notice_title}》" if self.notice_title else _SOURCE_NAMES.get(self.source, self.source)
        overlay = f"，地方日历第{self.overlay_version}版" if self.overlay_version else ""
        return f"{self.year}年 第{self.version}版（正式，来源：{where}{overlay}）"


@dataclass(frozen=True)
class YearOverlay:
    """A region's own days for one year (e.g. a local festival), laid over the national calendar."""

    version: int
    days: Mapping[date, tuple[DayKind, str | None]]


def _fmt(d: date) -> str:
    return f"{d.isoformat()}（{WEEKDAY_NAMES[d.weekday()]}）"


def _fmt_day(d: date, yc: YearCalendar) -> str:
    """Like _fmt, but says so when the day is a make-up working day, which surprises readers."""
    kind, name = yc.kind(d)
    if kind is DayKind.ADJUSTED_WORKDAY:
        return f"{d.isoformat()}（{WEEKDAY_NAMES[d.weekday()]}，{name or '节假日'}调休上班日）"
    return _fmt(d)


def _reason(kind: DayKind, name: str | None, d: date) -> str:
    if kind is DayKind.HOLIDAY:
        return name or "节假日"
    if kind is DayKind.REST:
        return name or ("周末" if d.weekday() >= 5 else "休息日")
    return name or "工作日"


def _group(days: list[tuple[date, str]]) -> list[str]:
    """Consecutive days with the same reason become one range, so that a 9-day Spring Festival is one line."""
    out: list[str] = []
    i = 0
    while i < len(days):
        j = i
        while j + 1 < len(days) and days[j + 1][1] == days[i][1] and days[j + 1][0] - days[j][0] == _ONE_DAY:
            j += 1
        first, reason = days[i]
        if j == i:
            out.append(f"{_fmt(first)}，{reason}")
        else:
            out.append(f"{first.isoformat()} 至 {days[j][0].isoformat()}，{reason}，共{j - i + 1}天")
        i = j + 1
    return out


@dataclass(frozen=True)
class Deadline:
    """A computed due date and everything needed to explain or re-check it."""

    start: date | datetime
    rule: str  # "WD" or "CAL"
    n: int
    due_date: date
    due_at: datetime  # 24:00 Beijing time of due_date, as an aware UTC datetime
    days_skipped: list[tuple[date, str]]
    calendar_versions: dict[int, int]
    provisional: bool
    provisional_years: list[int]
    region: str = NATIONAL
    received_on: date | None = None
    counted_from: date | None = None  # the receipt date after the office-hours rule
    receipt_note: str | None = None
    nominal_due: date | None = None  # CAL only: receipt + n before rolling forward
    roll_forward: bool = True
    makeup_days_counted: list[tuple[date, str]] = field(default_factory=list)
    calendar_labels: dict[int, str] = field(default_factory=dict)
    overlay_versions: dict[int, int] = field(default_factory=dict)

    def explain(self) -> str:
        lines: list[str] = []
        where = "" if self.region == NATIONAL else f"，地区：{REGIONS.get(self.region, self.region)}"
        if self.rule == "WD" and self.n == 0:
            lines.append(f"规则：当日办结（WD0）{where}。收件当日到期，收件日不是工作日的顺延至下一个工作日。")
        elif self.rule == "WD":
            lines.append(f"规则：{self.n}个工作日（WD{self.n}）{where}。自收件后的下一个工作日起算；"
                         "调休上班日计为工作日，节假日和周末不计。")
        else:
            roll = "到期日如逢休息日顺延至下一个工作日" if self.roll_forward else "到期日逢休息日不顺延"
            lines.append(f"规则：{self.n}日（CAL{self.n}，自然日）{where}。收件当日不计入；{roll}。")
        received = self.received_on or self.counted_from or self.due_date
        if isinstance(self.start, datetime):
            local = self.start.astimezone(SHANGHAI) if self.start.tzinfo else self.start
            lines.append(f"收件时间：{_fmt(received)} {local:%H:%M}（北京时间）")
        else:
            lines.append(f"收件日期：{_fmt(received)}")
        if self.receipt_note:
            lines.append(f"办公时间规则：{self.receipt_note}。")
        if self.rule == "WD":
            if self.makeup_days_counted:
                made = "；".join(f"{_fmt(d)}，{name}调休" for d, name in self.makeup_days_counted)
                lines.append(f"计入的调休上班日：{made}。")
            if self.days_skipped:
                lines.append(f"跳过的非工作日：{'；'.join(_group(self.days_skipped))}。")
        elif self.nominal_due is not None:
            if self.days_skipped:
                lines.append(f"名义到期日：{_fmt(self.nominal_due)}，当日不是工作日；"
                             f"顺延跳过：{'；'.join(_group(self.days_skipped))}。")
            elif not self.roll_forward:
                lines.append(f"名义到期日：{_fmt(self.nominal_due)}，本时限即使逢休息日也不顺延。")
            else:
                lines.append(f"名义到期日：{_fmt(self.nominal_due)}。")
        lines.append(f"到期日：{_fmt(self.due_date)}，截止于当日24:00（北京时间）。")
        if self.calendar_labels:
            labels = "；".join(self.calendar_labels[y] for y in sorted(self.calendar_labels))
            lines.append(f"所用日历：{labels}。")
        if self.provisional:
            years = "、".join(f"{y}年" for y in self.provisional_years)
            lines.append(f"注意：{years}的节假日安排尚未正式录入，本期限按周末和法定节假日临时推算（未含调休），"
                         "为临时期限；正式安排录入后须重新计算。")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "rule": self.rule,
            "n": self.n,
            "region": self.region,
            "received_on": self.received_on.isoformat() if self.received_on else None,
            "counted_from": self.counted_from.isoformat() if self.counted_from else None,
            "receipt_note": self.receipt_note,
            "nominal_due": self.nominal_due.isoformat() if self.nominal_due else None,
            "roll_forward": self.roll_forward,
            "due_date": self.due_date.isoformat(),
            "due_at": self.due_at.isoformat(),
            "days_skipped": [{"date": d.isoformat(), "reason": r} for d, r in self.days_skipped],
            "makeup_days_counted": [{"date": d.isoformat(), "for": r} for d, r in self.makeup_days_counted],
            "calendar_versions": {str(y): v for y, v in sorted(self.calendar_versions.items())},
            "overlay_versions": {str(y): v for y, v in sorted(self.overlay_versions.items())},
            "provisional": self.provisional,
            "provisional_years": list(self.provisional_years),
            "explanation": self.explain(),
        }


def end_of_day_utc(d: date) -> datetime:
    """24:00 Beijing time of `d`, i.e. 00:00 of the next day, as an aware UTC datetime."""
    return datetime.combine(d + _ONE_DAY, time(0), tzinfo=SHANGHAI).astimezone(UTC)


def _check_n(n: int) -> None:
    # 0 is allowed for "on the spot" limits: due on the receipt day, or the next working day after a rest day.
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"期限天数必须是非负整数，收到 {n!r} (the number of days must be a whole number ≥ 0)")


class WorkingCalendar:
    """An immutable snapshot of one region's calendar. Cheap to query; build a new one when data change."""

    def __init__(self, years: Iterable[YearCalendar], *, region: str = NATIONAL,
                 overlays: Mapping[int, YearOverlay] | None = None,
                 office_cutoff: time | None = DEFAULT_CUTOFF):
        self.region = region
        self.office_cutoff = office_cutoff
        self._overlays = dict(overlays or {})
        self._years: dict[int, YearCalendar] = {}
        for yc in years:
            self._years[yc.year] = self._overlaid(yc)
        official = [y for y, yc in self._years.items() if not yc.provisional]
        self.last_official_year: int | None = max(official) if official else None
        self._computed: dict[int, YearCalendar] = {}

    def _overlaid(self, yc: YearCalendar) -> YearCalendar:
        overlay = self._overlays.get(yc.year)
        if overlay is None:
            return yc
        return YearCalendar(yc.year, yc.version, yc.provisional, {**yc.days, **overlay.days}, yc.source,
                            yc.notice_title, overlay.version)

    # -- years -----------------------------------------------------------------------------------------------

    def year(self, y: int) -> YearCalendar:
        """The data for year `y`: loaded, or computed provisionally for years after the last official one."""
        found = self._years.get(y) or self._computed.get(y)
        if found is not None:
            return found
        problem = self._why_missing(y)
        if problem:
            raise CalendarYearMissing(y, problem)
        yc = self._overlaid(YearCalendar(y, 0, True, provisional_days(y), YearSource.PROVISIONAL))
        self._computed[y] = yc
        return yc

    def _why_missing(self, y: int) -> str | None:
        last = self.last_official_year
        if y < FIRST_YEAR:
            return (f"{y}年早于日历的起始年份{FIRST_YEAR}年，没有该年的节假日数据，无法计算期限 "
                    f"(year {y} is before {FIRST_YEAR}, the first year the calendar covers)")
        if last is None:
            return ("日历中还没有任何正式年份的数据，请先初始化日历（seed_from_chinesecalendar）或导入年度节假日安排 "
                    "(the calendar holds no official year; seed it from chinesecalendar or import a year)")
        if y < last:
            return (f"日历中缺少{y}年的数据（正式数据已到{last}年），请导入{y}年的节假日安排 "
                    f"(year {y} is missing although official data reach {last}; import its arrangement)")
        if y > LAST_COMPUTABLE_YEAR:
            return (f"{y}年超出可推算范围（农历数据只到{LAST_COMPUTABLE_YEAR}年） "
                    f"(year {y} is beyond {LAST_COMPUTABLE_YEAR}, the last year that can be computed)")
        return None

    def years(self) -> list[YearCalendar]:
        """The stored years, oldest first (computed provisional years are not included)."""
        return [self._years[y] for y in sorted(self._years)]

    def provisional_years(self) -> list[int]:
        """Stored provisional years, plus the first year after the last official one: the years whose
        deadlines are provisional today and need the administrator's attention."""
        years = {y for y, yc in self._years.items() if yc.provisional}
        if self.last_official_year is not None and self.last_official_year < LAST_COMPUTABLE_YEAR:
            nxt = self.last_official_year + 1
            if nxt not in self._years or self._years[nxt].provisional:
                years.add(nxt)
        return sorted(years)

    # -- days ------------------------------------------------------------------------------------------------

    def is_workday(self, d: date) -> bool:
        return self.year(d.year).working(d)

    def kind_of(self, d: date) -> tuple[DayKind, str | None]:
        return self.year(d.year).kind(d)

    def next_workday(self, d: date) -> date:
        """The first working day strictly after `d`."""
        return self._next_workday(d, {})

    def _touch(self, y: int, used: dict[int, YearCalendar]) -> YearCalendar:
        yc = used.get(y)
        if yc is None:
            yc = used[y] = self.year(y)
        return yc

    def _next_workday(self, d: date, used: dict[int, YearCalendar]) -> date:
        d += _ONE_DAY
        while not self._touch(d.year, used).working(d):
            d += _ONE_DAY
        return d

    def _receipt(self, start: date | datetime, cutoff: time | None,
                 used: dict[int, YearCalendar]) -> tuple[date, date, str | None]:
        """(received_on, counted_from, note) after the office-hours rule."""
        if isinstance(start, datetime):
            local = start.astimezone(SHANGHAI) if start.tzinfo else start  # naive = Beijing wall time
            day = local.date()
            if cutoff is None:
                return day, day, None
            yc = self._touch(day.year, used)
            if not yc.working(day):
                nxt = self._next_workday(day, used)
                kind, name = yc.kind(day)
                return day, nxt, (f"收件日 {_fmt(day)} 不是工作日（{_reason(kind, name, day)}），"
                                  f"按下一个工作日 {_fmt_day(nxt, self._touch(nxt.year, used))} 收件起算")
            if local.time() > cutoff:
                nxt = self._next_workday(day, used)
                return day, nxt, (f"收件时间 {day.isoformat()} {local:%H:%M}（北京时间）晚于办公截止时间 "
                                  f"{cutoff:%H:%M}，按下一个工作日 {_fmt_day(nxt, self._touch(nxt.year, used))} 收件起算")
            return day, day, None
        if isinstance(start, date):
            return start, start, None
        raise TypeError(f"起算时间必须是 date 或 datetime (start must be a date or datetime): {start!r}")

    def _cutoff(self, cutoff: time | None) -> time | None:
        return self.office_cutoff if cutoff is USE_CALENDAR_CUTOFF else cutoff

    # -- deadlines -------------------------------------------------------------------------------------------

    def add_workdays(self, start: date | datetime, n: int, *,
                     cutoff: time | None = USE_CALENDAR_CUTOFF) -> Deadline:
        """WD(n): the n-th working day after receipt."""
        _check_n(n)
        used: dict[int, YearCalendar] = {}
        received_on, counted_from, note = self._receipt(start, self._cutoff(cutoff), used)
        skipped: list[tuple[date, str]] = []
        makeup: list[tuple[date, str]] = []
        o = counted_from.toordinal()
        yc: YearCalendar | None = None
        first = last = 0
        flags = b""
        counted = 0
        target = n
        if n == 0:  # due on the receipt day itself, or the first working day after it
            o -= 1
            target = 1
        while counted < target:
            o += 1
            if yc is None or o > last:
                yc = self._touch(date.fromordinal(o).year, used)
                first, last, flags = yc._first, yc._last, yc._flags  # type: ignore[attr-defined]
            if flags[o - first]:
                counted += 1
                if yc.days:
                    d = date.fromordinal(o)
                    entry = yc.days.get(d)
                    if entry is not None and entry[0] == DayKind.ADJUSTED_WORKDAY:
                        makeup.append((d, entry[1] or "节假日"))
            else:
                d = date.fromordinal(o)
                kind, name = yc.kind(d)
                skipped.append((d, _reason(kind, name, d)))
        due = date.fromordinal(o)
        return self._deadline(start, "WD", n, due, skipped, used, received_on, counted_from, note,
                              makeup=makeup)

    def add_days(self, start: date | datetime, n: int, roll_forward: bool = True, *,
                 cutoff: time | None = USE_CALENDAR_CUTOFF) -> Deadline:
        """CAL(n): receipt + n calendar days, rolled forward to a working day unless `roll_forward` is off."""
        _check_n(n)
        used: dict[int, YearCalendar] = {}
        received_on, counted_from, note = self._receipt(start, self._cutoff(cutoff), used)
        nominal = counted_from + timedelta(days=n)
        due = nominal
        skipped: list[tuple[date, str]] = []
        if roll_forward:
            while True:
                yc = self._touch(due.year, used)
                if yc.working(due):
                    break
                kind, name = yc.kind(due)
                skipped.append((due, _reason(kind, name, due)))
                due += _ONE_DAY
        return self._deadline(start, "CAL", n, due, skipped, used, received_on, counted_from, note,
                              nominal=nominal, roll_forward=roll_forward)

    def due(self, start: date | datetime, *, workdays: int | None = None, days: int | None = None,
            roll_forward: bool = True, cutoff: time | None = USE_CALENDAR_CUTOFF) -> Deadline:
        """Either `workdays` (WD) or `days` (CAL), never both."""
        if (workdays is None) == (days is None):
            raise ValueError("workdays 与 days 必须且只能给出一个 (give exactly one of workdays or days)")
        if workdays is not None:
            return self.add_workdays(start, workdays, cutoff=cutoff)
        assert days is not None
        return self.add_days(start, days, roll_forward, cutoff=cutoff)

    def _deadline(self, start: date | datetime, rule: str, n: int, due: date, skipped: list[tuple[date, str]],
                  used: dict[int, YearCalendar], received_on: date, counted_from: date, note: str | None, *,
                  makeup: list[tuple[date, str]] | None = None, nominal: date | None = None,
                  roll_forward: bool = True) -> Deadline:
        provisional_years = sorted(y for y, yc in used.items() if yc.provisional)
        return Deadline(
            start=start, rule=rule, n=n, due_date=due, due_at=end_of_day_utc(due), days_skipped=skipped,
            calendar_versions={y: used[y].version for y in sorted(used)},
            provisional=bool(provisional_years), provisional_years=provisional_years, region=self.region,
            received_on=received_on, counted_from=counted_from, receipt_note=note, nominal_due=nominal,
            roll_forward=roll_forward, makeup_days_counted=makeup or [],
            calendar_labels={y: used[y].label() for y in used},
            overlay_versions={y: v for y in sorted(used) if (v := used[y].overlay_version) is not None},
        )
