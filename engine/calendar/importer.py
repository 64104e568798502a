"""Yearly import of the State Council's holiday arrangement, from a small YAML or CSV file.

Each year, usually between late October and early December, the State Council General Office publishes
《国务院办公厅关于YYYY年部分节假日安排的通知》. An administrator types it into about twenty lines and imports it the
same day. A wrong calendar silently moves every deadline, so the file is checked in full before anything is
written, and every problem is reported at once with what to change (Chinese first, English after).

YAML format::

    year: 2027
    region: CN                      # optional, CN (national) by default; CN-XZ etc. for a regional overlay
    notice:
      title: 国务院办公厅关于2027年部分节假日安排的通知
      date: 2026-11-05              # publication date
      url: https://www.gov.cn/...   # optional
    holidays:                       # days off (放假), one entry per festival
      - {name: 元旦, from: 2027-01-01, to: 2027-01-03}
      - {name: 清明节, from: 2027-04-05}              # 'to' may be left out for a single day
    workdays:                       # make-up working days (调休上班), weekend days only
      - {date: 2027-02-20, for: 春节}

CSV format, the same content one record a line (header required; blank lines and lines starting with #
are ignored)::

    type,value,from,to
    year,2027,,
    region,CN,,
    notice,国务院办公厅关于2027年部分节假日安排的通知,2026-11-05,
    url,https://www.gov.cn/...,,
    holiday,元旦,2027-01-01,2027-01-03
    workday,春节,2027-02-20,
 Checks: the year is supported and every date belongs to it; the region is known; each date appears once;
make-up working days are Saturdays or Sundays; for the national calendar, every statutory holiday of the year
(under the
rules in force that year, see `statutory`) lies within the days off.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from .errors import CalendarImportError
from .kinds import (
    FIRST_YEAR,
    LAST_COMPUTABLE_YEAR,
    NATIONAL,
    REGIONS,
    WEEKDAY_NAMES,
    DayKind,
    YearSource,
    YearStatus,
)
from .repository import write_year
from .statutory import HOLIDAY_NAMES, statutory_holidays

MAX_PERIOD_DAYS = 15  # the longest real period (Spring Festival 2020, extended) was 10 days; more is a typo
MAX_WORK_STRETCH = 6  # the 2024 revision caps stretches of work around holidays at 6 days [brief §11, MEM]
_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_YAML_KEYS = ("year", "region", "notice", "holidays", "workdays")
_CSV_TYPES = ("year", "region", "notice", "url", "holiday", "workday")


MAX_YAML_DEPTH = 64  # a year's arrangement nests three levels; the bound keeps PyYAML's recursion far away


class _TooDeep(yaml.YAMLError):
    pass


class _Loader(yaml.SafeLoader):
    """SafeLoader without implicit timestamps: dates stay text, so a bad one gets our message. Nesting is bounded:
    the composer recurses once per level, and `[[[[...` 100,000 deep (YAML reads JSON too) ended in a
    RecursionError and a 500."""

    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _TooDeep(f"nested deeper than {MAX_YAML_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class HolidayPeriod:
    name: str
    start: date
    end: date
    where: str  # where in the file, for messages

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class MakeupDay:
    date: date
    for_name: str | None
    where: str


@dataclass
class Arrangement:
    """One year's arrangement as read from a file, before validation."""

    year: int | None = None
    region: str = NATIONAL
    notice_title: str | None = None
    notice_date: date | None = None
    notice_url: str | None = None
    holidays: list[HolidayPeriod] = field(default_factory=list)
    workdays: list[MakeupDay] = field(default_factory=list)


@dataclass(frozen=True)
class CheckedArrangement:
    arrangement: Arrangement
    days: dict[date, tuple[DayKind, str | None]]
    warnings: list[str]

    @property
    def year(self) -> int:
        assert self.arrangement.year is not None
        return self.arrangement.year


@dataclass(frozen=True)
class ImportResult:
    year: int
    region: str
    version: int
    previous_version: int | None
    changed: bool  # False when the file matched what was stored (no new version)
    holiday_days: int
    makeup_days: int
    changed_dates: list[date]  # kind or name changed: open deadlines touching these need recomputing
    warnings: list[str]
    notice_title: str | None

    @property
    def created(self) -> bool:
        return self.previous_version is None


