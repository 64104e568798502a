"""Finding cases by what people type: a case number as typed (normalised), the case numbers of cases (the column,
or the number the registration step wrote), the cases a number or id names. Read models for the audit pages,
the public query, the rate limits and the CLI."""
from __future__ import annotations

import json
import re
import unicodedata

from sqlalchemy import func, or_, select

from engine.store import Case, JournalEvent
from services import case_numbers as numbering


def normal_case_no(case_no: str) -> str:
    """A case number as typed, in the one form it is looked up and counted by: full-width characters made
    half-width (NFKC), spaces anywhere dropped, letters upper case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", case_no or "")).upper()


_CASE_NO = re.compile(r"XF\d{6}\d{8}\d{2}(\d{6})")


def case_numbers(s, ids: list[int]) -> dict[int, str]:
    """The case number of each case: the column when set at start, else the number the registration step wrote
    into the case data (found in its journal: a completed step whose changes set `case_no`)."""
    found = {i: n for i, n in s.execute(select(Case.id, Case.case_no).where(Case.id.in_(ids))) if n}
    missing = [i for i in ids if i not in found]
    if missing:
        rows = s.execute(select(JournalEvent.case_id, JournalEvent.data).where(
            JournalEvent.case_id.in_(missing), JournalEvent.type == "task.completed",
            JournalEvent.data.contains('"case_no":[')).order_by(JournalEvent.seq))
        for case_id, data in rows:
            value = ((json.loads(data).get("changes") or {}).get("case_no") or [None, None])[1]
            if isinstance(value, str) and value:
                found[case_id] = value
    return found


def find_cases(s, given: str, keys=()) -> list[int]:
    """Case ids for a case number (XF…; `keys` from services.case_numbers.keys_for, to find numbers of the
    current scheme) or an id."""
    given = given.strip()
    m = _CASE_NO.fullmatch(given.upper())
    if m:
        highest = s.scalar(select(func.max(Case.id))) or 0
        candidates = numbering.candidate_ids(given.upper(), keys, highest)
        numbers = case_numbers(s, candidates)
        return [i for i in candidates if numbers.get(i) == given.upper()]
    hits = list(s.scalars(select(Case.id).where(Case.case_no == given)))
    if given.isdigit() and s.get(Case, int(given)) is not None and int(given) not in hits:
        hits.append(int(given))
    return hits


def case_seq(text: str) -> int | None:
    """The case id a number of the current scheme names (its last six digits), else None."""
    m = _CASE_NO.fullmatch(text.upper())
    return int(m.group(1)) if m else None


def audit_cases(s, text: str, visible, keys=(), limit: int = 50) -> list[dict]:
    """The auditors' case list: cases `visible` (the caller's condition on Case), last changed first, those a
    case number or id in `text` names or whose number contains it; each with its case number and event count."""
    query = select(Case).where(visible).order_by(Case.updated_at.desc(), Case.id.desc()).limit(limit)
    if text:
        query = query.where(or_(Case.id.in_(find_cases(s, text, keys)), Case.case_no.ilike(f"%{text}%")))
    rows = list(s.scalars(query))
    numbers = case_numbers(s, [r.id for r in rows])
    return [{"id": r.id, "case_no": numbers.get(r.id), "process_key": r.process_key, "status": r.status,
             "updated_at": r.updated_at, "events": r.last_seq} for r in rows]
