"""Registration of a petition at the reception desk (登记): the start data of `petition_case`, the category tree,
likely repeats, and merging a repeat into the original case through the process's own repeat path.

The case number and query code are issued by the process (its numbering step, services.casework); this module
only shapes what the registrar entered, and indexes it for later repeat searches. ID numbers and phones go into
the index as keyed digests only (services.index_key: HMAC-SHA256, or HMAC-SM3 under LIANXIN_CRYPTO=gm, with a
key derived from the deployment's secret key); digests of another key (another secret key or another suite) are
recomputed on the next search (`rekey`). The people themselves are sealed in the party table (services/parties.py):
the case data keeps references and masked values, so the index is made from the plain values the registration
had (`index_started`), and a re-key opens the parties through the runtime's vault port.
"""
from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from engine.store import Case, CaseText, case_text_body
from services.store.handling import PetitionerKey, RegistrationIndex

from . import element_meanings, parties, repeat_originals, suggestions
from .identity_checks import Problem
from .index_key import IndexKey
from .masking import mask_name
from .repeats import Candidate, judge, window_start

PROCESS = "petition_case"
MAX_REPRESENTATIVES = 5
START_FIELDS = ("channel", "title", "request", "facts", "category", "subcategory", "location", "respondent",
                "nature", "is_group_or_policy", "receiving_leader", "upstream_case_no", "group_visit",
                "visitors_count", "respondent_level", "cadre_selection")


# ---------------------------------------------------------------- the category tree

@dataclass(frozen=True)
class Category:
    name: str
    children: tuple[str, ...]


def load_categories(path: Path) -> list[Category]:
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return [Category(str(c["name"]), tuple(str(x) for x in c.get("children", []))) for c in doc.get("categories", [])]


def category_problems(categories: list[Category], category: str, subcategory: str | None) -> list[Problem]:
    """Message ids with their fields (services/identity_checks.Problem): the web layer shows them translated."""
    by_name = {c.name: c for c in categories}
    if category not in by_name:
        return [Problem("category", "内容分类“%(category)s”不在分类表中，请从列表中选择", {"category": category})]
    if subcategory and subcategory not in by_name[category].children:
        return [Problem("subcategory", "问题类别“%(subcategory)s”不属于“%(category)s”，请从列表中选择",
                        {"subcategory": subcategory, "category": category})]
    return []


# ---------------------------------------------------------------- start data

def process_for(form: dict) -> str:
    """The process a registration starts: 人民建议征集 (`suggestion`) for the nature 建议意见, on every channel;
    the petition process otherwise."""
    return suggestions.process_for(form, PROCESS)


def start_data(form: dict, registering_unit: str) -> dict:
    """The process's start data from a validated registration. The first petitioner is also `petitioner`, the
    one the notices go to (receipt with the query code, reply)."""
    data = {k: form[k] for k in START_FIELDS if k in form and form[k] not in (None, "")}
    petitioners = [dict(p) for p in form.get("petitioners") or [] if isinstance(p, dict)]
    if not petitioners and isinstance(form.get("petitioner"), dict):
        petitioners = [dict(form["petitioner"])]
    data["petitioners"] = petitioners
    if petitioners:
        data["petitioner"] = petitioners[0]
    if data.get("group_visit"):
        data["is_group_or_policy"] = True
    data["registering_unit"] = registering_unit
    return data


def group_problems(form: dict) -> list[Problem]:
    """集体访推选代表不超过5人 — also in the schema; checked here so the API says it in the office's words."""
    if form.get("group_visit") and len(form.get("petitioners") or []) > MAX_REPRESENTATIVES:
        return [Problem("petitioners", "集体访应推选不超过%(n)s名代表，请删去多余的信访人", {"n": MAX_REPRESENTATIVES})]
    return []


# ---------------------------------------------------------------- the index

def _norm_id(value) -> str:
    return re.sub(r"\s", "", str(value or "")).upper()