# -- reading -------------------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _parse_date(value: Any, where: str, problems: list[str]) -> date | None:
    text = _text(value)
    if text is None:
        problems.append(f"{where}缺少日期，请写成 YYYY-MM-DD ({where.rstrip('：')}: missing date; write YYYY-MM-DD)")
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        problems.append(f"{where}日期 '{text}' 无效，请写成 YYYY-MM-DD 格式的真实日期 "
                        f"(invalid date '{text}'; write a real date as YYYY-MM-DD)")
        return None


def _parse_year(value: Any, arr: Arrangement, problems: list[str]) -> None:
    text = _text(value)
    if text is None:
        return
    if not text.isdigit() or len(text) != 4:
        problems.append(f"year 应为四位数年份，收到 '{text}' (year must be a 4-digit number, got '{text}')")
        return
    arr.year = int(text)


def _from_yaml(text: str, problems: list[str]) -> Arrangement:
    arr = Arrangement()
    try:
        doc = yaml.load(text, Loader=_Loader)
    except _TooDeep:
        problems.append(f"文件嵌套超过 {MAX_YAML_DEPTH} 层，请按示例文件的结构填写 "
                        f"(the file nests deeper than {MAX_YAML_DEPTH} levels: follow the example's layout)")
        return arr
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"第{mark.line + 1}行" if mark is not None else ""
        problems.append(f"YAML 格式错误（{line}）：{getattr(exc, 'problem', exc)}，请检查缩进和冒号 "
                        f"(YAML syntax error; check indentation and colons)")
        return arr
    if not isinstance(doc, dict):
        problems.append("文件内容应为 year、notice、holidays 等字段组成的映射 "
                        "(the file must be a mapping with year, notice, holidays, ...)")
        return arr
    for key in doc:
        if key not in _YAML_KEYS:
            problems.append(f"未知字段 '{key}'，可用字段：{'、'.join(_YAML_KEYS)} (unknown field '{key}')")
    _parse_year(doc.get("year"), arr, problems)
    if "region" in doc:
        arr.region = _text(doc.get("region")) or ""
    notice = doc.get("notice") or {}
    if not isinstance(notice, dict):
        problems.append("notice 应包含 title、date (notice must have title and date)")
        notice = {}
    arr.notice_title = _text(notice.get("title"))
    if notice.get("date") is not None:
        arr.notice_date = _parse_date(notice.get("date"), "notice.date：", problems)
    arr.notice_url = _text(notice.get("url"))

    holidays = doc.get("holidays") or []
    if not isinstance(holidays, list):
        problems.append("holidays 应为列表，每项含 name、from、to (holidays must be a list of name/from/to)")
        holidays = []
    for i, item in enumerate(holidays, 1):
        where = f"holidays 第{i}项："
        if not isinstance(item, dict):
            problems.append(f"{where}应写成 {{name: 元旦, from: YYYY-MM-DD, to: YYYY-MM-DD}} "
                            f"(item must be a mapping with name, from, to)")
            continue
        _add_period(arr, _text(item.get("name")), item.get("from"), item.get("to"), where, problems)

    workdays = doc.get("workdays") or []
    if not isinstance(workdays, list):
        problems.append("workdays 应为列表，每项含 date、for (workdays must be a list of date/for)")
        workdays = []
    for i, item in enumerate(workdays, 1):
        where = f"workdays 第{i}项："
        if isinstance(item, dict):
            day, for_name = item.get("date"), _text(item.get("for"))
        else:
            day, for_name = item, None
        d = _parse_date(day, where, problems)
        if d is not None:
            arr.workdays.append(MakeupDay(d, for_name, where))
    return arr


def _add_period(arr: Arrangement, name: str | None, start: Any, end: Any, where: str,
                problems: list[str]) -> None:
    if name is None:
        problems.append(f"{where}缺少节日名称 name，例如“春节” (missing holiday name)")
    first = _parse_date(start, where, problems)
    last = _parse_date(end, where, problems) if _text(end) is not None else first
    if first is None or last is None or name is None:
        return
    if first > last:
        problems.append(f"{where}开始日期 {first} 晚于结束日期 {last}，请对调或改正 "
                        f"(start {first} is after end {last}; swap or correct them)")
        return
    arr.holidays.append(HolidayPeriod(name, first, last, where))


