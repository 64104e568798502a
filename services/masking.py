"""Masking of petitioners' personal data (ID number, phone, address, name) wherever the full value is not needed:
lists, search results, repeat candidates, logs. Pure functions on strings; no framework imports.

The rule follows common practice for Chinese personal data: keep enough to tell two people apart at a glance,
never enough to contact or identify them.
"""
from __future__ import annotations

import re

MASK = "*"
PETITIONER_FIELDS = ("name", "id_number", "phone", "address")


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def mask_id_number(value) -> str:
    """Resident ID (18 characters) keeps the first 6 (region) and last 4: 410121********1234.
    Shorter documents keep the first and last two characters."""
    text = re.sub(r"\s", "", _text(value))
    if not text:
        return ""
    if len(text) >= 15:
        return text[:6] + MASK * (len(text) - 10) + text[-4:]
    if len(text) <= 4:
        return MASK * len(text)
    return text[:2] + MASK * (len(text) - 4) + text[-2:]


def mask_phone(value) -> str:
    """Mobile numbers keep the first 3 and last 4 digits (138****5678); landlines keep the area code and the
    last 2 digits."""
    text = re.sub(r"[\s]", "", _text(value))
    if not text:
        return ""
    prefix = ""
    if text.startswith("+86"):
        prefix, text = "+86", text[3:]
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits.startswith("1"):
        return prefix + digits[:3] + MASK * 4 + digits[-4:]
    if "-" in text:
        area, _, rest = text.partition("-")
        rest = re.sub(r"\D", "", rest)
        return prefix + area + "-" + MASK * max(len(rest) - 2, 1) + rest[-2:]
    if len(digits) <= 4:
        return prefix + MASK * len(digits)
    return prefix + digits[:2] + MASK * (len(digits) - 4) + digits[-2:]


_ADDRESS_LEVEL = re.compile(r"^(.*?(?:省|自治区|市|州|盟|县|区|旗))")


def mask_address(value) -> str:
    """Keeps the administrative part up to the first county/district (or city) and hides the rest:
    某某省某某市东城县******."""
    text = _text(value)
    if not text:
        return ""
    kept = ""
    rest = text
    # Take administrative levels one after another (province, city, county) while they are there.
    for _ in range(3):
        m = _ADDRESS_LEVEL.match(rest)
        if not m or len(m.group(1)) > 12:
            break
        kept += m.group(1)
        rest = rest[len(m.group(1)):]
        if kept.endswith(("县", "区", "旗")):
            break
    if not kept:
        kept = text[: min(3, max(len(text) // 3, 1))]
        rest = text[len(kept):]
    return kept + MASK * min(max(len(rest), 1), 6) if rest else kept


def mask_name(value) -> str:
    """Chinese names keep the surname (张*, 欧阳**); Latin-script names keep the first letter of each part."""
    text = _text(value)
    if not text:
        return ""
    if re.search(r"[\u4e00-\u9fff]", text):
        keep = 2 if len(text) >= 4 else 1  # two-character surnames (欧阳, 司马) come with longer names
        return text[:keep] + MASK * (len(text) - keep)
    return " ".join(part[0] + MASK * (len(part) - 1) for part in text.split())


_MASKERS = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone, "address": mask_address}


def mask_petitioner(petitioner: dict | None) -> dict:
    """A copy of a petitioner record with name, ID number, phone and address masked; other fields kept."""
    if not isinstance(petitioner, dict):
        return {}
    out = dict(petitioner)
    for key, fn in _MASKERS.items():
        if out.get(key):
            out[key] = fn(out[key])
    return out


def mask_petitioners(data: dict) -> dict:
    """A copy of case data with `petitioner` and every entry of `petitioners` masked (what lists may show)."""
    out = dict(data)
    if isinstance(out.get("petitioner"), dict):
        out["petitioner"] = mask_petitioner(out["petitioner"])
    if isinstance(out.get("petitioners"), list):
        out["petitioners"] = [mask_petitioner(p) for p in out["petitioners"]]
    return out
