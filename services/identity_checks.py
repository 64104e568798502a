"""Checks of what a registrar types about a person: identity documents, phone numbers, titles, and who must be
named for each channel (登记信息校验).

- 居民身份证: 18 characters (GB 11643-1999: six-digit address code whose first two digits are a province, an
  eight-digit birth date that exists and is not in the future, a three-digit sequence, and the ISO 7064 MOD 11-2
  check character, `X` for ten), or the legacy 15 digits (birth date `YYMMDD` of the 1900s, no check character).
- 港澳台居民居住证 has the same 18-character form with the address codes 81 (香港), 82 (澳门), 83 (台湾).
- Other documents are checked by their form: 护照 (5 to 17 letters and digits), 港澳居民来往内地通行证 (`H` or `M`
  and 8 or 10 digits), 台湾居民来往大陆通行证 (8 digits, or 10 with a suffix), 外国人永久居留身份证 (15 characters
  of the 2004 card, or 18 of the 2017 card starting with 9).
- Mobile numbers: 11 digits starting 1[3-9], with an optional +86/0086 prefix; landlines: an area code 0xx or
  0xxx, then 7 or 8 digits, an optional extension; the hotlines 12345 and 110-like short numbers are not contact
  numbers of a person and are refused.

Every message is a Chinese message id with `%(name)s` fields, so the web layer shows it in the page's language
(web/translations); nothing here mixes in English.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

ID_TYPES = ("居民身份证", "港澳台居民居住证", "护照", "港澳居民来往内地通行证", "台湾居民来往大陆通行证",
            "外国人永久居留身份证")
DEFAULT_ID_TYPE = "居民身份证"

# First two digits of the address code of a 居民身份证 (provinces, autonomous regions, municipalities).
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43",
    "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"})
RESIDENCE_PERMIT_CODES = frozenset({"81", "82", "83"})
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

MIN_TITLE_CHARS = 4
# Channels where a person is in front of the registrar or wrote their name: a petitioner with a name is required.
NAMED_CHANNELS = frozenset({"来访", "领导接访", "来信", "来电", "网上", "短信", "传真"})
# ...and the contact each of them needs so that the reply and the query code can reach the petitioner.
# A letter is answered by post, or by phone when the writer gave only a number.
CONTACT_NEEDED = {"来信": ("address", "phone"), "来电": ("phone",), "网上": ("phone",), "短信": ("phone",)}


@dataclass(frozen=True)
class Problem:
    """One problem: the form field (JSON path joined with "-"), a Chinese message id and its fields."""
    field: str
    message: str
    params: dict = field(default_factory=dict)

    def text(self) -> str:
        return self.message % self.params if self.params else self.message


def check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits of an 18-character ID number."""
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def _birth(text: str, today: date) -> date | None:
    try:
        born = date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None
    return born if date(1880, 1, 1) <= born <= today else None


def id_number_problem(value: str, id_type: str | None, today: date) -> tuple[str, dict] | None:
    """None when `value` is a valid number of the document type, else (message id, fields)."""
    id_type = id_type or DEFAULT_ID_TYPE
    v = re.sub(r"\s+", "", value or "").upper()
    if id_type not in ID_TYPES:
        return "证件类型“%(type)s”无效，请从列表中选择", {"type": id_type}
    if id_type in ("居民身份证", "港澳台居民居住证"):
        return _resident_id_problem(v, id_type, today)
    forms = {
        "护照": (r"[A-Z0-9]{5,17}", "护照号码应为 5 到 17 位字母或数字"),
        "港澳居民来往内地通行证": (r"[HM]\d{8}(\d{2})?", "港澳居民来往内地通行证号码应为 H 或 M 加 8 位或 10 位数字"),
        "台湾居民来往大陆通行证": (r"\d{8}(\d{2}|[A-Z]\d?)?", "台湾居民来往大陆通行证号码应为 8 位数字（可带 2 位后缀）"),
        "外国人永久居留身份证": (r"[A-Z]{3}\d{12}|9\d{16}[0-9X]", "外国人永久居留身份证号码应为 15 位（3 个字母加 12 位数字）或以 9 开头的 18 位"),
    }
    pattern, message = forms[id_type]
    return None if re.fullmatch(pattern, v) else (message, {})


