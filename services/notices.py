"""The notice catalogue (processes/notices.yaml): every notice a case sends, with its text, its fields, its
channels, the copy kept in the outbox and the document it stands for. The one home of notice wording: the
`notify` handler and the services that send notices (services/notify.py), the outbox copies, the supervision and
escalation inboxes and the printed documents (services/documents.py) all read it here.

`deploy_check` is registered with the runtime by the composition root: a deployment (and the designer's check)
is refused when the catalogue is wrong (a placeholder or outbox field that the notice does not list, an unknown
channel, outbox template or document) or when a process's `notify` task names a notice or a field the catalogue
does not have. Each problem names the file and the notice key, or the BPMN file and element.
"""
from __future__ import annotations

import ast
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from engine.definitions import BPMN_NS, SPIFF_NS, CompiledProcess, Problem, safe_parse_xml
from infra import yaml_docs
from services.notify_templates import TemplateCatalogue, TemplateProblem

FILE_NAME = "notices.yaml"
DEFAULT_FILE = Path(__file__).resolve().parent.parent / "processes" / FILE_NAME
CHANNELS = ("journal", "sms", "inapp", "email")
TODAY = "@today"


class NoticeProblem(ValueError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class OutboxCopy:
    channel: str
    template: str
    fields: dict[str, str]  # outbox template field -> "field", "field|default" or "@today"


@dataclass(frozen=True)
class Notice:
    key: str
    text: str
    en: str | None
    fields: tuple[str, ...]
    channels: tuple[str, ...]
    outbox: OutboxCopy | None
    document: str | None

    def outbox_fields(self, fields: dict[str, Any], today: str) -> dict[str, Any]:
        """The fields of this notice's outbox copy, from the notice's own fields and the day of the step."""
        if self.outbox is None:
            return {}
        return {target: _field_value(source, fields, today) for target, source in self.outbox.fields.items()}


def _field_value(source: str, fields: dict[str, Any], today: str) -> Any:
    if source == TODAY:
        return today
    name, _, default = source.partition("|")
    return fields.get(name) or (today if default == TODAY else default)  # "served_on|@today": the day of the step


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@dataclass(frozen=True)
class NoticeCatalogue:
    notices: dict[str, Notice]
    documents: dict[str, str]
    filename: str = FILE_NAME
    text: str = ""

    @classmethod
    def load(cls, path: Path | str = DEFAULT_FILE) -> NoticeCatalogue:
        path = Path(path)
        return cls.from_text(path.read_text(encoding="utf-8"), path.name)

    @classmethod
    def from_text(cls, text: str, filename: str = FILE_NAME) -> NoticeCatalogue:
        try:
            doc = yaml_docs.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise NoticeProblem([Problem(filename, None, None, f"YAML 格式错误（invalid YAML）：{exc}")]) from exc
        problems: list[Problem] = []
        if not isinstance(doc, dict) or not isinstance(doc.get("notices"), dict) \
                or not isinstance(doc.get("documents", {}), dict):
            raise NoticeProblem([Problem(filename, None, None, "需要 notices（通知键 → 通知）和 documents（文书种类 → "
                                         "名称）两个映射（notices and documents must be mappings）")])
        documents = {str(k): str(v) for k, v in (doc.get("documents") or {}).items()}
        notices = {}
        for key, spec in doc["notices"].items():
            notice = _read_notice(str(key), spec, documents, lambda k, m: problems.append(
                Problem(filename, _line_of(text, f"{k}:"), None, f"{k}: {m}")))
            if notice is not None:
                notices[str(key)] = notice
        if problems:
            raise NoticeProblem(problems)
        return cls(notices, documents, filename, text)

    def get(self, key: str) -> Notice:
        found = self.notices.get(key)
        if found is None:
            raise LookupError(f"没有通知模板“{key}”（unknown notice template; known: {', '.join(self.notices)}）")
        return found

    def inbox_template(self, key: str) -> str:
        """The outbox template of the in-app copy that notice `key` leaves in the offices' inbox."""
        outbox = self.get(key).outbox
        if outbox is None or outbox.channel != "inapp":
            raise LookupError(f"通知“{key}”没有站内副本（notice {key} has no in-app copy in {self.filename}）")
        return outbox.template

    # ---- deploy

    def outbox_problems(self, templates: TemplateCatalogue) -> list[Problem]:
        """Outbox copies naming a template the outbox catalogue lacks, or leaving out a field its latest version
        needs (its example's fields)."""
        problems = []
        for notice in self.notices.values():
            if notice.outbox is None:
                continue
            where = _line_of(self.text, f"{notice.key}:")
            try:
                needed = templates.get(notice.outbox.template, templates.latest(notice.outbox.template)).example
            except TemplateProblem as exc:
                problems.append(Problem(self.filename, where, None, f"{notice.key}: {exc}"))
                continue
            missing = sorted(set(needed) - set(notice.outbox.fields)) if notice.outbox.channel != "inapp" else []
            if missing:
                problems.append(Problem(self.filename, where, None,
                                        f"{notice.key}: 发件箱模板 {notice.outbox.template} 需要字段 {'、'.join(missing)}"
                                        f"（outbox fields missing: {', '.join(missing)}）"))
        return problems

    def process_problems(self, process: CompiledProcess) -> list[Problem]:
        """`notify` tasks of the process that name a notice, or pass a field, the catalogue does not have."""
        problems = []
        for name, root in _bpmn_roots(process):
            for task in root.iter(f"{{{BPMN_NS}}}serviceTask"):
                params = _notify_params(task)
                if params is None:
                    continue
                problems.extend(self._task_problems(name, task, params))
        return problems

    def _task_problems(self, file: str, task, params: dict[str, str]) -> list[Problem]:
        key = _literal(params.get("template"))
        if not isinstance(key, str):
            return []  # chosen at run time: checked when the step runs
        notice = self.notices.get(key)
        if notice is None:
            return [Problem(file, task.sourceline, task.get("id"),
                            f"通知目录 {self.filename} 中没有通知“{key}”（unknown notice {key}; known: "
                            f"{', '.join(self.notices)}）")]
        unknown = sorted(_dict_keys(params.get("fields")) - set(notice.fields) - {"case_no"})
        if unknown:
            return [Problem(file, task.sourceline, task.get("id"),
                            f"通知“{key}”没有字段 {'、'.join(unknown)}（{self.filename} 中列出的字段：{'、'.join(notice.fields)}）"
                            f"（unknown notice fields: {', '.join(unknown)}）")]
        return []


def _read_notice(key: str, spec, documents: dict[str, str], problem: Callable[[str, str], None]) -> Notice | None:
    if not isinstance(spec, dict) or not isinstance(spec.get("text"), str) or not spec["text"].strip():
        problem(key, "需要 text（通知的文字）（a notice needs text）")
        return None
    fields = spec.get("fields") or []
    channels = spec.get("channels") or ["journal"]
    if not isinstance(fields, list) or not isinstance(channels, list):
        problem(key, "fields 和 channels 必须是列表（fields and channels must be lists）")
        return None
    fields, channels = tuple(str(f) for f in fields), tuple(str(c) for c in channels)
    for lang in ("text", "en"):
        unknown = sorted(placeholders(str(spec.get(lang) or "")) - set(fields))
        if unknown:
            problem(key, f"{lang} 中的占位符 {'、'.join(unknown)} 不在 fields 中（unknown placeholders）")
    for channel in channels:
        if channel not in CHANNELS:
            problem(key, f"未知的渠道“{channel}”，可用：{'、'.join(CHANNELS)}（unknown channel）")
    outbox = _read_outbox(key, spec.get("outbox"), fields, channels, problem)
    document = spec.get("document")
    if document is not None and document not in documents:
        problem(key, f"未知的文书“{document}”，可用：{'、'.join(documents)}（unknown document）")
    return Notice(key, spec["text"], spec.get("en"), fields, channels, outbox, document)


def _read_outbox(key: str, spec, fields: tuple[str, ...], channels: tuple[str, ...],
                 problem: Callable[[str, str], None]) -> OutboxCopy | None:
    copies = [c for c in channels if c != "journal"]
    if spec is None:
        if copies:
            problem(key, f"渠道 {'、'.join(copies)} 需要 outbox（发件箱副本）（channel needs an outbox copy）")
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("template"), str) \
            or spec.get("channel") not in CHANNELS or spec.get("channel") == "journal":
        problem(key, "outbox 需要 channel（sms、inapp、email）和 template（outbox needs channel and template）")
        return None
    if spec["channel"] not in channels:
        problem(key, f"outbox 的渠道 {spec['channel']} 不在 channels 中（outbox channel not among channels）")
    mapping = spec.get("fields") or {}
    if not isinstance(mapping, dict):
        problem(key, "outbox.fields 必须是 模板字段 → 通知字段 的映射（outbox fields must be a mapping）")
        return None
    for target, source in mapping.items():
        name = str(source).partition("|")[0]
        if source != TODAY and name not in fields:
            problem(key, f"outbox 字段 {target} 取自未列出的字段“{name}”（unknown field for outbox field {target}）")
    return OutboxCopy(spec["channel"], spec["template"], {str(k): str(v) for k, v in mapping.items()})


