"""The calendar's vocabulary: kinds of day, where a year's data came from, and which regions exist.

Kept apart from the models so that the pure rules (`rules`, `statutory`) can use the same words without
importing SQLAlchemy.
"""
from __future__ import annotations

from enum import StrEnum

NATIONAL = "CN"

# The earliest year any source here covers (chinesecalendar starts in 2004). Earlier deadlines are refused.
FIRST_YEAR = 2004
# lunardate knows lunar years up to 2099, so provisional years cannot go further.
LAST_COMPUTABLE_YEAR = 2099


class DayKind(StrEnum):
    WORKDAY = "WORKDAY"
    REST = "REST"
    HOLIDAY = "HOLIDAY"
    ADJUSTED_WORKDAY = "ADJUSTED_WORKDAY"  # 调休上班: a weekend day worked to make up for a holiday

    @property
    def is_working(self) -> bool:
        return self in (DayKind.WORKDAY, DayKind.ADJUSTED_WORKDAY)


class YearSource(StrEnum):
    CHINESECALENDAR = "chinesecalendar"
    IMPORT = "import"
    PROVISIONAL = "provisional"


class YearStatus(StrEnum):
    OFFICIAL = "official"
    PROVISIONAL = "provisional"


# "CN" is the national calendar; provincial codes (ISO 3166-2:CN) hold overlays such as the local holidays
# that ethnic autonomous areas may add (statutory holiday regulations, art. 4).
REGIONS: dict[str, str] = {
    "CN": "全国",
    "CN-AH": "安徽省", "CN-BJ": "北京市", "CN-CQ": "重庆市", "CN-FJ": "福建省", "CN-GD": "广东省",
    "CN-GS": "甘肃省", "CN-GX": "广西壮族自治区", "CN-GZ": "贵州省", "CN-HA": "河南省", "CN-HB": "湖北省",
    "CN-HE": "河北省", "CN-HI": "海南省", "CN-HL": "黑龙江省", "CN-HN": "湖南省", "CN-JL": "吉林省",
    "CN-JS": "江苏省", "CN-JX": "江西省", "CN-LN": "辽宁省", "CN-NM": "内蒙古自治区", "CN-NX": "宁夏回族自治区",
    "CN-QH": "青海省", "CN-SC": "四川省", "CN-SD": "山东省", "CN-SH": "上海市", "CN-SN": "陕西省",
    "CN-SX": "山西省", "CN-TJ": "天津市", "CN-XJ": "新疆维吾尔自治区", "CN-XZ": "西藏自治区", "CN-YN": "云南省",
    "CN-ZJ": "浙江省",
}

WEEKDAY_NAMES = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
