"""统计口径与统计期 (KPI settings and statistical periods).

Settings come from `processes/kpi.yaml`: where a month starts (1st, or the 21st for the common 21st–20th
assessment month), where the year ends (31 December, or 20 December as some systems roll over), whether
"basically satisfied" counts as satisfied, and the denominator of the on-time completion rate. Which elements
each figure reads comes from the element meanings (`processes/meanings.yaml`, beside kpi.yaml): `load` puts them
into the settings as the `elements` block, the form a frozen snapshot keeps its copy in (`STATISTICS_ELEMENTS`),
so a snapshot's stored settings still rebuild the same settings and the same digest. A period is a half-open
interval of instants [start, end) in Beijing time.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import yaml

from engine.clock import SHANGHAI

from . import element_meanings
from .element_meanings import MAPPED, ElementMeanings

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "processes" / "kpi.yaml"
DENOMINATORS = ("due_or_closed", "registered")

# The statistics' element lists, under the names the settings (and every frozen snapshot's copy of them) keep them,
# and the element meanings each one joins, in this order.
STATISTICS_ELEMENTS = {
    "triage": ("triage",),
    "sign": ("sign",),
    "acceptance": ("acceptance",),
    "handling": ("handling",),
    "reply_served": ("reply",),
    "signoff": ("signoff",),
    "returned_for_redo": ("returned_for_redo",),
    "rating": ("rating",),
    "review": ("review", "rereview"),
    "statutory": ("statutory_limit",),  # 法定时限节点：逾期件数统计这些待办
    "milestones": ("milestone_13710",),  # 13710 节点：待办 -> 节点编号
    "limit_timers": ("limit_timer",),  # 待办 -> 它的期限定时器
    "escalation_entry": ("escalation_entry",),  # 每一级联席会议受理上交事项的第一个待办
}
STATISTICS_MEANINGS = tuple(m for meanings in STATISTICS_ELEMENTS.values() for m in meanings)


def statistics_elements(meanings: ElementMeanings) -> dict:
    """The `elements` block of the settings, from the element meanings: name -> element ids (or element -> value
    for a mapped meaning)."""
    out: dict = {}
    for name, joined in STATISTICS_ELEMENTS.items():
        if any(m in MAPPED for m in joined):
            out[name] = {k: v for m in joined for k, v in meanings.mapping(m).items()}
        else:
            out[name] = list(dict.fromkeys(e for m in joined for e in meanings.ordered(m)))
    return out


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class KpiSettings:
    month_start_day: int = 1
    year_end: tuple[int, int] = (12, 31)
    basically_satisfied_counts: bool = True
    not_rated: tuple[str, ...] = ("未评价",)
    rate_denominator: str = "due_or_closed"
    elements: dict = field(default_factory=dict)
    routes: dict = field(default_factory=dict)
    process_keys: tuple[str, ...] = ("petition_case",)
    unsigned_acceptance: tuple[str, int] = ("CAL", 15)
    suggestion_keys: tuple[str, ...] = ()  # 人民建议征集: counted apart, never in the grievance figures
    raw: dict = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, doc: dict) -> KpiSettings:
        period = doc.get("period") or {}
        day = int(period.get("month_start_day", 1))
        if not 1 <= day <= 28:
            raise SettingsError(f"month_start_day 应在 1–28 之间，收到 {day}（a month must start on day 1–28）")
        m = re.fullmatch(r"(\d{1,2})-(\d{1,2})", str(period.get("year_end", "12-31")))
        if not m:
            raise SettingsError("year_end 应写作 月-日，例如 12-31 或 12-20（write the year end as MM-DD）")
        year_end = (int(m.group(1)), int(m.group(2)))
        date(2001, *year_end)  # a real day of the year, or ValueError
        denominator = (doc.get("completion") or {}).get("rate_denominator", "due_or_closed")
        if denominator not in DENOMINATORS:
            raise SettingsError(f"rate_denominator 应为 {' 或 '.join(DENOMINATORS)}，收到 {denominator}")
        satisfaction = doc.get("satisfaction") or {}
        return cls(month_start_day=day, year_end=year_end,
                   basically_satisfied_counts=bool(satisfaction.get("basically_satisfied_counts", True)),
                   not_rated=tuple(satisfaction.get("not_rated", ["未评价"])),
                   rate_denominator=denominator, elements=dict(doc.get("elements") or {}),
                   routes=dict(doc.get("routes") or {}),
                   process_keys=tuple(doc.get("process_keys") or ["petition_case"]),
                   unsigned_acceptance=_day_rule(doc.get("unsigned_acceptance") or {}),
                   suggestion_keys=tuple((doc.get("suggestions") or {}).get("process_keys") or ()), raw=doc)

    @classmethod
    def load(cls, path: Path | str = DEFAULT_FILE, meanings: ElementMeanings | None = None) -> KpiSettings:
        """The settings in kpi.yaml at `path`, with the element lists of the meanings file beside it (or of
        `meanings`). A settings copy taken from a frozen snapshot is rebuilt with `from_dict`: it has its lists."""
        path = Path(path)
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if "elements" in doc:
            raise SettingsError(f"{path.name} 不再列出元素（elements）：统计读取的元素在 {element_meanings.FILE_NAME} "
                                f"中按含义声明（the element lists moved to {element_meanings.FILE_NAME}）")
        if meanings is None:
            beside = path.parent / element_meanings.FILE_NAME
            meanings = element_meanings.meanings_at(beside) if beside.is_file() else ElementMeanings({})
        return cls.from_dict({**doc, "elements": statistics_elements(meanings)})

    def with_overrides(self, **changes) -> KpiSettings:
        doc = json.loads(json.dumps(self.raw or {}))
        if "basically_satisfied_counts" in changes:
            value = changes["basically_satisfied_counts"]
            doc.setdefault("satisfaction", {})["basically_satisfied_counts"] = value
        if "rate_denominator" in changes:
            doc.setdefault("completion", {})["rate_denominator"] = changes["rate_denominator"]
        if "month_start_day" in changes:
            doc.setdefault("period", {})["month_start_day"] = changes["month_start_day"]
        if "year_end" in changes:
            doc.setdefault("period", {})["year_end"] = changes["year_end"]
        return KpiSettings.from_dict(doc)

    @property
    def counted_processes(self) -> tuple[str, ...]:
        """Every process whose cases the statistics read: the grievance processes and the suggestion process."""
        return tuple(dict.fromkeys(self.process_keys + self.suggestion_keys))

    def ids(self, name: str) -> set[str]:
        value = self.elements.get(name) or []
        return set(value) if isinstance(value, list) else set(value.keys())

    def watched_elements(self) -> set[str]:
        """Every element id whose work items or journal events the statistics read."""
        out: set[str] = set()
        for name in self.elements:
            out |= self.ids(name)
        out |= set((self.elements.get("limit_timers") or {}).values())
        return out

    def route_values(self, name: str) -> set[str]:
        return set(self.routes.get(name) or [])

    def as_dict(self) -> dict:
        return json.loads(json.dumps(self.raw, ensure_ascii=False, default=str))

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False)
                              .encode("utf-8")).hexdigest()[:16]


def _day_rule(doc: dict) -> tuple[str, int]:
    rule, days = str(doc.get("rule", "CAL")), doc.get("days", 15)
    if rule not in ("CAL", "WD") or not isinstance(days, int) or days < 0:
        raise SettingsError("unsigned_acceptance 应写作 {days: 15, rule: CAL}（rule 为 CAL 或 WD）")
    return rule, days


@dataclass(frozen=True)
class Period:
    label: str
    first_day: date
    last_day: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(0), SHANGHAI)

    @property
    def end(self) -> datetime:
        """Exclusive: 00:00 after the last day."""
        return datetime.combine(self.last_day + timedelta(days=1), time(0), SHANGHAI)

    def contains(self, instant: datetime | None) -> bool:
        return instant is not None and self.start <= instant < self.end

    def contains_day(self, day: date | None) -> bool:
        return day is not None and self.first_day <= day <= self.last_day

    def as_dict(self) -> dict:
        return {"label": self.label, "from": self.first_day.isoformat(), "to": self.last_day.isoformat()}


def month_period(year: int, month: int, settings: KpiSettings) -> Period:
    """统计月：自然月，或上月 N 日至本月 N-1 日（N = month_start_day）。"""
    label = f"{year:04d}-{month:02d}"
    if settings.month_start_day == 1:
        first = date(year, month, 1)
        last = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
        return Period(label, first, last)
    prev_year, prev_month = (year - 1, 12) if month == 1 else (year, month - 1)
    first = date(prev_year, prev_month, settings.month_start_day)
    last = date(year, month, settings.month_start_day) - timedelta(days=1)
    return Period(label, first, last)


def year_period(year: int, settings: KpiSettings) -> Period:
    """统计年度：上一年度结束日的次日至本年度结束日（year_end，例如 12-20）。"""
    last = date(year, *settings.year_end)
    first = date(year - 1, *settings.year_end) + timedelta(days=1)
    return Period(f"{year:04d}", first, last)


FIRST_YEAR, LAST_YEAR = 1990, 2999  # petition records, not history: anything else is a typo


def _plausible(year: int) -> bool:
    return FIRST_YEAR <= year <= LAST_YEAR


def parse_period(text: str, settings: KpiSettings) -> Period:
    """`2026-03` (a statistical month) or `2026` (a statistical year)."""
    text = (text or "").strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", text)
    if m and 1 <= int(m.group(2)) <= 12 and _plausible(int(m.group(1))):
        return month_period(int(m.group(1)), int(m.group(2)), settings)
    if re.fullmatch(r"\d{4}", text) and _plausible(int(text)):
        return year_period(int(text), settings)
    raise SettingsError(f"统计期“{text}”无效，应写作 2026-03（月）或 2026（年）（period must be YYYY-MM or YYYY）")


def range_period(first: str, last: str) -> Period:
    """An explicit range of Beijing dates, both inclusive."""
    try:
        a, b = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise SettingsError("from 和 to 应为日期，例如 2026-03-01（dates as YYYY-MM-DD）") from None
    if b < a:
        raise SettingsError("to 不能早于 from（the range ends before it starts）")
    if not (_plausible(a.year) and _plausible(b.year)):
        raise SettingsError(f"统计期应在 {FIRST_YEAR}–{LAST_YEAR} 年之间（years {FIRST_YEAR}–{LAST_YEAR}）")
    return Period(f"{a.isoformat()}~{b.isoformat()}", a, b)


def period_of(instant: datetime, settings: KpiSettings) -> Period:
    """The statistical month an instant falls in."""
    day = instant.astimezone(SHANGHAI).date()
    year, month = day.year, day.month
    if settings.month_start_day > 1 and day.day >= settings.month_start_day:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return month_period(year, month, settings)