def _from_csv(text: str, problems: list[str]) -> Arrangement:
    arr = Arrangement()
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines or [c.strip() for c in lines[0][1].split(",")][:4] != ["type", "value", "from", "to"]:
        problems.append("CSV 第一行应为表头 type,value,from,to (the first CSV line must be the header "
                        "type,value,from,to)")
        return arr
    reader = csv.reader(io.StringIO("\n".join(line for _n, line in lines[1:])))
    for (n, _line), row in zip(lines[1:], reader, strict=False):
        cells = [c.strip() for c in row] + ["", "", "", ""]
        kind, value, start, end = cells[:4]
        where = f"第{n}行："
        if kind == "year":
            _parse_year(value, arr, problems)
        elif kind == "region":
            arr.region = value
        elif kind == "notice":
            arr.notice_title = value or None
            if start:
                arr.notice_date = _parse_date(start, where, problems)
        elif kind == "url":
            arr.notice_url = value or None
        elif kind == "holiday":
            _add_period(arr, value or None, start, end, where, problems)
        elif kind == "workday":
            d = _parse_date(start, where, problems)
            if d is not None:
                arr.workdays.append(MakeupDay(d, value or None, where))
        else:
            problems.append(f"{where}未知类型 '{kind}'，可用：{'、'.join(_CSV_TYPES)} (unknown row type '{kind}')")
    return arr


def _read(source: str | Path, fmt: str | None) -> tuple[str, str]:
    """A Path is read from disk; a str is always the file's content, never a path (uploads are text, and
    text naming a server file must not make us read it)."""
    if isinstance(source, Path):
        path = Path(source)
        if not path.is_file():
            raise CalendarImportError([f"找不到文件 {path}，请检查路径 (file not found: {path})"])
        text = path.read_text(encoding="utf-8-sig")
        return text, fmt or ("csv" if path.suffix.lower() == ".csv" else "yaml")
    text = str(source).lstrip("\ufeff")
    if fmt is None:
        lines = (ln.strip() for ln in text.splitlines())
        first = next((ln for ln in lines if ln and not ln.startswith("#")), "")
        fmt = "csv" if first.startswith("type,") else "yaml"
    return text, fmt


# -- checking ------------------------------------------------------------------------------------------------


def _check(arr: Arrangement, problems: list[str]) -> tuple[dict[date, tuple[DayKind, str | None]], list[str]]:
    warnings: list[str] = []
    days: dict[date, tuple[DayKind, str | None]] = {}
    year = arr.year
    if year is None:
        if not any(p.startswith("year ") for p in problems):
            problems.append("缺少 year（年份），请写上例如 year: 2027 (missing 'year'; add e.g. 'year: 2027')")
        return days, warnings
    if not FIRST_YEAR <= year <= LAST_COMPUTABLE_YEAR:
        problems.append(f"年份 {year} 超出支持范围 {FIRST_YEAR}–{LAST_COMPUTABLE_YEAR} "
                        f"(year {year} is outside {FIRST_YEAR}–{LAST_COMPUTABLE_YEAR})")
        return days, warnings
    if arr.region not in REGIONS:
        problems.append(f"未知地区代码 '{arr.region}'，请使用 CN（全国）或省级代码，如 CN-XZ（西藏自治区） "
                        f"(unknown region '{arr.region}'; use CN for the national calendar or a provincial "
                        f"code such as CN-XZ)")
    if arr.notice_title is None:
        problems.append(f"缺少通知标题 notice.title，例如“国务院办公厅关于{year}年部分节假日安排的通知” "
                        f"(missing notice title)")
    if arr.notice_date is None:
        if not any("notice.date" in p for p in problems):
            problems.append("缺少通知发布日期 notice.date，请写成 YYYY-MM-DD (missing notice date)")
    elif arr.notice_date > date(year, 12, 31):
        problems.append(f"通知日期 {arr.notice_date} 晚于 {year} 年年底，请检查 "
                        f"(notice date {arr.notice_date} is after the end of {year})")

    seen: dict[date, str] = {}

    def claim(d: date, where: str) -> bool:
        if d.year != year:
            problems.append(f"{where}{d} 不属于 {year} 年；跨年的日期请登记在 {d.year} 年的文件中 "
                            f"({d} is not in {year}; enter it in the {d.year} file)")
            return False
        if d in seen:
            problems.append(f"{d} 出现了两次（{seen[d].rstrip('：')}、{where.rstrip('：')}），每个日期只能登记一次 "
                            f"({d} appears twice; list each date once)")
            return False
        seen[d] = where
        return True

    for period in arr.holidays:
        length = (period.end - period.start).days + 1
        if length > MAX_PERIOD_DAYS:
            problems.append(f"{period.where}{period.name}放假时段 {period.start} 至 {period.end} 共{length}天，"
                            f"超过{MAX_PERIOD_DAYS}天，可能是日期输错 (a period of {length} days is longer than "
                            f"{MAX_PERIOD_DAYS}; check the dates)")
            continue
        if arr.region == NATIONAL and period.name not in HOLIDAY_NAMES:
            warnings.append(f"{period.where}节日名称“{period.name}”不是法定节日名称，请确认 "
                            f"('{period.name}' is not a statutory festival name; check it)")
        for d in period.dates():
            if claim(d, period.where):
                days[d] = (DayKind.HOLIDAY, period.name)
    for made in arr.workdays:
        if made.date.weekday() < 5:
            problems.append(f"{made.where}{made.date} 是{WEEKDAY_NAMES[made.date.weekday()]}，调休上班日应为周六或"
                            f"周日，工作日本来就上班，不必登记 ({made.date} is a "
                            f"{_EN_WEEKDAYS[made.date.weekday()]}; make-up working days are weekend days)")
            continue
        if claim(made.date, made.where):
            days[made.date] = (DayKind.ADJUSTED_WORKDAY, made.for_name)

    if arr.region == NATIONAL:
        if not arr.holidays:
            problems.append("没有任何放假时段 holidays，全国日历每年至少包含法定节假日 "
                            "(no holiday periods; the national calendar has at least the statutory holidays)")
        else:
            for s in statutory_holidays(year):
                kind = days.get(s.date, (None, None))[0]
                if kind is not DayKind.HOLIDAY:
                    problems.append(f"{s.date} 是法定节假日（{s.name}），但不在放假日期内；请把它加入{s.name}的"
                                    f"放假时段 ({s.date} is a statutory holiday but not in the days off; add it "
                                    f"to the {s.name} period)")
        warnings += _long_stretches(year, days)
    return days, warnings


