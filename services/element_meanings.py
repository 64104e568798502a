"""Element meanings: which BPMN element of a process is the triage, the acceptance, the reply, the rating, a
13710 milestone, ..., the steps the code and the statistics
rely on.

They are declared in `processes/meanings.yaml`, by process id, and the code asks for a meaning
(`elements("triage")`) instead of naming element ids; the statistics take every element list they
read from here (`services.stats_settings`). Deploy checks them (`deploy_check`): every element a meaning names must
exist in the process being deployed, every meaning must be one the code knows, and every meaning the code reads must
be declared by some process; a deployment that breaks this is refused with the file, the element and the reason.

An element id may stand in several processes; `elements(meaning)` is the union over them. Ids that earlier versions
of a process used (`earlier_versions:` of that process) count when reading but are not checked at deploy.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from engine.definitions import BPMN_NS, CompiledProcess, Problem, safe_parse_xml
from infra import yaml_docs

FILE_NAME = "meanings.yaml"
DEFAULT_FILE = Path(__file__).resolve().parent.parent / "processes" / FILE_NAME
EARLIER = "earlier_versions"

# meaning -> what it means (shown in problems and in docs/designer-guide-meanings.md). The code reads every one.
MEANINGS = {
    "triage": "分流研判（登记后第一个待办）",
    "sign": "责任单位签收或提出异议",
    "objection": "审核签收异议",
    "acceptance": "作出受理决定",
    "handling": "办理并拟写答复意见",
    "extension_approval": "审批延期申请",
    "reply": "送达书面答复",
    "signoff": "审核销号（办结）",
    "returned_for_redo": "审核不通过、退回重办",
    "rating": "回访并记录满意度",
    "review": "复查并出具复查意见",
    "rereview": "复核并出具复核意见",
    "review_redo": "复查、复核撤销或变更原意见后重新办理",
    "statutory_limit": "有法定办理时限的待办",
    "escalation_entry": "联席会议受理上交事项的第一个待办",
    "milestone_13710": "13710 节点（待办 → 节点编号）",
    "limit_timer": "待办的期限定时器（待办 → 定时器）",
    "contacts_petitioner": "与信访人联系的待办（可看完整个人信息）",
}
# Meanings that map each element to a value: a code, or another element of the same process (checked at deploy).
MAPPED = {"milestone_13710": "code", "limit_timer": "element"}

Entries = dict[str, dict[str, str | None]]  # meaning -> {element: value (None for a plain list)}


class MeaningsProblem(ValueError):
    """The meanings file cannot be read; `problems` names each thing to fix."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class ElementMeanings:
    by_process: dict[str, Entries]
    filename: str = FILE_NAME
    text: str = ""
    earlier: dict[str, Entries] | None = None  # process -> the ids its earlier versions used (not checked)

    @classmethod
    def from_text(cls, text: str, filename: str = FILE_NAME) -> ElementMeanings:
        try:
            doc = yaml_docs.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise MeaningsProblem([Problem(filename, None, None, f"YAML 格式错误（invalid YAML）：{exc}")]) from exc
        if not isinstance(doc, dict):
            raise MeaningsProblem([Problem(filename, None, None,
                                           "顶层必须是 流程编号 → 含义 的映射（top level must map process ids to meanings）")])
        reader = _Reader(filename, text)
        by_process: dict[str, Entries] = {}
        earlier: dict[str, Entries] = {}
        for process_id, meanings in doc.items():
            pid = str(process_id)
            by_process[pid] = reader.process(pid, meanings)
            if isinstance(meanings, dict) and EARLIER in meanings:
                earlier[pid] = reader.process(f"{pid}.{EARLIER}", meanings[EARLIER], earlier=True)
        if reader.problems:
            raise MeaningsProblem(reader.problems)
        return cls(by_process, filename, text, earlier)

    @classmethod
    def load(cls, path: Path | str = DEFAULT_FILE) -> ElementMeanings:
        path = Path(path)
        return cls.from_text(path.read_text(encoding="utf-8"), path.name)

    def _entries(self, meaning: str, process: str | None) -> list[dict[str, str | None]]:
        if meaning not in MEANINGS:
            raise LookupError(f"没有元素含义“{meaning}”（unknown meaning; known: {', '.join(MEANINGS)}）")
        found = []
        for table in (self.by_process, self.earlier or {}):
            found += [entries[meaning] for pid, entries in table.items()
                      if meaning in entries and process in (None, pid)]
        return found

    def ordered(self, meaning: str, process: str | None = None) -> tuple[str, ...]:
        """The element ids that have `meaning` (in `process`, or in any), in the order the file lists them: the
        current versions' first, then the earlier versions'."""
        return tuple(dict.fromkeys(e for entries in self._entries(meaning, process) for e in entries))

    def elements(self, meaning: str, process: str | None = None) -> frozenset[str]:
        return frozenset(self.ordered(meaning, process))

    def mapping(self, meaning: str, process: str | None = None) -> dict[str, str]:
        """For a mapped meaning (`MAPPED`): element -> its code or its timer, over the processes."""
        out: dict[str, str] = {}
        for entries in self._entries(meaning, process):
            for element, value in entries.items():
                if value is not None:
                    out.setdefault(element, value)
        return out

    def undeclared(self) -> list[str]:
        """The meanings the code reads that no process declares."""
        declared = {meaning for entries in self.by_process.values() for meaning in entries}
        return [meaning for meaning in MEANINGS if meaning not in declared]

    def problems_for(self, process: CompiledProcess) -> list[Problem]:
        """The declared meanings of `process` that name an element the process does not have."""
        declared = self.by_process.get(process.process_id)
        if not declared:
            return []
        present = element_ids(process)
        start = _line_of(self.text, process.process_id) or 1
        problems = []
        for meaning, entries in declared.items():
            named = [*entries, *(v for v in entries.values() if MAPPED.get(meaning) == "element")]
            problems += [self._missing(process.process_id, meaning, element, start)
                         for element in dict.fromkeys(named) if element not in present]
        return problems

    def _missing(self, process_id: str, meaning: str, element: str, start: int) -> Problem:
        line = _line_of(self.text, element, _line_of(self.text, meaning, start) or start)
        return Problem(self.filename, line, element,
                       f"流程 {process_id} 中没有元素 {element}，不能作为“{meaning}”（{MEANINGS[meaning]}）；"
                       f"请在 {self.filename} 中改为现有元素（process {process_id} has no element "
                       f"{element} for meaning {meaning}）")

    def undeclared_problems(self) -> list[Problem]:
        return [Problem(self.filename, None, None,
                        f"没有任何流程声明元素含义“{meaning}”（{MEANINGS[meaning]}），统计、公开查询或权限依赖它；"
                        f"请在 {self.filename} 中为相应流程列出它的元素（meaning {meaning} is read by the code but "
                        f"declared by no process）")
                for meaning in self.undeclared()]


