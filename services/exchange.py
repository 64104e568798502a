"""Exchange with the upstream petition information system (信访信息系统, 《信访工作条例》第二十一条): matters
transferred or assigned by the upstream office (转送/交办) come in, are checked and registered as cases; the cases'
status changes and documents go back. The format is docs/exchange.md and the JSON Schema
docs/exchange/inbound.schema.json.

In: one JSON document per matter, from the signed push (`POST /api/exchange/inbound`, web/exchange/) or a file
of the watched folder (`lianxin exchange poll DIR`, `poll_folder` here; the worker polls `LIANXIN_EXCHANGE_DIR`).
`check` lists a document's problems (schema, dates, category, location, attachments); `receive` registers a
valid one through the normal path (services/registration.py: start data, query code, sealed parties, the repeat
index), on channel 上级转交 with the upstream number (`upstream_case_no`) and the upstream's terms (`upstream`:
kind, office, deadline, period of a 交办), in one transaction with its `upstream_matter` row. The upstream number
is the idempotency key: a repeated push or file answers with the case it was registered as and changes nothing.

Out: `queue_reports` looks at the cases registered from upstream and queues, once each, a report for every new
status change (registered, dispatched, accepted, replied, rated, closed) in the outbox, channel `upstream`,
with the documents of the case that can be printed at that moment (petitioners' names masked). The deliverer
(infra/delivery.py) sends them through the upstream adapter (infra/upstream.py) with retries, backoff and dead
letters; an administrator resends dead letters from /admin/exchange.
"""
from __future__ import annotations

import base64
import binascii
import json
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from engine import bounded_json
from engine.clock import SHANGHAI
from engine.journal import to_json
from engine.store import Case, JournalEvent, Outbox
from services import (
    attachments,
    documents,
    incidents,
    masking,
    parties,
    portal,
    query_code,
    registration as reg,
    units as org_units,
)
from services.index_key import IndexKey
from services.public_progress import labels_by_element
from services.store.exchange import UpstreamMatter
from services.store.handling import RegistrationIndex

FORMAT = "lianxin-exchange/1"
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "exchange" / "inbound.schema.json"
CHANNEL = "上级转交"  # the registration's channel (信访形式) of a matter from upstream
OUTBOX_CHANNEL = "upstream"
RECIPIENT = "upstream"
TEMPLATE = "upstream_report"
ACTOR = "exchange"
KINDS = ("转送", "交办")
# what the upstream system is told, in order: the meaning of a completed task (processes/meanings.yaml) -> event
TASK_EVENTS = {"triage": "dispatched", "acceptance": "accepted", "handling": "replied", "rating": "rated"}
EVENT_LABELS = {"registered": "已登记", "dispatched": "已转送、交办责任单位", "accepted": "已作出受理决定",
                "replied": "已出具处理意见", "rated": "信访人已评价", "closed": "已办结",
                "withdrawn": "信访人撤回，已终止办理"}
ENDINGS = ("closed", "withdrawn")  # the last report of a case: once one is sent, nothing more is
MAX_FILE_BYTES = 256 * 1024 * 1024  # a file of the watched folder: 20 attachments of 8 MB in base64, and the matter
MATTER_FIELDS = ("title", "request", "facts", "category", "subcategory", "location", "respondent", "nature",
                 "is_group_or_policy")


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _path(parts) -> str:
    return "/".join(str(p) for p in parts) or "(文档)"


def _date_problems(doc: dict) -> list[dict]:
    out = []
    try:
        sent = datetime.fromisoformat(str(doc["sent_at"]))
        if sent.tzinfo is None:
            out.append({"path": "sent_at", "message": "发出时间须带时区，例如 2026-03-02T09:00:00+08:00"
                                                      "（sent_at needs a time zone）"})
    except ValueError:
        out.append({"path": "sent_at", "message": "发出时间应为 ISO-8601 时间（sent_at must be an ISO-8601 instant）"})
    if "deadline" in doc:
        try:
            date.fromisoformat(str(doc["deadline"]))
        except ValueError:
            out.append({"path": "deadline", "message": "办结期限应为日期 YYYY-MM-DD（deadline must be a date）"})
    return out