def _norm_phone(value) -> str:
    digits = re.sub(r"\D", "", str(value or ""))
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def person_keys(data: dict, key: IndexKey) -> set[tuple[str, str]]:
    """(kind, keyed digest) of each petitioner's ID number and phone, normalised first."""
    people = list(data.get("petitioners") or [])
    if isinstance(data.get("petitioner"), dict):
        people.append(data["petitioner"])
    keys = set()
    for p in people:
        if not isinstance(p, dict):
            continue
        if _norm_id(p.get("id_number")):
            keys.add(("id", key.digest("id", _norm_id(p["id_number"]))))
        if len(_norm_phone(p.get("phone"))) >= 7:
            keys.add(("phone", key.digest("phone", _norm_phone(p["phone"]))))
    return keys


def _norm_name(value) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip().casefold()


def name_digest(name: str, key: IndexKey) -> str:
    """The keyed digest a petitioner's full name is searched by (never the name itself)."""
    return key.digest("name", _norm_name(name))


def search_keys(data: dict, key: IndexKey) -> set[tuple[str, str]]:
    """What the case search finds a case by: the repeat keys (ID number, phone) and each petitioner's name."""
    people = list(data.get("petitioners") or [])
    if isinstance(data.get("petitioner"), dict):
        people.append(data["petitioner"])
    names = {("name", name_digest(p["name"], key)) for p in people if isinstance(p, dict) and _norm_name(p.get("name"))}
    return person_keys(data, key) | names


def _masked_names(data: dict) -> str:
    people = data.get("petitioners") or ([data["petitioner"]] if isinstance(data.get("petitioner"), dict) else [])
    return "、".join(mask_name(p.get("name")) for p in people if isinstance(p, dict) and p.get("name"))[:250]


def index_case(s, case_id: int, data: dict, registered_at: datetime, key: IndexKey) -> None:
    s.add(RegistrationIndex(case_id=case_id, case_no=data.get("case_no"), registered_at=registered_at,
                            channel=str(data.get("channel") or ""), location=str(data.get("location") or ""),
                            category=str(data.get("category") or ""), title=str(data.get("title") or "")[:256],
                            request=str(data.get("request") or ""), petitioner_masked=_masked_names(data)))
    for kind, digest in sorted(search_keys(data, key)):
        s.add(PetitionerKey(case_id=case_id, kind=kind, digest=digest, key_id=key.key_id))
    _note_title(s, case_id, str(data.get("title") or "")[:256])


def _note_title(s, case_id: int, title: str) -> None:
    """The case search finds the case by its registered title too (engine.store.CaseText)."""
    row = s.get(CaseText, case_id)
    if row is None:
        s.add(CaseText(case_id=case_id, body=case_text_body({}, title)))
    elif title and title not in row.body:
        row.body += "\n" + title


def _plain_data(s, runtime, case: Case, vault) -> dict:
    """The case data with its parties' plain fields (services/parties.py) where a vault opens them."""
    data = runtime.case_data(s, case)
    vault = vault or parties.vault_of(runtime)
    return parties.resolve_case(s, vault, case.id, data) if vault is not None else data


def index_missing(session_factory, runtime, since: datetime, key: IndexKey, vault=None) -> int:
    """Index petition cases registered since `since` some other way (SMS, demo data, an interrupted request)."""
    with session_factory() as s:
        missing = list(s.scalars(select(Case).where(
            Case.process_key == PROCESS, Case.created_at >= since,
            ~Case.id.in_(select(RegistrationIndex.case_id))).order_by(Case.id).limit(500)))
        done = 0
        for case in missing:
            data = _plain_data(s, runtime, case, vault)
            try:
                with s.begin_nested():
                    index_case(s, case.id, data, case.created_at, key)
                done += 1
            except IntegrityError:  # indexed meanwhile by another request
                continue
        s.commit()
    return done


_REKEYED: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()  # session factory -> key id


