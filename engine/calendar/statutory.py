"""Statutory public holidays (全体公民放假的节日) as the law fixes them, and provisional years built from them.

The State Council publishes each year's real arrangement (with make-up working days) only in October–December
of the year before. For a year not yet published we still know the statutory days themselves, because the law
fixes them by solar and lunar dates; that is what a provisional year holds. The same list checks imported
arrangements: every statutory day must be inside the published days off.

Pure: no database, no clock.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from lunardate import LunarDate

from .kinds import LAST_COMPUTABLE_YEAR, DayKind

NEW_YEAR = "元旦"
SPRING_FESTIVAL = "春节"
QINGMING = "清明节"
LABOUR_DAY = "劳动节"
DRAGON_BOAT = "端午节"
MID_AUTUMN = "中秋节"
NATIONAL_DAY = "国庆节"

HOLIDAY_NAMES = (NEW_YEAR, SPRING_FESTIVAL, QINGMING, LABOUR_DAY, DRAGON_BOAT, MID_AUTUMN, NATIONAL_DAY)


@dataclass(frozen=True)
class StatutoryDay:
    date: date
    name: str


def qingming(year: int) -> date:
    """Date of the Qingming solar term (sun at 15° longitude) in Beijing time.

    The usual "century constant" approximation: day = floor(Y·0.2422 + C) − floor(Y/4), Y = year mod 100, with
    C = 4.81 for the 21st century. Checked in the tests against chinesecalendar for 2004–2099.
    """
    if not 2001 <= year <= 2099:
        raise ValueError(f"清明日期公式只适用于2001–2099年 (Qingming formula only covers 2001–2099): {year}")
    y = year % 100
    return date(year, 4, int(y * 0.2422 + 4.81) - y // 4)


def _lunar(year: int, month: int, day: int) -> date:
    return LunarDate(year, month, day).to_solar_date()


def statutory_holidays(year: int) -> list[StatutoryDay]:
    """The statutory days of `year` under the rules in force that year.

    - 2025 on (2024 revision): 13 days, Spring Festival Eve + lunar 1/1–1/3, May 1–2.
    - 2014–2024 (2013 revision): 11 days, lunar 1/1–1/3, May 1.
    - 2008–2013 (2007 revision): 11 days, Spring Festival Eve + lunar 1/1–1/2, May 1.
    - before 2008 (1999 rules): 10 days, lunar 1/1–1/3, May 1–3, no Qingming, Dragon Boat or Mid-Autumn.
    Two festivals may share a date (Mid-Autumn on 1 October, as in 2020 and 2028); both are listed.
    """
    if year > LAST_COMPUTABLE_YEAR:
        raise ValueError(f"农历数据只到{LAST_COMPUTABLE_YEAR}年 (lunar data ends in {LAST_COMPUTABLE_YEAR}): {year}")
    new_year = _lunar(year, 1, 1)
    eve = new_year - timedelta(days=1)
    if year >= 2025:
        spring = [eve] + [new_year + timedelta(days=i) for i in range(3)]
        labour = [date(year, 5, 1), date(year, 5, 2)]
    elif year >= 2014:
        spring = [new_year + timedelta(days=i) for i in range(3)]
        labour = [date(year, 5, 1)]
    elif year >= 2008:
        spring = [eve, new_year, new_year + timedelta(days=1)]
        labour = [date(year, 5, 1)]
    else:
        spring = [new_year + timedelta(days=i) for i in range(3)]
        labour = [date(year, 5, i) for i in (1, 2, 3)]

    days = [StatutoryDay(date(year, 1, 1), NEW_YEAR)]
    days += [StatutoryDay(d, SPRING_FESTIVAL) for d in spring]
    if year >= 2008:
        days.append(StatutoryDay(qingming(year), QINGMING))
    days += [StatutoryDay(d, LABOUR_DAY) for d in labour]
    if year >= 2008:
        days.append(StatutoryDay(_lunar(year, 5, 5), DRAGON_BOAT))
        days.append(StatutoryDay(_lunar(year, 8, 15), MID_AUTUMN))
    days += [StatutoryDay(date(year, 10, i), NATIONAL_DAY) for i in (1, 2, 3)]
    return sorted(days, key=lambda s: s.date)


def provisional_days(year: int) -> dict[date, tuple[DayKind, str]]:
    """A year not yet published: its statutory days as holidays, nothing else (no make-up working days, no
    bridging days). Weekends follow the ordinary rule and need no row."""
    days: dict[date, tuple[DayKind, str]] = {}
    for s in statutory_holidays(year):
        if s.date in days:  # two festivals on one day
            days[s.date] = (DayKind.HOLIDAY, f"{days[s.date][1]}、{s.name}")
        else:
            days[s.date] = (DayKind.HOLIDAY, s.name)
    return days
