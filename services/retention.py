"""Retention and erasure of personal data (issue #23, point 6).

`processes/retention.yaml` says how many whole years (1..100) after its closure a case keeps its parties' personal
data: `default_years`, and per first-level content category (processes/categories.yaml) under `categories`. The
file is checked when it is loaded (`load`), that is at every `lianxin retention run` and in the tests: a
malformed number or an unknown category is refused naming its row, and nothing is erased then.

Erasure is crypto-shredding: the case file's data key (infra/keys.py) is deleted, so its parties' sealed fields
and every attachment sealed under that key can no longer be opened by anyone. The case, its journal (which holds
references and masked values only), its statistics and its verification are untouched. Each erasure is one row
of `erasure` (the rule, the years, when, who) and one event of kind `erasure` in the security log. An open case is
never erased; a case is erased once.
"""
from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.store import Case
from infra import security_log
from infra.driver_reads import DriverSelect
from infra.keys import DataKey

from .store.erasures import Erasure
from .store.parties import Party

MIN_YEARS, MAX_YEARS = 1, 100
CLOSED = "completed"


class RetentionProblem(ValueError):
    """processes/retention.yaml is malformed; the message names the row."""


@dataclass(frozen=True)
class Rules:
    default_years: int
    by_category: dict[str, int]

    def years_for(self, category: str | None) -> tuple[int, str]:
        """(years, the rule as text) for a case of `category`."""
        if category and category in self.by_category:
            years = self.by_category[category]
            return years, f"{category}：办结后 {years} 年（{category}: {years} years after closure）"
        return self.default_years, (f"默认：办结后 {self.default_years} 年"
                                    f"（default: {self.default_years} years after closure）")


@dataclass(frozen=True)
class Due:
    case_id: int
    case_no: str
    category: str
    closed_at: datetime
    years: int
    rule: str


def _years(value, row: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_YEARS <= value <= MAX_YEARS:
        raise RetentionProblem(f"retention.yaml 第 {row} 项：年数必须是 {MIN_YEARS}..{MAX_YEARS} 的整数，而不是 "
                               f"{value!r}（{row}: years must be a whole number {MIN_YEARS}..{MAX_YEARS}）")
    return value


def known_categories(processes_dir: Path) -> set[str]:
    data = yaml.safe_load((processes_dir / "categories.yaml").read_text(encoding="utf-8")) or {}
    return {c["name"] for c in data.get("categories") or [] if isinstance(c, dict) and c.get("name")}


def parse(text: str, categories: set[str]) -> Rules:
    """The rules of a retention.yaml text, checked against the first-level `categories`."""
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise RetentionProblem("retention.yaml 必须是映射（retention.yaml must be a mapping）")
    default = _years(data.get("default_years"), "default_years")
    rows = data.get("categories") or {}
    if not isinstance(rows, dict):
        raise RetentionProblem("retention.yaml 的 categories 必须是“分类: 年数”的映射（categories: name: years）")
    by_category = {}
    for name, years in rows.items():
        if name not in categories:
            raise RetentionProblem(f"retention.yaml 第 categories.{name} 项：未知的内容分类 {name!r}，应为 "
                                   f"categories.yaml 的第一级分类（unknown category {name!r} in row "
                                   f"categories.{name}）")
        by_category[name] = _years(years, f"categories.{name}")
    return Rules(default, by_category)


def load(processes_dir: Path) -> Rules:
    path = Path(processes_dir) / "retention.yaml"
    return parse(path.read_text(encoding="utf-8"), known_categories(Path(processes_dir)))


def add_years(at: datetime, years: int) -> datetime:
    """`at` plus whole calendar years (29 February becomes 28 February in a common year)."""
    year = at.year + years
    day = min(at.day, calendar.monthrange(year, at.month)[1])
    return at.replace(year=year, day=day)


def _key_refs(s: Session, case_id: int) -> set[str]:
    """The existing data keys of the case's parties; a key another case's parties also use is never destroyed
    (one key per case file is the rule; this guards against a case that broke it)."""
    refs = set(s.scalars(select(Party.key_ref).where(Party.case_id == case_id)))
    if not refs:
        return set()
    shared = set(s.scalars(select(Party.key_ref).where(Party.key_ref.in_(sorted(refs)), Party.case_id != case_id)))
    return set(s.scalars(select(DataKey.ref).where(DataKey.ref.in_(sorted(refs - shared)))))


def due(s: Session, now: datetime, rules: Rules) -> list[Due]:
    """Closed cases whose closure plus their rule's years is not after `now` and whose data key still exists."""
    with_keys = (select(Party.case_id).join(DataKey, DataKey.ref == Party.key_ref)
                 .where(Party.case_id.is_not(None)).distinct())
    cases = s.scalars(select(Case).where(Case.status == CLOSED, Case.completed_at.is_not(None),
                                         Case.id.in_(with_keys)).order_by(Case.id))
    out = []
    for case in cases:
        category = json.loads(case.summary_json or "{}").get("category") or ""
        years, rule = rules.years_for(category)
        if add_years(case.completed_at, years) <= now:
            out.append(Due(case.id, case.case_no or "", category, case.completed_at, years, rule))
    return out


def erase(s: Session, case_id: int, rule: str, years: int, actor: str, now: datetime) -> bool:
    """Destroy the data key of closed case `case_id` and record it (in the caller's transaction). False when
    there is nothing to erase: the case is not closed, was erased already, or has no data key left."""
    case = s.get(Case, case_id)
    if case is None or case.status != CLOSED or s.scalar(select(Erasure.id).where(Erasure.case_id == case_id)):
        return False
    refs = _key_refs(s, case_id)
    if not refs:
        return False
    for ref in sorted(refs):
        s.delete(s.get(DataKey, ref))
    s.add(Erasure(case_id=case_id, rule=rule, years=years, erased_at=now, actor=actor))
    security_log.append_in(s, at=now, actor=actor, kind="erasure",
                           detail={"case_id": case_id, "case_no": case.case_no or "", "rule": rule, "years": years,
                                   "data_keys": len(refs)})
    return True


# Built once, run through the driver (infra/driver_reads.py): every case view asks
_ERASURE_OF = DriverSelect(select(Erasure.rule, Erasure.years, Erasure.erased_at, Erasure.actor)
                           .where(Erasure.case_id == bindparam("case_id")))


def erasure_of(s: Session, case_id: int) -> dict | None:
    """What the case page and the API say about an erased case: the rule and the date; None if not erased."""
    rows = _ERASURE_OF.rows(s, {"case_id": case_id})
    if not rows:
        return None
    row = rows[0]
    return {"rule": row.rule, "years": row.years, "erased_at": row.erased_at.isoformat(), "actor": row.actor}
