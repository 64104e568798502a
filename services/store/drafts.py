"""Designers' drafts: a deployed version being edited, kept on the server until it is deployed or discarded.

A draft belongs to one process (one draft per process at a time) and records which deployed version it was
opened from (none for a foreign file imported as a new process, `services.foreign_import`). It holds only the
files the designer changed (the diagram, a DMN table); the other files the
process needs (called processes, decisions, forms) come from that version's stored sources, so that a draft
is always validated and deployed as a complete bundle, with exactly the checks of a deployment.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from sqlalchemy import ForeignKey, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.db import Base
from engine.definitions import (
    BPMN_NS,
    UNSUPPORTED_ELEMENTS,
    DefinitionError,
    Problem,
    SourceFile,
    safe_parse_xml,
)
from engine.store import ID, UTC_DT, Case, Deployment, ProcessDefinition

MAX_DRAFT_FILES = 20


class Draft(Base):
    __tablename__ = "process_draft"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(128), unique=True)
    # null: a foreign file imported as a new process, not deployed yet (the draft is all its files)
    base_definition_id: Mapped[int | None] = mapped_column(ForeignKey("process_definition.id"), nullable=True)
    imported_from: Mapped[str | None] = mapped_column(String(255), nullable=True)  # the uploaded file's name
    files_json: Mapped[str] = mapped_column(Text, default="{}")  # {file name: text} of the changed files
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTC_DT)
    updated_at: Mapped[datetime] = mapped_column(UTC_DT)


class DraftError(Exception):
    """A request about drafts that cannot be honoured; the message says what to do (Chinese first)."""


@dataclass
class DraftView:
    process_key: str
    base_definition_id: int | None
    base_version: int | None
    files: dict[str, str]
    author: str
    created_at: datetime
    updated_at: datetime
    imported_from: str | None = None

    def to_dict(self) -> dict:
        return {"process_key": self.process_key, "base_definition_id": self.base_definition_id,
                "base_version": self.base_version, "files": self.files, "author": self.author,
                "created_at": self.created_at, "updated_at": self.updated_at, "imported_from": self.imported_from}


def version_row(s: Session, process_key: str, version: int | None = None) -> ProcessDefinition:
    """A deployed version of a process (the latest when `version` is None)."""
    q = select(ProcessDefinition).where(ProcessDefinition.process_key == process_key)
    q = q.where(ProcessDefinition.version == version) if version is not None else \
        q.order_by(ProcessDefinition.version.desc()).limit(1)
    row = s.scalar(q)
    if row is None:
        which = f"版本 {version}" if version is not None else "任何版本"
        raise DraftError(f"流程 {process_key} 没有{which}（no such process version）")
    return row


def sources_of(row: ProcessDefinition) -> dict[str, str]:
    return json.loads(row.sources_json)


def main_file(row: ProcessDefinition) -> str:
    """The BPMN file of the version that defines the process itself (not one it calls)."""
    for name, text in sources_of(row).items():
        if not name.endswith(".bpmn"):
            continue
        tree = safe_parse_xml(text.encode("utf-8"), name)
        if tree.getroot().find(f"{{{BPMN_NS}}}process[@id='{row.process_key}']") is not None:
            return name
    raise DraftError(f"版本 {row.version} 中找不到定义流程 {row.process_key} 的 BPMN 文件（no main file）")


def get(s: Session, process_key: str) -> DraftView | None:
    d = s.scalar(select(Draft).where(Draft.process_key == process_key))
    if d is None:
        return None
    base = s.get(ProcessDefinition, d.base_definition_id) if d.base_definition_id is not None else None
    return DraftView(d.process_key, d.base_definition_id, base.version if base is not None else None,
                     json.loads(d.files_json), d.author, d.created_at, d.updated_at, d.imported_from)


class DraftConflict(DraftError):
    """Someone else saved the draft since this designer opened it."""


_UNCHECKED = object()


def save(s: Session, process_key: str, base_definition_id: int, files: dict[str, str], author: str,
         now: datetime, expected_updated_at=_UNCHECKED) -> DraftView:
    """Create or replace the process's draft. Only files of the base version may be changed: a draft edits a
    process, it does not add unrelated files. With `expected_updated_at` (the draft's `updated_at` as the
    designer opened it, or None when there was no draft) a draft saved by someone else meanwhile is not
    overwritten. A new process imported from a foreign file (no base) may only change its own file."""
    if base_definition_id is None:
        return _save_new(s, process_key, files, author, now, expected_updated_at)
    base = s.get(ProcessDefinition, base_definition_id)
    if base is None or base.process_key != process_key:
        raise DraftError(f"草稿的基础版本 {base_definition_id} 不属于流程 {process_key}（base version mismatch）")
    _check_files(process_key, base, files)
    d = s.scalar(select(Draft).where(Draft.process_key == process_key).with_for_update())
    if expected_updated_at is not _UNCHECKED:
        current = None if d is None else d.updated_at.isoformat()
        if current != expected_updated_at:
            who = f"{d.author} 于 {d.updated_at.isoformat(timespec='minutes')}" if d is not None else "他人"
            raise DraftConflict(f"草稿已被 {who} 修改或丢弃，为免覆盖未保存；请下载当前文件后重新打开再合并"
                                f"（the draft changed since you opened it）")
    if d is None:
        d = Draft(process_key=process_key, created_at=now)
        s.add(d)
    d.base_definition_id = base_definition_id
    d.files_json = json.dumps(files, ensure_ascii=False)
    d.author = author
    d.updated_at = now
    s.flush()
    return get(s, process_key)


def _check_files(process_key: str, base: ProcessDefinition, files: dict[str, str]) -> None:
    known = sources_of(base)
    if not files:
        raise DraftError("草稿没有内容：请先修改流程图或决策表再保存（nothing to save）")
    if len(files) > MAX_DRAFT_FILES:
        raise DraftError(f"一个草稿最多包含 {MAX_DRAFT_FILES} 个文件（too many files）")
    for name, text in files.items():
        if name not in known:
            raise DraftError(f"文件 {name} 不属于流程 {process_key} 的版本 {base.version}；"
                             f"可修改的文件：{'、'.join(sorted(known))}（unknown file）")
        if not isinstance(text, str) or not text.strip():
            raise DraftError(f"文件 {name} 的内容为空（empty file）")


def _save_new(s: Session, process_key: str, files: dict[str, str], author: str, now: datetime,
              expected_updated_at) -> DraftView:
    d = s.scalar(select(Draft).where(Draft.process_key == process_key).with_for_update())
    if d is None or d.base_definition_id is not None:
        raise DraftError(f"流程 {process_key} 不是导入的新流程，草稿需要基础版本（base version required）")
    known = set(json.loads(d.files_json))
    if not files or set(files) - known or not all(isinstance(t, str) and t.strip() for t in files.values()):
        raise DraftError(f"导入的草稿只能修改它自己的文件：{'、'.join(sorted(known))}（unknown or empty file）")
    if expected_updated_at is not _UNCHECKED and d.updated_at.isoformat() != expected_updated_at:
        raise DraftConflict(f"草稿已被 {d.author} 于 {d.updated_at.isoformat(timespec='minutes')} 修改，为免覆盖未保存"
                            f"（the draft changed since you opened it）")
    d.files_json, d.author, d.updated_at = json.dumps(files, ensure_ascii=False), author, now
    s.flush()
    return get(s, process_key)


def save_imported(s: Session, process_key: str, base: ProcessDefinition | None, files: dict[str, str],
                  imported_from: str, author: str, now: datetime) -> DraftView:
    """Make an imported file the process's draft, replacing any draft it had (the designer chose to import)."""
    d = s.scalar(select(Draft).where(Draft.process_key == process_key).with_for_update())
    if d is None:
        d = Draft(process_key=process_key, created_at=now)
        s.add(d)
    d.base_definition_id = base.id if base is not None else None
    d.files_json = json.dumps(files, ensure_ascii=False)
    d.imported_from, d.author, d.updated_at = imported_from[:255], author, now
    s.flush()
    return get(s, process_key)


