"""Element meanings: which BPMN element of a process is the triage, the rating, the confidential route (检举控告 to the discipline organ), or a task that contacts the petitioner.

They are declared in `processes/meanings.yaml`, by process id, and the code asks for a meaning
(`elements("confidential_route")`) instead of naming element ids. Deploy checks them (`deploy_check`): every
element a meaning names must exist in the process being deployed, and every meaning must be one the code knows;
a deployment that breaks this is refused with the file, the element and the reason.

An element id may stand in several processes; `elements(meaning)` is the union over them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from engine.definitions import BPMN_NS, CompiledProcess, Problem, safe_parse_xml

FILE_NAME = "meanings.yaml"
DEFAULT_FILE = Path(__file__).resolve().parent.parent / "processes" / FILE_NAME

# meaning -> what it means (shown in problems and in docs/designer-guide-meanings.md)
MEANINGS = {
    "triage": "分流研判（登记后第一个待办）",
    "rating": "回访并记录满意度",
    "confidential_route": "保密的去向（检举控告移送纪检监察机关）",
    "contacts_petitioner": "与信访人联系的待办（可看完整个人信息）",
}


class MeaningsProblem(ValueError):
    """The meanings file cannot be read; `problems` names each thing to fix."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class ElementMeanings:
    by_process: dict[str, dict[str, tuple[str, ...]]]
    filename: str = FILE_NAME
    text: str = ""

    @classmethod
    def from_text(cls, text: str, filename: str = FILE_NAME) -> ElementMeanings:
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise MeaningsProblem([Problem(filename, None, None, f"YAML 格式错误（invalid YAML）：{exc}")]) from exc
        if not isinstance(doc, dict):
            raise MeaningsProblem([Problem(filename, None, None,
                                           "顶层必须是 流程编号 → 含义 的映射（top level must map process ids to meanings）")])
        problems: list[Problem] = []
        by_process: dict[str, dict[str, tuple[str, ...]]] = {}
        for process_id, meanings in doc.items():
            by_process[str(process_id)] = _read_process(str(process_id), meanings, filename, text, problems)
        if problems:
            raise MeaningsProblem(problems)
        return cls(by_process, filename, text)

    @classmethod
    def load(cls, path: Path | str = DEFAULT_FILE) -> ElementMeanings:
        path = Path(path)
        return cls.from_text(path.read_text(encoding="utf-8"), path.name)

    def elements(self, meaning: str) -> frozenset[str]:
        if meaning not in MEANINGS:
            raise LookupError(f"没有元素含义“{meaning}”（unknown meaning; known: {', '.join(MEANINGS)}）")
        return frozenset(e for meanings in self.by_process.values() for e in meanings.get(meaning, ()))

    def problems_for(self, process: CompiledProcess) -> list[Problem]:
        """The declared meanings of `process` that name an element the process does not have."""
        declared = self.by_process.get(process.process_id)
        if not declared:
            return []
        present = element_ids(process)
        return [Problem(self.filename, _line_of(self.text, element), element,
                        f"流程 {process.process_id} 中没有元素 {element}，不能作为“{meaning}”（{MEANINGS[meaning]}）；"
                        f"请在 {self.filename} 中改为现有元素（process {process.process_id} has no element "
                        f"{element} for meaning {meaning}）")
                for meaning, elements in declared.items() for element in elements if element not in present]


def _read_process(process_id: str, meanings, filename: str, text: str, problems: list[Problem]):
    if not isinstance(meanings, dict):
        problems.append(Problem(filename, _line_of(text, process_id), None,
                                f"{process_id}: 必须是 含义 → 元素列表 的映射（must map meanings to element ids）"))
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for meaning, elements in meanings.items():
        if meaning not in MEANINGS:
            problems.append(Problem(filename, _line_of(text, str(meaning)), None,
                                    f"{process_id}: 未知的元素含义“{meaning}”，可用：{'、'.join(MEANINGS)}"
                                    f"（unknown meaning {meaning}）"))
            continue
        if isinstance(elements, str):
            elements = [elements]
        if not isinstance(elements, list) or not elements or not all(isinstance(e, str) and e for e in elements):
            problems.append(Problem(filename, _line_of(text, str(meaning)), None,
                                    f"{process_id}.{meaning}: 需要元素编号的列表（a list of element ids is needed）"))
            continue
        out[str(meaning)] = tuple(elements)
    return out


def _line_of(text: str, word: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.lstrip().startswith("#") and word in line:
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


def default_meanings() -> ElementMeanings:
    """The meanings in processes/meanings.yaml, re-read when the file changes."""
    return _meanings_from(str(DEFAULT_FILE), DEFAULT_FILE.stat().st_mtime)


def elements(meaning: str) -> frozenset[str]:
    """The element ids that have `meaning` in any process (processes/meanings.yaml)."""
    return default_meanings().elements(meaning)


def deploy_check(path: Path | str = DEFAULT_FILE) -> Callable[[list[CompiledProcess]], list[Problem]]:
    """A check for `Runtime(bundle_checks=...)`: refuses a deployment whose processes lack an element that their
    declared meanings name (or when the meanings file itself is wrong)."""
    def check(compiled: list[CompiledProcess]) -> list[Problem]:
        if not Path(path).is_file():
            return []  # a deployment without meanings: nothing declared, nothing to check
        try:
            meanings = ElementMeanings.load(path)
        except MeaningsProblem as exc:
            return exc.problems
        return [problem for process in compiled for problem in meanings.problems_for(process)]
    return check
