"""Comments and attachments on a case or one of its tasks, each journaled on the case's hash chain.

Callers pass an open session (inside their transaction), the actor's user name and the instant from the Clock.
Attachment content goes into the database with its SHA-256, so backups carry it and a download can be checked;
with the deployment's vault it is sealed (SM4-GCM) under the case's data key, as its parties are (infra/keys.py).
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.case_chain import append_case_events, lock_case
from engine.journal import PendingEvent
from engine.store import WorkItem
from infra.keys import KeyProblem, Vault
from services.store.casefiles import CaseAttachment, CaseComment
from services.store.parties import Party

# Below the app-wide request limit (web.app.MAX_REQUEST_BYTES), so an oversized file gets this clear message.
MAX_ATTACHMENT_BYTES = 8 * 1024 * 1024
MAX_COMMENT_CHARS = 4000
ALLOWED_TYPES = {
    "application/pdf", "image/jpeg", "image/png", "image/gif", "image/webp", "text/plain", "text/csv",
    "application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/zip", "application/octet-stream", "audio/mpeg", "audio/mp4", "video/mp4",
}


class AttachmentRefused(ValueError):
    """Bad input: the message says what is wrong and what to do."""


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    case_id: int
    work_item_id: int | None
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


@dataclass(frozen=True)
class CommentInfo:
    id: int
    case_id: int
    work_item_id: int | None
    body: str
    author: str
    at: datetime


def safe_filename(name: str | None) -> str:
    """The last path part of an uploaded name, without control or path characters; Chinese letters are kept."""
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'[<>:"|?*\x00]', "_", name).strip(" .")
    if not name:
        name = "附件"
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:110] + "." + ext[:9]) if dot and len(ext) <= 9 else name[:120]
    return name


def _check_work_item(s: Session, case_id: int, work_item_id: int | None) -> None:
    if work_item_id is None:
        return
    owner = s.scalar(select(WorkItem.case_id).where(WorkItem.id == work_item_id))
    if owner != case_id:
        raise AttachmentRefused(f"任务 {work_item_id} 不属于案件 {case_id}（the task is not part of this case）")


def store_attachment(s: Session, case_id: int, work_item_id: int | None, filename: str | None,
                     content_type: str | None, data: bytes, actor: str, at: datetime,
                     vault: Vault | None = None) -> AttachmentInfo:
    """Store and journal an attachment; with a `vault`, its content sealed under the case's data key."""
    if not data:
        raise AttachmentRefused("文件为空，请重新选择文件（the file is empty; choose the file again）")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentRefused(
            f"文件过大：{len(data) / 1024 / 1024:.1f} MB，单个附件不能超过 {MAX_ATTACHMENT_BYTES // 1024 // 1024} MB，"
            f"请压缩或拆分后再上传（the file is larger than {MAX_ATTACHMENT_BYTES // 1024 // 1024} MB; "
            f"compress or split it）")
    ctype = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    if ctype not in ALLOWED_TYPES:
        raise AttachmentRefused(f"不接受此类文件（{ctype}），请上传 PDF、图片、Word、Excel、文本或压缩包"
                                f"（file type not accepted）")
    lock_case(s, case_id)  # before the row that refers to it: see engine.case_chain.lock_case
    _check_work_item(s, case_id, work_item_id)
    name = safe_filename(filename)
    digest = hashlib.sha256(data).hexdigest()
    key_ref, stored = None, data
    if vault is not None:
        key_ref = _case_key(s, vault, case_id, at)
        stored = vault.seal_bytes(s, key_ref, _owner(case_id, digest), data)
    row = CaseAttachment(case_id=case_id, work_item_id=work_item_id, filename=name, content_type=ctype,
                         size=len(data), sha256=digest, content=stored, key_ref=key_ref, uploaded_by=actor,
                         uploaded_at=at, journal_seq=0)
    s.add(row)
    s.flush()
    [seq] = append_case_events(s, case_id, [PendingEvent(
        "attachment.added", actor, at, None,
        {"attachment_id": row.id, "work_item_id": work_item_id, "filename": name, "content_type": ctype,
         "size": len(data), "sha256": digest})])
    row.journal_seq = seq
    s.flush()
    return _attachment_info(row)


