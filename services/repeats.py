"""Likely repeats of a petition (重复信访): same petitioner (ID number or phone), or same place and category with
similar wording, within the last 12 months. Pure functions; the registration service feeds them index rows.

Text similarity is the Dice coefficient of character bigrams after dropping punctuation and spaces. Chinese has
no word boundaries, and bigrams are what a reader notices: "拖欠工资" and "欠发工资" share "工资". Measured on the
examples in tests/unit/test_repeats.py: four rewordings of the same complaint score 0.54-0.77, four different
matters of the same category 0.00-0.08; SIMILAR = 0.4 sits between them with room on both sides.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

SIMILAR = 0.4
WINDOW_MONTHS = 12
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def bigrams(text: str) -> list[str]:
    clean = _NOISE.sub("", text or "").lower()
    if len(clean) < 2:
        return [clean] if clean else []
    return [clean[i:i + 2] for i in range(len(clean) - 1)]


def similarity(a: str, b: str) -> float:
    """Dice coefficient over character bigrams (multiset), 0..1."""
    x, y = bigrams(a), bigrams(b)
    if not x or not y:
        return 0.0
    counts: dict[str, int] = {}
    for g in x:
        counts[g] = counts.get(g, 0) + 1
    common = 0
    for g in y:
        if counts.get(g, 0) > 0:
            counts[g] -= 1
            common += 1
    return 2 * common / (len(x) + len(y))


def window_start(now: datetime) -> datetime:
    """The same instant 12 months earlier (29 February falls back to the 28th)."""
    year, month = now.year, now.month - WINDOW_MONTHS
    while month < 1:
        month += 12
        year -= 1
    day = now.day
    while True:
        try:
            return now.replace(year=year, month=month, day=day)
        except ValueError:
            day -= 1


@dataclass
class Candidate:
    case_id: int
    case_no: str | None
    title: str
    registered_at: datetime
    location: str
    category: str
    petitioner: str  # masked
    similarity: float
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0


def judge(new: dict, row, same_id: bool, same_phone: bool) -> Candidate | None:
    """A candidate when it is the same petitioner, or the same place and category with similar wording."""
    text_new = f"{new.get('title', '')} {new.get('request', '')}"
    sim = round(similarity(text_new, f"{row.title} {row.request}"), 3)
    same_place = bool(new.get("location")) and row.location == new.get("location") and \
        row.category == new.get("category")
    reasons = []
    if same_id:
        reasons.append("同一证件号码")
    if same_phone:
        reasons.append("同一联系电话")
    if same_place:
        reasons.append("同一问题发生地和内容分类")
    if sim >= SIMILAR:
        reasons.append(f"诉求相似（{sim:.0%}）")
    if not (same_id or same_phone or (same_place and sim >= SIMILAR)):
        return None
    score = 0.5 * (same_id or same_phone) + 0.2 * same_place + 0.3 * sim
    return Candidate(row.case_id, row.case_no, row.title, row.registered_at, row.location, row.category,
                     row.petitioner_masked, sim, reasons, round(score, 3))
