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

from sqlalchemy import column, exists, or_, select, table, text
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


def _other_ways(s, text: str, key: IndexKey) -> tuple[list, set[str], set[str]]:
    """The ways `text` can name a case other than by its words (any one suffices): its number, or a digest of a
    petitioner's ID number, phone or name; the kinds of personal data it was looked up as, and those whose digest
    names some case."""
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
        ids = list(s.scalars(select(PetitionerKey.case_id).where(of_kind)))
        if ids:
            matched.add(kind)
            conds.append(Case.id.in_(ids))
    return conds, {kind for kind, _ in digests}, matched


def _pattern(w: str) -> str:
    return "%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_FTS_TABLE = table("case_text_fts", column("rowid"), column("body"))


def _with_words(s, base, words: list[str]):
    """`base` (a query of Case.id) narrowed to the cases whose words (engine.store.CaseText: title, channel,
    category, registered title) contain every one of `words`, ignoring case, newest first. Through the text
    index of migration 0021: on SQLite the FTS5 trigram table, read newest first, so that a word most cases have
    stops after the page and the count's cap (it finds nothing for words under three characters: these are
    checked on the narrow table, as on a database without the FTS5 table); on PostgreSQL the pg_trgm GIN index
    under ILIKE, or the narrow table read newest first, as the planner finds cheaper."""
    indexed = [w for w in words if len(w) >= 3 and not set(w) & set("%_\\")]  # FTS5 takes no ESCAPE
    rest = [w for w in words if w not in indexed]
    if s.get_bind().dialect.name == "sqlite" and indexed and _has_fts(s):
        q = base.join(_FTS_TABLE, _FTS_TABLE.c.rowid == Case.id) \
            .where(*[_FTS_TABLE.c.body.like(f"%{w}%") for w in indexed]).order_by(_FTS_TABLE.c.rowid.desc())
    else:
        q, rest = base.order_by(Case.id.desc()), words
    if rest:
        q = q.join(CaseText, CaseText.case_id == Case.id) \
            .where(*[CaseText.body.ilike(_pattern(w), escape="\\") for w in rest])
    return q


_FTS: dict[str, bool] = {}


def _has_fts(s) -> bool:
    """Whether the SQLite database has the FTS5 table of migration 0021 (asked once per database file)."""
    url = str(s.get_bind().url)
    if url not in _FTS:
        _FTS[url] = s.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'case_text_fts'")).first() is not None
    return _FTS[url]


def _filtered(s, q: Query, visible):
    """The ids of the cases `visible` that match the unit and the dates of `q` (not yet its text)."""
    base = select(Case.id).outerjoin(RegistrationIndex, RegistrationIndex.case_id == Case.id).where(visible)
    if q.unit:
        under = _units_under(s, q.unit)
        base = base.where(or_(exists().where(WorkItem.case_id == Case.id, WorkItem.unit.in_(under)),
                              RegistrationIndex.location.in_(under)))
    if q.since:
        base = base.where(Case.created_at >= _start(q.since))
    if q.until:
        base = base.where(Case.created_at < _start(q.until + timedelta(days=1)))
    return base


def search(s, q: Query, visible, key: IndexKey, page: int = 1, page_size: int = 20) -> Found:
    """Cases `visible` (the caller's condition on Case) that match every part of `q`, newest first. Counted up to
    COUNT_CAP (then `more`). Each way the text can name a case is asked apart, newest first and only as far as
    the count's cap or the page needs (issue #21: a word most of 100,000 cases have must not read them all, a
    name must not read the words of all), and the ids are merged."""
    offset = (max(page, 1) - 1) * page_size
    need = max(COUNT_CAP + 1, offset + page_size)
    base = _filtered(s, q, visible)
    tried: set[str] = set()
    matched: set[str] = set()
    if q.text:
        others, tried, matched = _other_ways(s, q.text, key)
        words = [w for w in re.split(r"\s+", q.text) if w][:5]
        queries = [_with_words(s, base, words)] + ([base.where(or_(*others)).order_by(Case.id.desc())]
                                                   if others else [])
    else:
        queries = [base.order_by(Case.id.desc())]
    ids = sorted({i for query in queries for i in s.scalars(query.limit(need))}, reverse=True)
    return Found(min(len(ids), COUNT_CAP), _rows(s, ids[offset:offset + page_size]),
                 matched_by=matched, tried=tried, more=len(ids) > COUNT_CAP)


def _rows(s, ids: list[int]) -> list[dict]:
    """The page's cases in the order of `ids`, with their case number and masked petitioners."""
    if not ids:
        return []
    found = {case.id: (case, no, pet) for case, no, pet in s.execute(
        select(Case, RegistrationIndex.case_no, RegistrationIndex.petitioner_masked)
        .options(defer(Case.state), defer(Case.pause_reason))
        .outerjoin(RegistrationIndex, RegistrationIndex.case_id == Case.id).where(Case.id.in_(ids)))}
    return [{"case": case, "summary": json.loads(case.summary_json or "{}"), "case_no": no or case.case_no,
             "petitioner": pet or ""} for case, no, pet in (found[i] for i in ids)]