def list_attachments(s: Session, case_id: int) -> list[AttachmentInfo]:
    rows = s.execute(select(CaseAttachment.id, CaseAttachment.case_id, CaseAttachment.work_item_id,
                            CaseAttachment.filename, CaseAttachment.content_type, CaseAttachment.size,
                            CaseAttachment.sha256, CaseAttachment.uploaded_by, CaseAttachment.uploaded_at)
                     .where(CaseAttachment.case_id == case_id).order_by(CaseAttachment.id)).all()
    return [AttachmentInfo(*r) for r in rows]


def _owner(case_id: int, sha256: str) -> str:
    return f"attachment:{case_id}:{sha256}"


def _case_key(s: Session, vault: Vault, case_id: int, at: datetime) -> str:
    """The case's data key (its parties'), or a new one for a case that has none."""
    key_ref = s.scalar(select(Party.key_ref).where(Party.case_id == case_id).order_by(Party.position).limit(1))
    return key_ref or vault.new_data_key(s, at)


def get_attachment(s: Session, case_id: int, attachment_id: int,
                   vault: Vault | None = None) -> tuple[AttachmentInfo, bytes]:
    """The attachment with its content (opened with `vault` when sealed), checked against the stored SHA-256;
    LookupError if not of this case."""
    row = s.get(CaseAttachment, attachment_id)
    if row is None or row.case_id != case_id:
        raise LookupError(f"附件 {attachment_id} 不存在（no such attachment）")
    content = row.content
    if row.key_ref is not None:
        if vault is None:
            raise AttachmentRefused(f"附件 {attachment_id} 已加密，无法在此读取（sealed; no key here）")
        try:
            content = vault.open_bytes(s, row.key_ref, _owner(case_id, row.sha256), row.content)
        except KeyProblem as err:
            raise AttachmentRefused(f"附件 {attachment_id} 无法解密，请联系管理员（{err}）") from None
    if hashlib.sha256(content).hexdigest() != row.sha256:
        raise AttachmentRefused(f"附件 {attachment_id} 内容与登记的校验值不符，请联系管理员（content changed）")
    return _attachment_info(row), content


def add_comment(s: Session, case_id: int, work_item_id: int | None, body: str, actor: str,
                at: datetime) -> CommentInfo:
    text = (body or "").strip()
    if not text:
        raise AttachmentRefused("意见内容为空，请填写后再提交（the comment is empty）")
    if len(text) > MAX_COMMENT_CHARS:
        raise AttachmentRefused(f"意见过长（{len(text)} 字），请控制在 {MAX_COMMENT_CHARS} 字以内"
                                f"（comment longer than {MAX_COMMENT_CHARS} characters）")
    lock_case(s, case_id)  # before the row that refers to it: see engine.case_chain.lock_case
    _check_work_item(s, case_id, work_item_id)
    row = CaseComment(case_id=case_id, work_item_id=work_item_id, body=text, author=actor, at=at, journal_seq=0)
    s.add(row)
    s.flush()
    [seq] = append_case_events(s, case_id, [PendingEvent(
        "comment.added", actor, at, None, {"comment_id": row.id, "work_item_id": work_item_id, "body": text})])
    row.journal_seq = seq
    s.flush()
    return CommentInfo(row.id, row.case_id, row.work_item_id, row.body, row.author, row.at)


def list_comments(s: Session, case_id: int) -> list[CommentInfo]:
    rows = s.scalars(select(CaseComment).where(CaseComment.case_id == case_id).order_by(CaseComment.id)).all()
    return [CommentInfo(r.id, r.case_id, r.work_item_id, r.body, r.author, r.at) for r in rows]


def _attachment_info(r: CaseAttachment) -> AttachmentInfo:
    return AttachmentInfo(r.id, r.case_id, r.work_item_id, r.filename, r.content_type, r.size, r.sha256,
                          r.uploaded_by, r.uploaded_at)