def rekey(session_factory, runtime, key: IndexKey, batch: int = 200, vault=None) -> int:
    """Recompute the digests written with another key (or before keying, key_id NULL) from the case data, so a
    changed secret key does not hide repeats. Returns the number of cases re-keyed. Once a process has found
    nothing stale for its key it does not look again: it only ever writes digests of that key."""
    if _REKEYED.get(session_factory) == key.key_id:
        return 0
    stale = or_(PetitionerKey.key_id.is_(None), PetitionerKey.key_id != key.key_id)
    done, after = 0, 0
    while True:
        with session_factory() as s:
            ids = list(s.scalars(select(PetitionerKey.case_id).where(stale, PetitionerKey.case_id > after)
                                 .distinct().order_by(PetitionerKey.case_id).limit(batch)))
            if not ids:
                break
            for case_id in ids:
                case = s.get(Case, case_id)
                s.execute(delete(PetitionerKey).where(PetitionerKey.case_id == case_id, stale))
                have = {(kind, digest) for kind, digest in s.execute(select(PetitionerKey.kind, PetitionerKey.digest)
                        .where(PetitionerKey.case_id == case_id, PetitionerKey.key_id == key.key_id))}
                for kind, digest in sorted(search_keys(_plain_data(s, runtime, case, vault), key) - have):
                    s.add(PetitionerKey(case_id=case_id, kind=kind, digest=digest, key_id=key.key_id))
            s.commit()
            done, after = done + len(ids), ids[-1]
    _REKEYED[session_factory] = key.key_id
    return done


_NAMES_INDEXED: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


def index_names(session_factory, runtime, key: IndexKey, batch: int = 200, vault=None) -> int:
    """Add the name digests of cases indexed before names were searchable (a case with petitioners but no `name`
    row). Once per process and key, like `rekey`. Returns the number of cases completed."""
    if _NAMES_INDEXED.get(session_factory) == key.key_id:
        return 0
    has_name = select(PetitionerKey.case_id).where(PetitionerKey.kind == "name").scalar_subquery()
    done, after = 0, 0
    while True:
        with session_factory() as s:
            ids = list(s.scalars(select(RegistrationIndex.case_id).where(
                RegistrationIndex.petitioner_masked != "", RegistrationIndex.case_id > after,
                RegistrationIndex.case_id.not_in(has_name)).order_by(RegistrationIndex.case_id).limit(batch)))
            if not ids:
                break
            for case_id in ids:
                data = _plain_data(s, runtime, s.get(Case, case_id), vault)
                for kind, digest in sorted(k for k in search_keys(data, key) if k[0] == "name"):
                    s.add(PetitionerKey(case_id=case_id, kind=kind, digest=digest, key_id=key.key_id))
            s.commit()
            done, after = done + len(ids), ids[-1]
    _NAMES_INDEXED[session_factory] = key.key_id
    return done


# ---------------------------------------------------------------- repeats

def find_repeats(session_factory, runtime, form: dict, now: datetime, key: IndexKey, limit: int = 10,
                 exclude: set[int] | None = None, vault=None) -> list[Candidate]:
    since = window_start(now)
    rekey(session_factory, runtime, key, vault=vault)
    index_missing(session_factory, runtime, since, key, vault)
    keys = person_keys(form, key)
    with session_factory() as s:
        by_person: dict[int, set[str]] = {}
        if keys:
            for case_id, kind in s.execute(select(PetitionerKey.case_id, PetitionerKey.kind).where(
                    or_(*[(PetitionerKey.kind == k) & (PetitionerKey.digest == d) for k, d in keys]))):
                by_person.setdefault(case_id, set()).add(kind)
        cond = RegistrationIndex.case_id.in_(list(by_person)) if by_person else None
        if form.get("location") and form.get("category"):
            place = (RegistrationIndex.location == form["location"]) & \
                (RegistrationIndex.category == form["category"])
            cond = place if cond is None else or_(cond, place)
        if cond is None:
            return []
        rows = s.scalars(select(RegistrationIndex).where(RegistrationIndex.registered_at >= since, cond)
                         .order_by(RegistrationIndex.registered_at.desc()).limit(500)).all()
    out = []
    for row in rows:
        if exclude and row.case_id in exclude:
            continue
        kinds = by_person.get(row.case_id, set())
        c = judge(form, row, "id" in kinds, "phone" in kinds)
        if c is not None:
            out.append(c)
    out.sort(key=lambda c: (-c.score, -c.registered_at.timestamp()))
    return out[:limit]