def discard(s: Session, process_key: str) -> bool:
    d = s.scalar(select(Draft).where(Draft.process_key == process_key))
    if d is None:
        return False
    s.delete(d)
    return True


def bundle(base: ProcessDefinition | None, changed: dict[str, str]) -> list[SourceFile]:
    """The complete set of files to validate or deploy: the base version's sources with the changes applied
    (an imported new process has no base: its draft is all its files)."""
    files = sources_of(base) if base is not None else {}
    files.update(changed)
    return [SourceFile(name, text.encode("utf-8")) for name, text in sorted(files.items())]


def problems_of(runtime, files: list[SourceFile]) -> list[Problem]:
    """Every problem deployment would report for these files (none when they would deploy)."""
    try:
        runtime.check(files)
    except DefinitionError as err:
        return err.problems
    return []


def deployments(s: Session, process_key: str) -> list[dict]:
    """Each version of a process with who deployed it, when and why, and how many cases run on it."""
    rows = s.execute(select(ProcessDefinition.id, ProcessDefinition.version, ProcessDefinition.name,
                            ProcessDefinition.content_hash, ProcessDefinition.deployed_at,
                            ProcessDefinition.deployed_by, Deployment.comment)
                     .join(Deployment, Deployment.id == ProcessDefinition.deployment_id)
                     .where(ProcessDefinition.process_key == process_key)
                     .order_by(ProcessDefinition.version.desc())).all()
    counts: dict[tuple[int, str], int] = {}
    for definition_id, status, n in s.execute(
            select(Case.definition_id, Case.status, func.count()).where(Case.process_key == process_key)
            .group_by(Case.definition_id, Case.status)).all():
        counts[(definition_id, "done" if status == "completed" else "open")] = \
            counts.get((definition_id, "done" if status == "completed" else "open"), 0) + n
    return [{"id": r.id, "version": r.version, "name": r.name, "content_hash": r.content_hash,
             "deployed_at": r.deployed_at, "deployed_by": r.deployed_by, "comment": r.comment or "",
             "open_cases": counts.get((r.id, "open"), 0), "completed_cases": counts.get((r.id, "done"), 0)}
            for r in rows]


