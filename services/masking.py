"""Petitioners' personal data (name, ID number, phone, address): who reads it in full, and how it is masked for
everyone else. The one home of both; every serializer (JSON API, pages, exports, notices to offices) goes through
here. Pure functions on plain values; no framework imports.

Who reads it in full (`sees_in_full`), as a petition office works:
- the person who registered the case at a reception desk (registrar, county or city petition office), who took the
  petitioner's details down and answers when the petitioner comes back to the desk;
- whoever holds, in their own unit and role (or as its assignee), an open task of the case whose work is to
  contact the petitioner (meaning `contacts_petitioner` in processes/meanings.yaml): triage at the desk, handling and the written reply, the reply after a
  joint meeting, the hearing, the follow-up call for the rating.
Everyone else reads the data masked: designers, administrators, leaders, joint-meeting offices, supervisors, units
holding only a task that does not talk to the petitioner (signing, sign-off, co-unit opinion, approvals),
auditors, statistics, and every notice to an office. The petitioner's own messages carry their own data.
Every full view is recorded in the access log by the caller (web/personal_data.py).

How it is masked follows common practice for Chinese personal data: keep enough to tell two people apart at a
glance, never enough to contact or identify them.
"""
from __future__ import annotations

import re

MASK = "*"
PETITIONER_FIELDS = ("name", "id_number", "phone", "address")

# ---------------------------------------------------------------- who reads personal data in full

# The tasks whose holder contacts the petitioner are declared in processes/meanings.yaml (contacts_petitioner).
# Signing, deciding on acceptance, co-unit opinions, approvals, sign-off and the joint-meeting tiers work from the
# file: masked.
# The roles of the reception desks that register petitions in person (the administrator's own registrations of
# trial cases do not count: an administrator reads personal data masked).
REGISTERING_ROLES = frozenset({"registrar", "county_office", "bureau"})


def sees_in_full(*, registered_it: bool, registering_role: bool, holds_contact_task: bool) -> bool:
    """The rule (see the module's docstring): the registrar of the case, or the holder of an open contact task."""
    return (registered_it and registering_role) or holds_contact_task



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
    if MASK in text:  # masked already (the masked copy a case keeps of a party's phone): masking again keeps it
        return text
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


# ---------------------------------------------------------------- any data: the masked view of a case

# Field names that hold personal contact data at any depth of case data, and the records that hold a person.
PERSONAL_KEYS = frozenset({"id_number", "phone", "address", "mobile", "id_card", "query_code"})
PERSON_RECORDS = frozenset({"petitioner", "petitioners"})
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_QUERY_CODE = re.compile(r"(查询码[：:\s]*)([0-9A-Z]{2})([0-9A-Z]{4,})")


def mask_text(text: str) -> str:
    """Free text (a note, a title, a reason) with mobile numbers, ID numbers and query codes inside it masked."""
    text = _ID_NUMBER.sub(lambda m: m.group(1) + MASK * 8 + m.group(3), text)
    text = _QUERY_CODE.sub(lambda m: m.group(1) + m.group(2) + MASK * 8, text)
    return _MOBILE.sub(lambda m: f"{m.group(1)}{MASK * 4}{m.group(3)}", text)


# ---------------------------------------------------------------- contact addresses in listings and logs

_EMAIL = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")
_ANY_MOBILE = re.compile(r"(?<!\d)(\+?86)?(1\d{2})\d{4}(\d{4})(?!\d)")


def mask_contact_text(text: str | None) -> str | None:
    """Text that may quote an e-mail address or a mobile number (an outbox recipient, an SMTP refusal, a gateway
    error): `a***@x.cn`, `138****0000` (`+86` kept). Everything else is left as it is."""
    if not text:
        return text
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _ANY_MOBILE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(3)}", text)


def mask_recipient(channel: str, recipient: str) -> str:
    """An outbox row's recipient as listings show it: staff account names (in-app) as they are, phone numbers and
    e-mail addresses masked, anything else cut to its first character."""
    if channel == "inapp":
        return recipient  # a staff account name, not personal contact data
    if recipient.startswith("party:"):  # a petitioner named by party reference (services/parties.py)
        return "信访人"
    if _EMAIL.search(recipient) or _ANY_MOBILE.search(recipient):
        return mask_contact_text(recipient) or ""
    return recipient[:1] + "***" if len(recipient) > 1 else "***"


def _mask_field(key: str, value):
    if value is None or value == "":
        return value
    if key in ("phone", "mobile"):
        return mask_phone(value)
    if key in ("id_number", "id_card"):
        return mask_id_number(value)
    if key == "query_code":  # the petitioner's key to the public progress page
        return str(value)[:2] + MASK * 8
    return mask_address(value)


def mask_personal_data(value, key: str | None = None, in_person: bool = False):
    """A copy of `value` (case data, a case view, journal entries, a notice's fields) with petitioners' personal
    data masked wherever it appears: by field name at any depth, names inside a petitioner record, and mobile or
    ID numbers inside free text."""
    if isinstance(value, dict):
        inner = in_person or key in PERSON_RECORDS
        return {k: (_mask_field(k, v) if k in PERSONAL_KEYS and not isinstance(v, (dict, list))
                    else mask_name(v) if inner and k == "name" and isinstance(v, str)
                    else mask_personal_data(v, k, inner)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_personal_data(v, key, in_person) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value