def _resident_id_problem(v: str, id_type: str, today: date) -> tuple[str, dict] | None:
    if id_type == "居民身份证" and re.fullmatch(r"\d{15}", v):
        if v[:2] not in PROVINCE_CODES:
            return "身份证号码的前两位“%(code)s”不是省级行政区划代码", {"code": v[:2]}
        if _birth("19" + v[6:12], today) is None:
            return "15 位身份证号码中的出生日期“%(birth)s”不存在", {"birth": v[6:12]}
        return None
    if not re.fullmatch(r"\d{17}[\dX]", v):
        return "身份证号码应为 18 位（最后一位可以是 X），或 15 位数字的旧号码；现为 %(length)s 位", {"length": len(v)}
    allowed = PROVINCE_CODES if id_type == "居民身份证" else RESIDENCE_PERMIT_CODES
    if v[:2] not in allowed:
        return "身份证号码的前两位“%(code)s”不是省级行政区划代码", {"code": v[:2]}
    if _birth(v[6:14], today) is None:
        return "身份证号码中的出生日期“%(birth)s”不存在或晚于今天", {"birth": v[6:14]}
    if check_digit(v[:17]) != v[17]:
        return "身份证号码校验位不符（最后一位应为 %(check)s），请核对号码", {"check": check_digit(v[:17])}
    return None


def mobile_number(value) -> str | None:
    """The mainland mobile number in `value` as compared (11 digits, without +86/0086, spaces or dashes), or None
    when it is not one."""
    v = re.sub(r"[\s()（）-]", "", str(value or ""))
    v = re.sub(r"^(\+86|0086)", "", v)
    return v if re.fullmatch(r"1[3-9]\d{9}", v) else None


def phone_problem(value: str) -> tuple[str, dict] | None:
    """None for a mobile or landline number of a person, else (message id, fields)."""
    if mobile_number(value):
        return None
    v = re.sub(r"[\s()（）]", "", value or "")
    v = re.sub(r"^(\+86|0086)-?", "", v)
    if re.fullmatch(r"0\d{2,3}-?[2-9]\d{6,7}(-\d{1,6})?", v):
        return None
    return ("联系电话“%(value)s”不是有效的手机号码（11 位，1 开头）或固定电话（区号加 7 到 8 位号码）",
            {"value": value})


def registration_problems(form: dict, today: date) -> list[Problem]:
    """Every problem of the people, numbers and title of a registration (the schema has checked types)."""
    out: list[Problem] = []
    title = (form.get("title") or "").strip()
    if title and len(title) < MIN_TITLE_CHARS:
        out.append(Problem("title", "标题至少 %(min)s 个字，请概括诉求（如“拖欠工资三个月未付”）",
                           {"min": MIN_TITLE_CHARS}))
    people = form.get("petitioners")
    key = "petitioners"
    if not people and isinstance(form.get("petitioner"), dict):
        people, key = [form["petitioner"]], "petitioner"
    people = [p for p in people or [] if isinstance(p, dict)]
    for i, person in enumerate(people):
        at = f"{key}-{i}" if key == "petitioners" else key
        if person.get("id_number"):
            found = id_number_problem(str(person["id_number"]), person.get("id_type"), today)
            if found:
                out.append(Problem(f"{at}-id_number", *found))
        if person.get("phone"):
            found = phone_problem(str(person["phone"]))
            if found:
                out.append(Problem(f"{at}-phone", *found))
    channel = form.get("channel")
    named = [p for p in people if str(p.get("name") or "").strip()]
    if channel in NAMED_CHANNELS and not named:
        out.append(Problem("petitioners", "%(channel)s登记必须填写至少一名信访人的姓名", {"channel": channel}))
    need = CONTACT_NEEDED.get(channel)
    if need and named and not any(str(p.get(k) or "").strip() for p in named for k in need):
        what = "通讯地址或联系电话" if len(need) > 1 else "电话号码"
        out.append(Problem(f"{key}-0-{need[0]}" if key == "petitioners" else f"{key}-{need[0]}",
                           "%(channel)s登记需要信访人的%(what)s，以便送达告知书和答复", {"channel": channel, "what": what}))
    return out
