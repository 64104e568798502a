"""The desk's case search (案件查询): by case number, petitioner name, phone or ID number, title words, the unit
that handles or handled the case, and the registration period, always within what the caller may see.

Personal data is never stored to be searched in plain text: names, phones and ID numbers are looked up by their
keyed digests (services.index_key; the table `petitioner_key`, kinds `id`, `phone` and `name`), so a name is
found only when typed in full. What the query was taken for is returned (`matched_by`), so the web layer can
access-log every search by personal data.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import exists, func, or_, select, text
from sqlalchemy.orm import defer

from engine.clock import SHANGHAI
from engine.store import Case, CaseText, WorkItem
from infra.accounts import Unit

from .case_lookup import case_seq, normal_case_no
from .index_key import IndexKey
from .registration import _norm_id, _norm_phone, name_digest
from .store.handling import PetitionerKey, RegistrationIndex

_ID_LIKE = re.compile(r"\d{15}|\d{17}[\dXx]")
_PHONE_LIKE = re.compile(r"\+?[\d\s-]{7,20}")
_NAME_LIKE = re.compile(r"[\u4e00-\u9fff·]{2,10}|[A-Za-z][A-Za-z .'-]{1,60}")
COUNT_CAP = 1000  # results are counted exactly up to here; beyond, the total says "more than COUNT_CAP"


@dataclass
class Query:
    text: str = ""
    unit: str = ""
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(cls, args) -> Query:
        """From request arguments (`q`, `unit`, `from`, `to`); a malformed date raises ValueError naming it."""
        def day(name):
            raw = (args.get(name) or "").strip()
            if not raw:
                return None
            try:
                return date.fromisoformat(raw)
            except ValueError:
                raise ValueError(f"{name}：请按“年-月-日”填写日期，如 2026-03-02") from None
        return cls((args.get("q") or "").strip()[:200], (args.get("unit") or "").strip()[:64], day("from"), day("to"))


@dataclass
class Found:
    total: int
    rows: list[dict]
    more: bool = False  # more than `total` (= COUNT_CAP) cases match: the count stopped there
    matched_by: set[str] = field(default_factory=set)  # "id", "phone", "name" whose digest names some case
    tried: set[str] = field(default_factory=set)  # the kinds of personal data the text was looked up as

    @property
    def personal(self) -> bool:
        return bool(self.matched_by)


def _units_under(s, code: str) -> list[str]:
    units = dict(s.execute(select(Unit.code, Unit.parent_code)).all())
    out, frontier = {code}, {code}
    while frontier:
        frontier = {c for c, parent in units.items() if parent in frontier and c not in out}
        out |= frontier
    return sorted(out)


def _start(d: date) -> datetime:
    return datetime.combine(d, time.min, SHANGHAI)


def _text_conditions(s, text: str, key: IndexKey) -> tuple[list, set[str], set[str]]:
    """The ways `text` can name a case (any one suffices), the kinds of personal data it was looked up as, and
    those whose digest names some case."""
    conds, matched = [], set()
    compact = re.sub(r"\s", "", text)
    if compact.upper().startswith("XF"):
        number = normal_case_no(text)
        conds += [RegistrationIndex.case_no.ilike(f"%{number}%"), Case.case_no.ilike(f"%{number}%")]
        seq = case_seq(number)
        if seq is not None:
            conds.append(Case.id == seq)
    digests = []
    if _ID_LIKE.fullmatch(compact):
        digests.append(("id", key.digest("id", _norm_id(compact))))
    if _PHONE_LIKE.fullmatch(text) and len(_norm_phone(text)) >= 7:
        digests.append(("phone", key.digest("phone", _norm_phone(text))))
    if _NAME_LIKE.fullmatch(text):
        digests.append(("name", name_digest(text, key)))
    for kind, digest in digests:
        of_kind = (PetitionerKey.kind == kind) & (PetitionerKey.digest == digest)
        ids = list(s.scalars(select(PetitionerKey.case_id).where(of_kind).limit(COUNT_CAP + 1)))
        if ids:
            matched.add(kind)
            conds.append(Case.id.in_(ids))
    conds.append(Case.id.in_(_with_words(s, [w for w in re.split(r"\s+", text) if w][:5])))
    return conds, {kind for kind, _ in digests}, matched


def _with_words(s, words: list[str]):
    """The ids of the cases whose words (engine.store.CaseText: title, channel, category, registered title)
    contain every one of `words`, ignoring case. Through the text index of migration 0021: on SQLite the FTS5
    trigram table for words of three characters or more (it finds nothing for shorter ones: these are checked on
    the rows it finds, or on the whole narrow table when every word is short), on PostgreSQL the pg_trgm GIN
    index under ILIKE."""
    def pattern(w: str) -> str:
        return "%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    q = select(CaseText.case_id).where(*[CaseText.body.ilike(pattern(w), escape="\\") for w in words])
    indexed = [w for w in words if len(w) >= 3 and not set(w) & set("%_\\")]  # FTS5 takes no ESCAPE
    if s.get_bind().dialect.name == "sqlite" and indexed and _has_fts(s):
        fts = text("SELECT rowid FROM case_text_fts WHERE " + " AND ".join(
            f"body LIKE :w{i}" for i in range(len(indexed))))
        q = q.where(CaseText.case_id.in_(fts.bindparams(**{f"w{i}": f"%{w}%" for i, w in enumerate(indexed)})
                                         .columns(rowid=CaseText.case_id.type)))
    return q


_FTS: dict[str, bool] = {}


def _has_fts(s) -> bool:
    """Whether the SQLite database has the FTS5 table of migration 0021 (asked once per database file)."""
    url = str(s.get_bind().url)
    if url not in _FTS:
        _FTS[url] = s.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'case_text_fts'")).first() is not None
    return _FTS[url]


def search(s, q: Query, visible, key: IndexKey, page: int = 1, page_size: int = 20) -> Found:
    """Cases `visible` (the caller's condition on Case) that match every part of `q`, newest first."""
    stmt = select(Case, RegistrationIndex.case_no, RegistrationIndex.petitioner_masked) \
        .options(defer(Case.state), defer(Case.pause_reason)) \
        .outerjoin(RegistrationIndex, RegistrationIndex.case_id == Case.id).where(visible)
    tried: set[str] = set()
    matched: set[str] = set()
    if q.text:
        conds, tried, matched = _text_conditions(s, q.text, key)
        stmt = stmt.where(or_(*conds))
    if q.unit:
        under = _units_under(s, q.unit)
        stmt = stmt.where(or_(exists().where(WorkItem.case_id == Case.id, WorkItem.unit.in_(under)),
                              RegistrationIndex.location.in_(under)))
    if q.since:
        stmt = stmt.where(Case.created_at >= _start(q.since))
    if q.until:
        stmt = stmt.where(Case.created_at < _start(q.until + timedelta(days=1)))
    total = s.scalar(select(func.count()).select_from(
        stmt.with_only_columns(Case.id).limit(COUNT_CAP + 1).subquery())) or 0
    rows = s.execute(stmt.order_by(Case.id.desc()).limit(page_size).offset((max(page, 1) - 1) * page_size)).all()
    return Found(min(total, COUNT_CAP), [{"case": case, "summary": json.loads(case.summary_json or "{}"),
                                          "case_no": no or case.case_no, "petitioner": pet or ""}
                                         for case, no, pet in rows],
                 matched, tried, more=total > COUNT_CAP)