class _Reader:
    """Reads the meanings of one process (or of its earlier versions), collecting problems with their lines."""

    def __init__(self, filename: str, text: str):
        self.filename, self.text, self.problems = filename, text, []

    def problem(self, word: str | None, message: str) -> None:
        self.problems.append(Problem(self.filename, _line_of(self.text, word) if word else None, None, message))

    def process(self, where: str, meanings, earlier: bool = False) -> Entries:
        if not isinstance(meanings, dict):
            self.problem(where.split(".")[0], f"{where}: 必须是 含义 → 元素列表 的映射（must map meanings to element ids）")
            return {}
        out: Entries = {}
        for meaning, value in meanings.items():
            if meaning == EARLIER and not earlier:
                continue  # read on its own
            if meaning not in MEANINGS:
                self.problem(str(meaning), f"{where}: 未知的元素含义“{meaning}”，可用：{'、'.join(MEANINGS)}"
                                           f"（unknown meaning {meaning}）")
                continue
            entries = _mapped(value) if meaning in MAPPED else _listed(value)
            if entries is None:
                wanted = "元素编号 → 值 的映射（a mapping of element ids）" if meaning in MAPPED \
                    else "元素编号的列表（a list of element ids）"
                self.problem(str(meaning), f"{where}.{meaning}: 需要{wanted}")
                continue
            out[str(meaning)] = entries
        return out


def _listed(value) -> dict[str, None] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(e, str) and e for e in value):
        return None
    return dict.fromkeys(value)


def _mapped(value) -> dict[str, str | None] | None:
    if not isinstance(value, dict) or not value:
        return None
    if not all(isinstance(k, str) and k and isinstance(v, str | int) and str(v) for k, v in value.items()):
        return None
    return {k: str(v) for k, v in value.items()}


def _line_of(text: str, word: str, start: int = 1) -> int | None:
    """The first line from line `start` on that names `word` (as a whole word, outside comments)."""
    pattern = re.compile(rf"(?<![\w]){re.escape(word)}(?![\w])")
    for number, line in enumerate(text.splitlines(), 1):
        if number >= start and not line.lstrip().startswith("#") and pattern.search(line):
            return number
    return None


def element_ids(process: CompiledProcess) -> set[str]:
    """The ids of every element inside the process (its embedded subprocesses included)."""
    found: set[str] = set()
    for name, source in process.sources.items():
        if not name.lower().endswith(".bpmn"):
            continue
        root = safe_parse_xml(source.encode("utf-8"), name).getroot()
        for element in root.iter(f"{{{BPMN_NS}}}process"):
            if element.get("id") == process.process_id:
                found.update(e.get("id") for e in element.iter() if isinstance(e.tag, str) and e.get("id"))
    return found


@lru_cache(maxsize=4)
def _meanings_from(path: str, mtime: float) -> ElementMeanings:
    return ElementMeanings.load(path)


def meanings_at(path: Path | str) -> ElementMeanings:
    """The meanings in the file at `path`, re-read when the file changes."""
    path = Path(path)
    return _meanings_from(str(path), path.stat().st_mtime)


def default_meanings() -> ElementMeanings:
    """The meanings in processes/meanings.yaml, re-read when the file changes."""
    return meanings_at(DEFAULT_FILE)


def elements(meaning: str) -> frozenset[str]:
    """The element ids that have `meaning` in any process (processes/meanings.yaml)."""
    return default_meanings().elements(meaning)


def deploy_check(path: Path | str = DEFAULT_FILE) -> Callable[[list[CompiledProcess]], list[Problem]]:
    """A check for `Runtime(bundle_checks=...)`: refuses a deployment whose processes lack an element that their
    declared meanings name, when a meaning the code reads is declared by no process, or when the meanings file
    itself is wrong."""
    def check(compiled: list[CompiledProcess]) -> list[Problem]:
        if not Path(path).is_file():
            return []  # a deployment without meanings: nothing declared, nothing to check
        try:
            meanings = ElementMeanings.load(path)
        except MeaningsProblem as exc:
            return exc.problems
        return meanings.undeclared_problems() + [problem for process in compiled
                                                 for problem in meanings.problems_for(process)]
    return check