def _long_stretches(year: int, days: dict[date, tuple[DayKind, str | None]]) -> list[str]:
    """Runs of more than MAX_WORK_STRETCH working days that contain a make-up day: worth a second look."""
    out: list[str] = []
    d, run_start, run, has_makeup = date(year, 1, 1), None, 0, False
    while True:
        kind = days.get(d, (DayKind.WORKDAY if d.weekday() < 5 else DayKind.REST, None))[0]
        if d.year == year and kind.is_working:
            run_start = run_start or d
            run += 1
            has_makeup = has_makeup or kind is DayKind.ADJUSTED_WORKDAY
        else:
            if run > MAX_WORK_STRETCH and has_makeup and run_start is not None:
                end = d - timedelta(days=1)
                out.append(f"{run_start} 至 {end} 连续上班{run}天，超过{MAX_WORK_STRETCH}天，请核对通知 "
                           f"({run} consecutive working days from {run_start}; check the notice)")
            run_start, run, has_makeup = None, 0, False
            if d.year != year:
                return out
        d += timedelta(days=1)


def check_arrangement(source: str | Path, fmt: str | None = None) -> CheckedArrangement:
    """Read and validate without writing: what an admin page shows before the import button."""
    text, fmt = _read(source, fmt)
    if fmt not in ("yaml", "csv"):
        raise CalendarImportError([f"未知文件格式 '{fmt}'，请使用 yaml 或 csv (unknown format '{fmt}')"])
    problems: list[str] = []
    arr = _from_csv(text, problems) if fmt == "csv" else _from_yaml(text, problems)
    days, warnings = _check(arr, problems)
    if problems:
        raise CalendarImportError(problems, arr.year)
    return CheckedArrangement(arr, days, warnings)


def import_year(session: Session, path_or_text: str | Path, actor: str, at: datetime, *,
                fmt: str | None = None) -> ImportResult:
    """Validate a year's arrangement and write it as official. Replacing a year bumps its version; importing
    the same content again changes nothing. Does not commit: the caller's unit of work does."""
    checked = check_arrangement(path_or_text, fmt)
    arr = checked.arrangement
    written = write_year(session, year=checked.year, region=arr.region, source=YearSource.IMPORT,
                         status=YearStatus.OFFICIAL, days=checked.days, actor=actor, at=at,
                         notice_title=arr.notice_title, notice_date=arr.notice_date,
                         notice_url=arr.notice_url)
    kinds = [k for k, _n in checked.days.values()]
    return ImportResult(
        year=checked.year, region=arr.region, version=written.version,
        previous_version=written.previous_version, changed=written.changed,
        holiday_days=kinds.count(DayKind.HOLIDAY), makeup_days=kinds.count(DayKind.ADJUSTED_WORKDAY),
        changed_dates=written.changed_dates, warnings=checked.warnings, notice_title=arr.notice_title,
    )