def _attachment_problems(doc: dict) -> list[dict]:
    out = []
    for i, item in enumerate(doc.get("attachments") or []):
        where = f"attachments/{i}"
        try:
            data = base64.b64decode(item["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            out.append({"path": where + "/content_base64", "message": "附件内容不是有效的 base64（not base64）"})
            continue
        if not data or len(data) > attachments.MAX_ATTACHMENT_BYTES:
            out.append({"path": where, "message": f"附件为空或超过 {attachments.MAX_ATTACHMENT_BYTES // 1024 // 1024} MB"
                                                  "（empty or too large）"})
        if item["media_type"].split(";")[0].strip().lower() not in attachments.ALLOWED_TYPES:
            out.append({"path": where + "/media_type", "message": f"不接受此类文件（{item['media_type']}）：请用 PDF、"
                                                                  "图片、Word、Excel、文本或压缩包（type not accepted）"})
    return out


def _schema_problem(error) -> dict:
    """One schema error; about a petitioner, without the value (no personal data in answers and problem files)."""
    path = _path(error.absolute_path)
    if "petitioners" in path:
        return {"path": path, "message": f"不符合交换格式：信访人信息不合要求（schema: {error.validator} "
                                         f"{json.dumps(error.validator_value, ensure_ascii=False)[:200]}）"}
    return {"path": path, "message": f"不符合交换格式：{error.message[:500]}（schema: {error.validator}）"}


def check(doc, categories: list[reg.Category], locations: set[str]) -> list[dict]:
    """The problems of an inbound document, each `{"path", "message"}`; empty when it can be registered."""
    validator = Draft202012Validator(schema())
    found = [_schema_problem(e) for e in sorted(validator.iter_errors(doc), key=lambda e: _path(e.absolute_path))]
    if found:
        return found
    matter = doc["matter"]
    found = _date_problems(doc) + _attachment_problems(doc)
    for problem in reg.category_problems(categories, matter["category"], matter.get("subcategory")):
        found.append({"path": f"matter/{problem.field}", "message": problem.text()})
    if matter["location"] not in locations:
        found.append({"path": "matter/location", "message": f"问题发生地“{matter['location']}”不在本机关的组织机构中"
                                                            "（unknown location code）"})
    if doc.get("period_days") is not None and doc["kind"] != "交办":
        found.append({"path": "period_days", "message": "只有交办才有办理期限（period_days is for 交办 only）"})
    return found


def problems_of(c, doc) -> list[dict]:
    """`check` with the office's categories and locations."""
    categories = reg.load_categories(c.settings.processes_dir / "categories.yaml")
    with c.session_factory() as s:
        locations = {code for code, _name in org_units.locations(s)}
    return check(doc, categories, locations)


# ---------------------------------------------------------------- registering

@dataclass
class Received:
    upstream_no: str
    case_id: int | None
    case_no: str | None
    duplicate: bool

    def as_json(self) -> dict:
        return {"upstream_no": self.upstream_no, "case_id": self.case_id, "case_no": self.case_no,
                "duplicate": self.duplicate}


def start_data(doc: dict, registering_unit: str, source: str, now: datetime) -> dict:
    """The case's start data: the matter as the desk would register it (registration.start_data), on channel
    上级转交, with the upstream number and the upstream's terms."""
    matter = doc["matter"]
    form = {k: matter[k] for k in MATTER_FIELDS if k in matter}
    form.update(channel=CHANNEL, upstream_case_no=doc["upstream_no"], petitioners=matter["petitioners"])
    data = reg.start_data(form, registering_unit)
    data["upstream"] = {"no": doc["upstream_no"], "kind": doc["kind"], "from_office": doc["from_office"],
                        "sent_at": doc["sent_at"], "deadline": doc.get("deadline"),
                        "period_days": doc.get("period_days") if doc["kind"] == "交办" else None,
                        "note": doc.get("note", ""), "source": source, "received_at": now.isoformat()}
    return data


def _existing(c, upstream_no: str) -> Received | None:
    with c.session_factory() as s:
        row = s.get(UpstreamMatter, upstream_no)
        if row is None:
            return None
        case = s.get(Case, row.case_id) if row.case_id else None
        return Received(upstream_no, row.case_id, _case_no(c.runtime.case_data(s, case)) if case else None, True)


def _case_no(data: dict) -> str | None:
    return data.get("case_no") or (data.get("registration") or {}).get("case_no")


def receive(c, doc: dict, source: str, key: IndexKey) -> Received:
    """Register a checked document once (see the module's docstring). Raises `incidents.StartFailed` when the
    case cannot start (nothing is stored then)."""
    found = _existing(c, doc["upstream_no"])
    if found is not None:
        return found
    try:
        return _register(c, doc, source, key)
    except IntegrityError:  # the same matter, registered by another request at the same moment
        found = _existing(c, doc["upstream_no"])
        if found is None:
            raise
        return found


def _register(c, doc: dict, source: str, key: IndexKey) -> Received:
    now, unit = c.clock.now(), c.settings.exchange_unit
    data = start_data(doc, unit, source, now)
    code, data[query_code.START_FIELD] = query_code.issue(key)  # told once, on the receipt SMS below
    vault = c.extras["vault"]
    with c.session_factory() as s, s.begin():
        matter = UpstreamMatter(upstream_no=doc["upstream_no"], kind=doc["kind"], deadline=doc.get("deadline"),
                                source=source, received_at=now, reported="[]")
        s.add(matter)
        s.flush()  # a concurrent registration of the same number waits here, then fails on the key

        def after(s, started, plain):
            incidents.refuse_failed_start(s, c.runtime, started)
            reg.index_started(s, started, plain, now, key)
            # the petitioner learns the case number and the query code (and the portal) as at the desk: once
            portal.queue_receipt(c, s, started, code, now)

        view = parties.start_case(c.runtime, vault, reg.PROCESS, data, ACTOR, now, session=s, after=after)
        matter.case_id = view.id
        for item in doc.get("attachments") or []:
            attachments.store_attachment(s, view.id, None, item["filename"], item["media_type"],
                                         base64.b64decode(item["content_base64"]), ACTOR, now, vault=vault)
    return Received(doc["upstream_no"], view.id, _case_no(view.data), False)


# ---------------------------------------------------------------- the watched folder

@dataclass
class PollResult:
    registered: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"registered": self.registered, "duplicates": self.duplicates, "rejected": self.rejected}


def _read(path: Path):
    if path.stat().st_size > MAX_FILE_BYTES:
        return None, [{"path": "(文件)", "message": f"文件超过 {MAX_FILE_BYTES // 1024 // 1024} MB（file too large）"}]
    try:
        return bounded_json.loads(path.read_text(encoding="utf-8")), []
    except (UnicodeDecodeError, ValueError) as exc:  # bounded_json.JsonTooDeep is a ValueError too
        return None, [{"path": "(文件)", "message": f"不是 UTF-8 编码的 JSON：{str(exc)[:200]}（not UTF-8 JSON）"}]


def _reject(path: Path, found: list[dict]) -> None:
    """Move a file aside to DIR/rejected/ with NAME.problems.json beside it."""
    aside = path.parent / "rejected"
    aside.mkdir(exist_ok=True)
    shutil.move(str(path), aside / path.name)
    (aside / f"{path.name}.problems.json").write_text(
        json.dumps({"file": path.name, "problems": found}, ensure_ascii=False, indent=2), encoding="utf-8")


def poll_folder(c, directory: Path, key: IndexKey, limit: int = 200) -> PollResult:
    """Take up to `limit` *.json files of `directory` (oldest name first): register each valid one and move it to
    DIR/done/; move each invalid one to DIR/rejected/ with its problems beside it."""
    result = PollResult()
    for path in sorted(directory.glob("*.json"))[:limit]:
        try:
            _take(c, path, key, result)
        except FileNotFoundError:  # taken meanwhile by another worker polling the same folder
            continue
    return result


def _take(c, path: Path, key: IndexKey, result: PollResult) -> None:
    doc, found = _read(path)
    found = found or problems_of(c, doc)
    if not found:
        try:
            received = receive(c, doc, "folder", key)
        except incidents.StartFailed as err:
            found = [{"path": "(登记)", "message": str(err)}]
    if found:
        _reject(path, found)
        result.rejected.append({"file": path.name, "problems": found})
        return
    done = path.parent / "done"
    done.mkdir(exist_ok=True)
    shutil.move(str(path), done / path.name)
    (result.duplicates if received.duplicate else result.registered).append(dict(received.as_json(), file=path.name))


# ---------------------------------------------------------------- reports back

def _ending(data: dict | None) -> str:
    """How an ended case ended: withdrawn by the petitioner (services/withdrawal.py) or handled to its end."""
    return "withdrawn" if isinstance((data or {}).get("withdrawal"), dict) else "closed"


def _events(s, case: Case, ending: str) -> list[tuple[str, datetime]]:
    """The case's status changes the upstream system is told of, with when, in order; `ending` names the last."""
    elements = labels_by_element(TASK_EVENTS)
    out: list[tuple[str, datetime]] = [("registered", case.created_at)]
    for element, at in s.execute(select(JournalEvent.element_id, JournalEvent.at).where(
            JournalEvent.case_id == case.id, JournalEvent.type == "task.completed",
            JournalEvent.element_id.in_(list(elements))).order_by(JournalEvent.seq)):
        out.append((elements[element], at))
    if case.status == "completed":
        out.append((ending, case.completed_at or case.updated_at))
    return out


def _documents(data: dict, names: dict[str, str]) -> list[dict]:
    out = []
    for kind in documents.kinds():
        try:
            notice = documents.build_notice(kind, data, lambda code: names.get(code, code), masking.mask_name)
        except (documents.NoticeUnavailable, KeyError, TypeError, ValueError):
            continue
        out.append({"kind": kind, "title": notice.title, "doc_no": notice.doc_no, "issued_on":
                    notice.issued_on.isoformat() if notice.issued_on else None, "addressee": notice.addressee,
                    "text": "\n".join(notice.paragraphs), "issuer": notice.issuer})
    return out


def report(matter: UpstreamMatter, case: Case, data: dict, event: str, at: datetime, names: dict[str, str]) -> dict:
    """What one report says (docs/exchange.md, “Reports”)."""
    assignment = data.get("assignment") if isinstance(data.get("assignment"), dict) else {}
    return {"format": FORMAT, "upstream_no": matter.upstream_no, "case_no": _case_no(data),
            "event": event, "event_label": EVENT_LABELS[event], "at": at.astimezone(SHANGHAI).isoformat(),
            "unit": assignment.get("unit_name"), "dispatch_type": assignment.get("dispatch_type"),
            "rating": data.get("rating") if event == "rated" else None, "documents": _documents(data, names)}


def queue_reports(c, limit: int = 200) -> int:
    """Queue in the outbox the status changes not yet reported of the cases registered from upstream (each once:
    its idempotency key is `upstream:<number>:<event>`). Only cases changed since they were last looked at, and
    at most `limit` of them, least recently changed first (the rest in the next round). Returns how many reports
    were queued."""
    now, queued = c.clock.now(), 0
    try:
        with c.session_factory() as s, s.begin():
            names = org_units.unit_names(s)
            for matter, case in s.execute(
                    select(UpstreamMatter, Case).join(Case, Case.id == UpstreamMatter.case_id)
                    .where(*(~UpstreamMatter.reported.contains(f'"{end}"') for end in ENDINGS),
                           or_(UpstreamMatter.checked_version.is_(None), Case.version > UpstreamMatter.checked_version))
                    .order_by(Case.updated_at).limit(limit)).all():
                queued += _queue_matter(c, s, matter, case, names, now)
                matter.checked_version = case.version
    except IntegrityError:  # another worker queued the same reports at the same moment: theirs stand
        return 0
    return queued


def _queue_matter(c, s, matter: UpstreamMatter, case: Case, names: dict[str, str], now: datetime) -> int:
    reported = json.loads(matter.reported or "[]")
    data = c.runtime.case_data(s, case) if case.status == "completed" else None
    new = [(event, at) for event, at in _events(s, case, _ending(data)) if event not in reported]
    if not new:
        return 0
    data = data if data is not None else c.runtime.case_data(s, case)
    for event, at in new:
        s.add(Outbox(case_id=case.id, idempotency_key=f"upstream:{matter.upstream_no}:{event}",
                     channel=OUTBOX_CHANNEL, recipient=RECIPIENT, template=TEMPLATE, template_version=1,
                     payload=to_json(report(matter, case, data, event, at, names)), status="pending", attempts=0,
                     next_attempt_at=now, created_at=now))
        reported.append(event)
    matter.reported = json.dumps(reported)
    return len(new)


# (what a report's error contains, what it means for the office); the first that matches is shown
_PLAIN = (
    ("未配置", "尚未配置上级信访信息系统的上报地址或共享密钥，上报在等待；配置后自动发出。"),
    ("HTTP 401", "上级系统不接受签名：请与上级核对共享密钥后重发。"),
    ("HTTP 403", "上级系统不接受签名：请与上级核对共享密钥后重发。"),
    ("HTTP 4", "上级系统拒绝了这条上报（内容不被接受），请与上级核对后重发。"),
    ("HTTP 5", "上级系统暂时不可用，系统会自动重试；仍失败时可重发。"),
    ("模板", "上报模板有误，请修正模板后重发。"),
    ("中断", "上报多次中断，不能确定上级是否收到；重发是安全的，上级按幂等键去重。"),
    ("不可达", "连接不上上级系统，系统会自动重试；请检查网络和上报地址。"),
)


def plain_error(error: str | None) -> str | None:
    """What a report's delivery error means, in one sentence (Chinese); the raw text stays beside it."""
    if not error:
        return None
    return next((meaning for needle, meaning in _PLAIN if needle in error), "上报失败，详见原始错误。")


def report_details(read_sessions, ids: list[int]) -> dict[int, dict]:
    """Outbox row id -> what the report says (upstream number, case number, event), for the admins' page."""
    if not ids:
        return {}
    with read_sessions() as s:
        rows = s.execute(select(Outbox.id, Outbox.payload).where(Outbox.id.in_(ids))).all()
    out = {}
    for row_id, payload in rows:
        data = json.loads(payload or "{}")
        out[row_id] = {"upstream_no": data.get("upstream_no"), "case_no": data.get("case_no"),
                       "event_label": EVENT_LABELS.get(data.get("event"), "")}
    return out


def recent_matters(read_sessions, limit: int = 50) -> list[dict]:
    """The matters received last, for the administrators' page."""
    with read_sessions() as s:
        rows = s.execute(select(UpstreamMatter, RegistrationIndex.case_no)
                         .outerjoin(RegistrationIndex, RegistrationIndex.case_id == UpstreamMatter.case_id)
                         .order_by(UpstreamMatter.received_at.desc()).limit(limit)).all()
        return [{"upstream_no": m.upstream_no, "case_id": m.case_id, "case_no": case_no, "kind": m.kind,
                 "deadline": m.deadline, "source": m.source, "received_at": m.received_at,
                 "reported": [EVENT_LABELS.get(e, e) for e in json.loads(m.reported or "[]")]}
                for m, case_no in rows]