def _line_of(text: str, start: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith(start):
            return number
    return None


def _bpmn_roots(process: CompiledProcess):
    for name, source in process.sources.items():
        if name.lower().endswith(".bpmn"):
            yield name, safe_parse_xml(source.encode("utf-8"), name).getroot()


def _notify_params(task) -> dict[str, str] | None:
    operator = task.find(f".//{{{SPIFF_NS}}}serviceTaskOperator")
    if operator is None or operator.get("id") != "notify":
        return None
    return {p.get("id"): p.get("value") or "" for p in operator.iter(f"{{{SPIFF_NS}}}parameter")}


def _literal(expression: str | None):
    try:
        return ast.literal_eval(expression) if expression else None
    except (ValueError, SyntaxError):
        return None


def _dict_keys(expression: str | None) -> set[str]:
    """The literal keys of a dict expression (`{"reason": non_accept_reason}`); none for anything else."""
    try:
        node = ast.parse(expression or "", mode="eval").body
    except SyntaxError:
        return set()
    if not isinstance(node, ast.Dict):
        return set()
    return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


@lru_cache(maxsize=4)
def _catalogue_from(path: str, mtime: float) -> NoticeCatalogue:
    return NoticeCatalogue.load(path)


def default_catalogue() -> NoticeCatalogue:
    """The catalogue in processes/notices.yaml, re-read when the file changes."""
    return _catalogue_from(str(DEFAULT_FILE), DEFAULT_FILE.stat().st_mtime)


def deploy_check(path: Path | str = DEFAULT_FILE,
                 templates: Path | str | None = None) -> Callable[[list[CompiledProcess]], list[Problem]]:
    """A check for `Runtime(bundle_checks=...)`: the catalogue at `path`, its outbox copies against the outbox
    templates (the folder `templates`), and every `notify` task of the deployed processes against it."""
    def check(compiled: list[CompiledProcess]) -> list[Problem]:
        if not Path(path).is_file():
            return []  # a deployment without a catalogue of its own (the shipped one is read at run time)
        try:
            catalogue = NoticeCatalogue.load(path)
        except NoticeProblem as exc:
            return exc.problems
        problems = []
        if templates is not None:
            try:
                problems.extend(catalogue.outbox_problems(TemplateCatalogue.load(templates)))
            except TemplateProblem as exc:
                problems.append(Problem(str(templates), None, None, str(exc)))
        for process in compiled:
            problems.extend(p for p in catalogue.process_problems(process) if p not in problems)
        return problems
    return check
