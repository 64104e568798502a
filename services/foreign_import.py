"""A BPMN file from another modeler imported into the designer as a draft (issue #19, point 5).

The file becomes the draft of a process key: the key the designer chose, or else the id of the file's first
executable process (its first process when none is executable). A key that is already deployed gets the file as
a draft on its latest version, in place of that version's diagram; a new key gets a draft of its own with no
base version. Nothing is deployed: the answer lists every problem deployment would report (and the warnings),
each with file, line and element id, so the modeler marks them on their elements and the designer fixes them
before validating and deploying as usual. The upload is read by the same safe parser and limits as a deploy.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree
from sqlalchemy import select

from engine.definitions import BPMN_NS, DefinitionError, Problem, safe_parse_xml, xml_text
from engine.store import ProcessDefinition

from .store import drafts

KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")  # an XML id, as the process id that the key becomes
FILE_NAME = re.compile(r"^[\w.-]{1,120}\.bpmn$")


class ImportRefused(Exception):
    """The file cannot become a draft (unreadable, hostile, no process, a bad key); `problems` say why."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class Imported:
    key: str
    file: str
    created: bool  # a new process (no deployed version yet)
    draft: drafts.DraftView
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


class DraftExists(Exception):
    """The key already has a draft (someone's unsaved work): importing over it needs `replace=True`."""

    def __init__(self, draft: drafts.DraftView):
        super().__init__(f"流程 {draft.process_key} 已有 {draft.author} 于 {draft.updated_at:%Y-%m-%d %H:%M} 保存的草稿")
        self.draft = draft


def import_draft(runtime, session_factory, upload_name: str, content: bytes, *, key: str | None, author: str,
                 now: datetime, replace: bool = False) -> Imported:
    """`replace`: import over the key's existing draft (refused with DraftExists without it, so that nobody's
    unsaved work is lost by an import)."""
    name = _file_name(upload_name)
    try:
        root = safe_parse_xml(content, name).getroot()
    except DefinitionError as err:
        raise ImportRefused(err.problems) from None
    process = _chosen_process(root, name)
    key = (key or "").strip() or process.get("id")
    if not KEY.match(key or ""):
        raise ImportRefused([Problem(name, process.sourceline, process.get("id"),
                                     f"流程标识“{key}”无效：只能用字母、数字、下划线、点和减号，并以字母或下划线开头"
                                     f"（invalid process key）")])
    text = _with_process_id(root, process, key) if key != process.get("id") else xml_text(content)
    with session_factory() as s, s.begin():
        base = s.scalar(select(ProcessDefinition).where(ProcessDefinition.process_key == key)
                        .order_by(ProcessDefinition.version.desc()).limit(1))
        existing = drafts.get(s, key)
        if existing is not None and not replace:
            raise DraftExists(existing)
        file = drafts.main_file(base) if base is not None else name
        view = drafts.save_imported(s, key, base, {file: text}, upload_name or name, author, now)
        bundle = drafts.bundle(base, {file: text})
    return Imported(key, file, base is None, view, drafts.problems_of(runtime, bundle), drafts.warnings_of(bundle))


def imported_new(s) -> list[drafts.DraftView]:
    """Drafts of imported processes that are not deployed yet (the designer's list shows them)."""
    keys = s.scalars(select(drafts.Draft.process_key).where(drafts.Draft.base_definition_id.is_(None))
                     .order_by(drafts.Draft.updated_at.desc()))
    return [drafts.get(s, k) for k in keys]


def _file_name(upload_name: str | None) -> str:
    base = (upload_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    if not base.lower().endswith(".bpmn"):
        base += ".bpmn"
    return base if FILE_NAME.match(base) else "imported.bpmn"


def _chosen_process(root: etree._Element, name: str) -> etree._Element:
    processes = root.findall(f"{{{BPMN_NS}}}process")
    if not processes:
        raise ImportRefused([Problem(name, root.sourceline, root.get("id"),
                                     "文件中没有 bpmn:process，无法导入为流程草稿（no process in the file）")])
    return next((p for p in processes if p.get("isExecutable") == "true"), processes[0])


def _with_process_id(root: etree._Element, process: etree._Element, key: str) -> str:
    """The document with the process renamed to the chosen key, and the references to it (a pool's processRef,
    the diagram's bpmnElement) following."""
    old = process.get("id")
    process.set("id", key)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for attr in ("processRef", "bpmnElement", "calledElement"):
            if element.get(attr) == old:
                element.set(attr, key)
    return etree.tostring(root, encoding="unicode")