def merge_into_original(runtime, view, original_id: int, actor: str):
    """登记时并入原件: the new case (already numbered) takes the process's repeat path, triage route 重复信访,
    naming the original case and its responsible unit so both the petitioner and that unit are told."""
    original = runtime.get_case(original_id)
    original_no = original.data.get("case_no")
    if not original_no:
        raise ValueError(f"原件 {original_id} 没有信访事项编号，不能并入；请先核对原件，或不并入而照常登记")
    triage = next((t for t in view.tasks if t.element_id in element_meanings.elements("triage")), None)
    if triage is None:
        raise ValueError("新登记的事项没有分流研判任务，不能并入原件；请在分流研判时选择“重复信访”")
    data = {"route": "重复信访", "original_case_no": original_no,
            "triage_note": f"登记时经查重并入原件 {original_no}"}
    with runtime.read_sessions() as s:
        problems = repeat_originals.triage_problems(s, runtime, view.id, view.data, data)
    if problems:
        raise ValueError(next(iter(problems.values())))
    return runtime.complete(triage.id, data, actor=actor, expected_version=view.version)


def candidate_json(c: Candidate, routed_out: dict | None = None) -> dict:
    """A likely repeat; `routed_out` (see `route_out_of`): the earlier case ended routed out to a statutory channel,
    so the registrar tells the petitioner again where to go instead of handling it as a petition."""
    reasons = list(c.reasons)
    if routed_out:
        reasons.append(f"原件已导入{routed_out['channel_name']}途径：请再次告知信访人依法向{routed_out['unit_name']}提出")
    return {"case_id": c.case_id, "case_no": c.case_no, "title": c.title, "registered_at": c.registered_at,
            "location": c.location, "category": c.category, "petitioner": c.petitioner,
            "similarity": c.similarity, "score": c.score, "reasons": reasons, "routed_out": routed_out}


def route_out_of(data: dict) -> dict | None:
    """The statutory channel an earlier case was routed out to (诉访分离 at triage, or 不予受理 at acceptance
    because the matter belongs to that channel), or None."""
    triaged = data.get("routed_out") if isinstance(data.get("routed_out"), dict) else {}
    if triaged.get("kind") == "诉讼":  # 诉访分离 (a version before the route-out list: litigation)
        return {"channel": triaged.get("channel") or "litigation",
                "channel_name": triaged.get("channel_name") or "诉讼", "unit_name": triaged.get("unit_name") or "",
                "at": triaged.get("at")}
    notice = data.get("acceptance_notice") if isinstance(data.get("acceptance_notice"), dict) else {}
    later = notice.get("route_out") if isinstance(notice.get("route_out"), dict) else None
    if later:
        return {k: later.get(k) for k in ("channel", "channel_name", "unit_name", "at")}
    return None


def candidates_json(runtime, found: list[Candidate]) -> list[dict]:
    """The candidates as JSON, each earlier routed-out case marked so the registrar can tell the petitioner again."""
    return [candidate_json(c, route_out_of(runtime.get_case(c.case_id).data or {})) for c in found]


def index_registration(session_factory, view, registered_at: datetime, key: IndexKey) -> None:
    with session_factory() as s, s.begin():
        index_started(s, view, {}, registered_at, key)


def index_started(s, view, plain: dict[str, dict], registered_at: datetime, key: IndexKey) -> None:
    """Index a case just started, in its own transaction `s`; `plain`: its parties' plain fields by reference
    (services.parties.seal_start_data), since the case data keeps them masked."""
    # A case started in this very transaction (services.parties.start_case) has no index row to look for.
    if parties.first_index_of_new_case(s, view.id) or s.get(RegistrationIndex, view.id) is None:
        index_case(s, view.id, parties.resolve(view.data, plain), registered_at, key)