def element_names(text: str) -> dict[str, str]:
    """Element id -> name of a BPMN text, for messages that name what a designer sees."""
    tree = safe_parse_xml(text.encode("utf-8"), "diagram.bpmn")
    return {el.get("id"): el.get("name") or el.get("id") for el in tree.getroot().iter()
            if isinstance(el.tag, str) and el.get("id") and etree.QName(el).namespace == BPMN_NS}


def warnings_of(files: list[SourceFile]) -> list[Problem]:
    """What deployment accepts but a designer should know: a process marked not executable (as Signavio and
    other tools export by default) is stored for documentation only and cannot be started, and the elements in
    it that the engine could not run anyway are named, so nothing is dropped without a word."""
    out = []
    for f in files:
        if not f.name.endswith(".bpmn"):
            continue
        try:
            root = safe_parse_xml(f.content, f.name).getroot()
        except DefinitionError:
            continue  # reported as a problem by the deployment checks
        for process in root.iter(f"{{{BPMN_NS}}}process"):
            if process.get("isExecutable") == "true":
                continue
            label = process.get("name") or process.get("id")
            out.append(Problem(f.name, process.sourceline, process.get("id"),
                               f"流程“{label}”标记为不可执行（isExecutable=\"false\"）：部署后只作存档，不能启动；"
                               f"要运行请在流程属性中勾选“可执行”（process is not executable）"))
            for el in process.iter():
                if not isinstance(el.tag, str) or etree.QName(el).namespace != BPMN_NS:
                    continue
                local = etree.QName(el).localname
                if local in UNSUPPORTED_ELEMENTS:
                    zh, en = UNSUPPORTED_ELEMENTS[local]
                    out.append(Problem(f.name, el.sourceline, el.get("id"),
                                       f"{local}“{el.get('name') or el.get('id')}”：{zh}（{en}）"))
    return out
