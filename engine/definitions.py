"""Safe loading, validation and compilation of process definitions (BPMN, DMN, JSON Schema forms).

Why this module exists: a definition is uploaded by a designer and then runs for months. Every mistake that
SpiffWorkflow would only notice when a case reaches the faulty element (a misspelt handler, an unquoted ISO
duration, a form that does not exist), or would never notice at all (elements it silently drops), has to be
reported here, at deploy time, with file, line and element id. Nothing is returned unless the whole bundle is
clean, so a deploy is all or nothing.

Lianxin's conventions in BPMN
-----------------------------
* Files are parsed with `SpiffWorkflow.spiff.parser.process.SpiffBpmnParser`, so Spiff's extensions apply:
  - service task: `<spiffworkflow:serviceTaskOperator id="handler_name" resultVariable="...">` with
    `<spiffworkflow:parameters><spiffworkflow:parameter id="p" type="str" value="python expression"/>`;
    the handler name must be registered (`handler_names`). Its id must differ from every element id: Spiff
    indexes every element carrying an `id`, so such an operator hides the element and breaks parsing.
  - user task and other properties: `<spiffworkflow:properties><spiffworkflow:property name=".." value=".."/>`;
  - business rule task: `<spiffworkflow:calledDecisionId>decision_id</spiffworkflow:calledDecisionId>`.
* Lianxin namespace `xmlns:lianxin="urn:lianxin:bpmn"`. Every `bpmn:lane` of an executable process carries
  `lianxin:role="<role name>"`: the candidate role of the user tasks in that lane. A user task may override it
  with the properties `role` and `unit` (and `role_expression`, a role read from the case data, the lane's role
  the fallback), and names its form with the property `form`: the file name of a JSON
  Schema (e.g. `register.schema.json`) that is in the bundle or can be resolved (`resolve_form`).
  With a role catalogue (`roles`, see `engine.role_mapping`) a model drawn elsewhere needs no lianxin:role: a
  user task's potentialOwner/humanPerformer/performer, a lane named like a role, or the lane table name it.
* Timer events: the text of timeDate / timeDuration / timeCycle is a Python expression, e.g. `workdays(3)`,
  `days(60)`, `workdays(limit_days)` or `"P3D"`, or a bare ISO 8601 literal as the BPMN standard writes it
  (`PT2H`, `P7D`, `2027-03-01T09:00:00+08:00`, `R6/P1D`). A bare literal is checked here (an invalid one is a
  problem naming the event) and compiled as the quoted string, since Spiff would read `P7D` as a variable name;
  a bare date without a zone is taken as Beijing time rather than the server's.
* Conditions, timer expressions, service parameters, loop conditions and DMN cells must pass the sandbox's
  `check_expression`; scripts (script tasks, pre/post scripts) must pass `check_script`. Expressions may call only
  the functions in `known_functions` (pass every callable name the script environment offers, safe builtins such
  as `len` included); method calls (`x.get(...)`) and plain variable names are not checked. Text is checked as
  written: a condition that starts with a newline and an indent is an error in Python's `eval` too.
* A decision whose outputs have declared types and bounds (`decision_rules`, e.g. the deadline settings of
  `services.deadline_settings`, handed in by the composition root) is checked cell by cell: one problem per bad
  cell naming the table, the rule (with its inputs) and the column. Processes that hand such an output to
  `workdays`/`days` must use the helper of its declared day type.
* Processes with `isExecutable="false"` (e.g. the petitioner's pool drawn for documentation) are only checked for
  well-formedness and schema; they come back with `is_executable=False` and an empty `spec_json`, and cannot be
  called or started (they are stored as view-only models). A file holding no executable process is never handed
  to SpiffWorkflow; in a file that does, data stores are refused (Spiff has no implementation for them).

What SpiffWorkflow 3.2.0 cannot run, reported as problems instead of being dropped
-------------------------------------------------------------------------------
complexGateway (parse error when reached, dropped when not), transaction (no compensation in Spiff),
adHocSubProcess (Lianxin has no way to choose its activities), compensation (events and `isForCompensation`),
link events (parsed as plain events: the jump is lost), signal end events (parsed as plain end events: no signal
is sent), error/escalation start events (parsed as none start events: the event subprocess runs as soon as the
process starts), timers on throw events, `eventDefinitionRef`, boundary events without a definition, conditions on
flows leaving anything but an exclusive/inclusive gateway and conditions on default flows (ignored), resource
assignments such as `potentialOwner` (ignored by Spiff: read here through the role catalogue, refused without one), DMN hit policies other than UNIQUE/FIRST/COLLECT and
COLLECT aggregations (ignored), more than one decision per DMN file (only the first is read), and any flow node
that Spiff does not reach from a start event (silently left out of the spec).

Security: uploads are parsed by `safe_parse_xml` only (no DOCTYPE at all, no entities, no DTD, no network, 5 MB
limit, any encoding the file declares read by lxml from the bytes, the DOCTYPE scan run on a decoded copy, and bounds on elements, nesting and attributes checked in one walk before anything else reads the tree);
SpiffWorkflow is handed the parsed tree and never opens a file itself.
"""
from __future__ import annotations

import ast
import codecs
import difflib
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.metadata import version as _package_version
from pathlib import Path
from typing import Protocol

from jsonschema import Draft202012Validator, SchemaError
from jsonschema.validators import validator_for
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine import bounded_json, form_facts
from engine.clock import SHANGHAI
from engine.condition_translation import foreign_language, suggest_python
from engine.role_mapping import ASSIGNMENT_TAGS, RoleCatalogue, assignments, resources_of

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_FILE_LABEL = "5 MB"
# The shape of a document a modeller writes, with a wide margin (the processes shipped here have at most 1,837
# elements, 5 attributes on one element and 8 levels). A file past any of these is refused right after parsing,
# before the schema check and anything else walks it: an element with 200,000 attributes made every schema error
# look the element's id up among all its attributes (quadratic), and kept a thread busy for over ten minutes.
MAX_ATTRIBUTES_PER_ELEMENT = 64
MAX_ATTRIBUTES = 20_000  # in the whole file: libxml2's schema check slows more than linearly with its errors
MAX_ELEMENTS = 20_000
MAX_XML_DEPTH = 64
# Schema errors reported per file: the first ones say what is wrong; thousands more say nothing new.
MAX_SCHEMA_PROBLEMS = 100

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
LIANXIN_NS = "urn:lianxin:bpmn"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS, "lianxin": LIANXIN_NS}
ROLE_ATTR = f"{{{LIANXIN_NS}}}role"
# `lianxin:kind="reminder"` on a timer: it reminds before a deadline (催办 at yellow) and is no deadline itself, so
# it is left out of due dates, deadline lists and alerts; recomputation and stop-the-clock move it with its deadline.
KIND_ATTR = f"{{{LIANXIN_NS}}}kind"
TIMER_KINDS = {"reminder"}

SPEC_FORMAT = "lianxin.spec/1"
FILE_KINDS = {".bpmn": "bpmn", ".dmn": "dmn", ".json": "form"}

# How the encoding of an upload is told before lxml reads it: a byte-order mark, the first two characters of
# `<?xml` in UTF-16 without a mark (XML 1.0, appendix F), or else the declaration (ASCII-compatible encodings).
_BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
_UNMARKED = [(b"<\x00\x00\x00", "utf-32-le"), (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00?\x00", "utf-16-le"),
             (b"\x00<\x00?", "utf-16-be")]
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_DECLARATION_IN_TEXT = re.compile(r"^(\ufeff?\s*<\?xml[^>]*?encoding\s*=\s*[\"'])([^\"']+)([\"'])")

FLOW_NODE_TAGS = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
}
CONDITIONAL_GATEWAYS = {"exclusiveGateway", "inclusiveGateway"}

# Which event definitions SpiffWorkflow 3.2.0's parsers read on each kind of event (bpmn/parser/event_parsers.py).
# Any other definition is silently replaced by a "none" event, which changes what the model does.
SUPPORTED_EVENT_DEFINITIONS = {
    "startEvent": {"messageEventDefinition", "signalEventDefinition", "timerEventDefinition",
                   "conditionalEventDefinition"},
    "endEvent": {"messageEventDefinition", "cancelEventDefinition", "errorEventDefinition",
                 "escalationEventDefinition", "terminateEventDefinition"},
    "intermediateCatchEvent": {"messageEventDefinition", "signalEventDefinition", "timerEventDefinition",
                               "conditionalEventDefinition"},
    "intermediateThrowEvent": {"escalationEventDefinition", "messageEventDefinition", "signalEventDefinition"},
    "boundaryEvent": {"cancelEventDefinition", "errorEventDefinition", "escalationEventDefinition",
                      "messageEventDefinition", "signalEventDefinition", "timerEventDefinition",
                      "conditionalEventDefinition"},
}
EVENT_DEFINITION_TAGS = {
    "messageEventDefinition", "signalEventDefinition", "timerEventDefinition", "conditionalEventDefinition",
    "cancelEventDefinition", "errorEventDefinition", "escalationEventDefinition", "terminateEventDefinition",
    "compensateEventDefinition", "linkEventDefinition",
}
UNSUPPORTED_ELEMENTS = {
    "complexGateway": ("不支持复杂网关，请改用排他、包容或并行网关",
                       "complexGateway is not supported; use an exclusive, inclusive or parallel gateway"),
    "eventBasedGateway": ("不支持事件网关（等待先到的事件），请在等待的任务上挂边界事件（定时、消息），"
                          "先到者走它的出口",
                          "eventBasedGateway is not supported; attach boundary events (timer, message) to the "
                          "waiting task instead: the first to happen takes its flow"),
    "transaction": ("不支持事务子流程（SpiffWorkflow 没有补偿机制），请改用普通子流程",
                    "transaction is not supported: SpiffWorkflow has no compensation; use a subProcess"),
    "adHocSubProcess": ("不支持自由子流程，请用顺序流画出办理顺序",
                        ("adHocSubProcess is not supported: Lianxin cannot choose its activities; "
                         "model the order with sequence flows")),
}
RESOURCE_ROLE_TAGS = {"performer", "humanPerformer", "potentialOwner", "resourceRole"}
DMN_HIT_POLICIES = {"UNIQUE", "FIRST", "COLLECT"}
# SpiffWorkflow's parse errors, in Chinese first. Matched by prefix; anything else is passed through.
PARSER_MESSAGES = [
    ("Multiple outgoing flows are not supported", "任务只能有一条出口顺序流，分支请使用网关"),
    ("Non-default exclusive outgoing sequence flow without condition", "网关的非默认出口顺序流缺少条件"),
    ("No start event found", "流程缺少开始事件"),
    ("There is no support implemented for this task type", "SpiffWorkflow 不支持此元素"),
    ("A Service Task must have an operator", "服务任务缺少 spiffworkflow:serviceTaskOperator"),
    ("Exactly one start event is required in a SubWorkflow", "子流程必须有且只有一个开始事件"),
    ("A SubWorkflow Must contain an End event", "子流程缺少结束事件"),
    ("Duplicate process ID", "流程 id 重复"),
]

_DMN_QUESTION_MARK = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")  # as DMNEngine.evaluate

_xsd_lock = threading.Lock()  # lxml keeps a schema's error log on the schema object


# ---------------------------------------------------------------------------------------------------- public types

@dataclass(frozen=True)
class Problem:
    """One thing a designer must fix. `str()` gives the CLI/API line `file:line element_id: message`."""
    file: str
    line: int | None
    element_id: str | None
    message: str
    suggestion: str | None = None  # e.g. the Python for a JUEL/FEEL condition, for the designer to paste

    def __str__(self) -> str:
        return f"{self.file}:{self.line or 0} {self.element_id or '-'}: {self.message}"


class DefinitionError(Exception):
    """Every problem of a bundle at once, so a designer fixes them in one round instead of one per upload."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class SourceFile:
    name: str
    content: bytes


@dataclass
class CompiledProcess:
    """One startable process. `sources` and `content_hash` cover every file it needs (called processes, DMN,
    forms), so a deployed version is self-contained and identical content is recognised as the same version.

    `user_tasks` and `timers` list the elements of this process, embedded subprocesses included; a called
    process's own elements are in its own CompiledProcess. `timers[...]["interrupting"]` is None for
    intermediate catch events, where it has no meaning."""
    process_id: str
    name: str
    content_hash: str
    spec_json: str
    sources: dict[str, str]
    user_tasks: dict[str, dict]
    timers: dict[str, dict]
    is_executable: bool


Checker = Callable[[str], "str | None"]


@dataclass(frozen=True)
class DecisionCell:
    """One output cell of a decision table as a decision's own rules see it: rule number (1-based), the rule's
    input cells, the column's output name and label, and the text as written."""
    rule: int
    inputs: tuple[str, ...]
    output: str
    label: str
    text: str


@dataclass(frozen=True)
class DecisionTableView:
    decision_id: str
    name: str
    outputs: tuple[tuple[str, str], ...]  # (name, label) per column
    cells: tuple[DecisionCell, ...]


@dataclass(frozen=True)
class CellIssue:
    """What a decision's rules find wrong: in one cell (rule and output), in a column (rule None), or in the
    table (both None). The engine adds where it is: the table, the row and the column."""
    rule: int | None
    output: str | None
    zh: str
    en: str


class DecisionRules(Protocol):
    """Types and bounds of a decision's outputs, declared outside the engine (e.g. the deadline settings) and
    handed in by the composition root: checked at deploy on the cells as written, and at run time on the values
    the table gives, so a value deployed before a rule tightened is refused too, never used."""
    outputs: frozenset[str]
    # How each output is counted when a process passes it to a deadline helper (`workdays` or `days`), e.g.
    # {"limits.accept_days": "days"}: `workdays(limits["accept_days"])` is refused at deploy.
    day_functions: Mapping[str, str]

    def table_issues(self, table: DecisionTableView) -> list[CellIssue]: ...

    def result_issues(self, result: dict) -> list[str]: ...


# ---------------------------------------------------------------------------------------------------- safe parsing

def safe_parse_xml(content: bytes, filename: str) -> etree._ElementTree:
    """Parse an uploaded XML file without trusting it: the checks on the raw bytes run before lxml sees them,
    and lxml itself runs with entities, DTDs and network off (a second guard, not the first).

    The byte scan refuses any `<!DOCTYPE` or `<!ENTITY`, even one inside a comment: modelling tools never write
    them, so a false refusal costs less than a parser that gets to read one."""
    refusal = _refuse_before_parsing(content, filename)
    if refusal is not None:
        raise DefinitionError([refusal])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, collect_ids=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as err:
        raise DefinitionError([Problem(filename, err.lineno, None, _msg(
            "XML 格式错误，请修正该行后重新上传", f"malformed XML: {err.msg}"))]) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise DefinitionError([_doctype_problem(filename)])
    shape = _shape_problem(root, filename)
    if shape is not None:
        raise DefinitionError([shape])
    return tree


def _shape_problem(root: etree._Element, filename: str) -> Problem | None:
    """The first bound of MAX_ELEMENTS, MAX_XML_DEPTH, MAX_ATTRIBUTES_PER_ELEMENT or MAX_ATTRIBUTES that the
    document passes, as a problem; None when it is within all four. One walk, each element and attribute counted
    once."""
    depth = elements = attributes = 0
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        depth += 1
        elements += 1
        if elements > MAX_ELEMENTS:
            return Problem(filename, element.sourceline, None, _msg(
                f"文件中的元素超过 {MAX_ELEMENTS} 个，拒绝读取；请拆分流程或检查文件是否由建模器生成",
                f"more than {MAX_ELEMENTS} elements: split the process or check how the file was made"))
        if depth > MAX_XML_DEPTH:
            return Problem(filename, element.sourceline, None, _msg(
                f"元素嵌套超过 {MAX_XML_DEPTH} 层，拒绝读取；请检查文件是否由建模器生成",
                f"elements nested deeper than {MAX_XML_DEPTH} levels: check how the file was made"))
        if isinstance(element.tag, str):
            count = len(element.attrib)
            if count > MAX_ATTRIBUTES_PER_ELEMENT:
                return Problem(filename, element.sourceline, None, _msg(
                    f"元素 {etree.QName(element).localname} 有 {count} 个属性，超过上限 "
                    f"{MAX_ATTRIBUTES_PER_ELEMENT}，拒绝读取；请删除多余的属性",
                    f"an element with {count} attributes, over the limit of {MAX_ATTRIBUTES_PER_ELEMENT}: "
                    f"remove the extra attributes"))
            attributes += count
            if attributes > MAX_ATTRIBUTES:
                return Problem(filename, element.sourceline, None, _msg(
                    f"文件中的属性超过 {MAX_ATTRIBUTES} 个，拒绝读取；请拆分流程或检查文件是否由建模器生成",
                    f"more than {MAX_ATTRIBUTES} attributes in the file: split the process or check how the file "
                    f"was made"))
    return None


def _refuse_before_parsing(content: bytes, filename: str) -> Problem | None:
    """Size, encoding and DOCTYPE checks on the raw upload. The DOCTYPE scan reads a decoded copy, so that no
    encoding (UTF-16, UTF-7, EBCDIC...) can hide a declaration from it; lxml still parses the original bytes."""
    if len(content) > MAX_FILE_BYTES:
        return _too_large(filename, len(content))
    encoding = xml_encoding(content)
    try:
        text = content.decode(encoding)
    except LookupError:
        return Problem(filename, 1, None, _msg(
            f"无法识别文件声明的编码 {encoding}，请用 UTF-8 保存",
            f"unknown encoding {encoding}: save the file as UTF-8"))
    except UnicodeDecodeError as err:
        line = content[:err.start].count(b"\n") + 1 if encoding.startswith(("utf-8", "ascii")) else None
        return Problem(filename, line, None, _msg(
            f"文件内容不是它声明的编码 {encoding}，请在建模器中重新保存（建议 UTF-8）",
            f"the file is not valid {encoding} as it declares: save it again, preferably as UTF-8"))
    declaration = re.search(r"<!\s*(DOCTYPE|ENTITY)", text, re.IGNORECASE)
    if declaration:
        return _doctype_problem(filename, text[:declaration.start()].count("\n") + 1)
    return None


def xml_encoding(content: bytes) -> str:
    """The Python codec name of an XML document's encoding, as an XML processor determines it: byte-order mark,
    then the shape of an unmarked UTF-16/32 `<?xml`, then the declaration; UTF-8 when none says otherwise."""
    for mark, name in _BOMS:
        if content.startswith(mark):
            return name
    for start, name in _UNMARKED:
        if content.startswith(start):
            return name
    declared = _DECLARED_ENCODING.match(content)
    return declared.group(1).decode("ascii").lower() if declared else "utf-8"


def xml_text(content: bytes) -> str:
    """The document as text whose declaration says UTF-8, so that `text.encode("utf-8")` parses to the same tree
    (a stored ISO-8859-1 or GBK source is read back from UTF-8 text)."""
    text = content.decode(xml_encoding(content), errors="replace").lstrip("\ufeff")
    return _DECLARATION_IN_TEXT.sub(lambda m: m.group(1) + "UTF-8" + m.group(3), text, count=1)


def _doctype_problem(filename: str, line: int | None = None) -> Problem:
    return Problem(filename, line, None, _msg(
        "文件含有 DOCTYPE 或实体声明，出于安全原因拒绝读取；请删除后重新上传",
        "DOCTYPE and entity declarations are refused for security: remove them"))


def _too_large(filename: str, size: int) -> Problem:
    return Problem(filename, None, None, _msg(
        f"文件超过 {MAX_FILE_LABEL} 上限，拒绝读取",
        f"file is {size} bytes, over the {MAX_FILE_LABEL} limit"))


def collect_files(paths: list[str]) -> list[SourceFile]:
    """Read the files to deploy: given files as they are, folders searched for *.bpmn, *.dmn and *.json (hidden
    folders skipped). Sizes are checked before reading. Files are named by their base name, which is how user
    tasks refer to forms; two files with the same base name are reported by `compile_bundle`."""
    problems: list[Problem] = []
    found: list[SourceFile] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            candidates = sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in FILE_KINDS
                and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            candidates = [path]
        else:
            problems.append(Problem(str(given), None, None, _msg("找不到文件或目录", "no such file or folder")))
            continue
        for candidate in candidates:
            size = candidate.stat().st_size
            if size > MAX_FILE_BYTES:
                problems.append(_too_large(str(candidate), size))
                continue
            found.append(SourceFile(candidate.name, candidate.read_bytes()))
    if problems:
        raise DefinitionError(problems)
    return found


# ---------------------------------------------------------------------------------------------------- the bundle

@dataclass
class _Doc:
    """A parsed XML file. `usable` means it reached the schema-valid state SpiffWorkflow needs."""
    source: SourceFile
    kind: str
    tree: etree._ElementTree | None
    external: bool
    usable: bool = False
    ids: dict[str, etree._Element] = field(default_factory=dict)


@dataclass
class _Checks:
    handler_names: set[str]
    check_expression: Checker
    check_script: Checker
    known_functions: set[str]
    decision_rules: Mapping[str, DecisionRules] = field(default_factory=dict)
    roles: RoleCatalogue | None = None  # None: roles are not checked (lanes need lianxin:role)


class _Bundle:
    """Everything known about one deploy: the uploaded files, what was pulled in from deployed versions, the
    indexes that the checks share, and the problems found so far."""

    def __init__(self, checks: _Checks):
        self.checks = checks
        self.sources: dict[str, SourceFile] = {}
        self.docs: dict[str, _Doc] = {}
        self.forms: dict[str, bool] = {}  # name -> valid
        self.external: set[str] = set()
        self.process_file: dict[str, str] = {}
        self.process_el: dict[str, etree._Element] = {}
        self.decision_file: dict[str, str] = {}
        self.problems: list[Problem] = []
        self.blocked: set[str] = set()  # processes not handed to SpiffWorkflow: their problems are reported
        self.unreadable: set[str] = set()  # kinds of file ("bpmn", "dmn") of which one could not be read

    # -- problems

    def add(self, file: str, element: etree._Element | None, zh: str, en: str, element_id: str | None = None,
            suggestion: str | None = None):
        line = element.sourceline if element is not None else None
        if element_id is None and element is not None:
            element_id = _nearest_id(element)
        self.problems.append(Problem(file, line, element_id, _msg(zh, en), suggestion))

    def reported(self) -> set[tuple[str, str | None]]:
        return {(p.file, p.element_id) for p in self.problems}

    # -- files

    def add_file(self, source: SourceFile, external: bool) -> None:
        name = source.name
        if name in self.sources:
            if not external:
                self.add(name, None, "文件名重复，同一次部署中每个文件名只能出现一次",
                         "duplicate file name in this deploy")
            return
        kind = FILE_KINDS.get(Path(name).suffix.lower())
        if kind is None:
            self.add(name, None, "不支持的文件类型，只接受 .bpmn、.dmn 和 .json（表单）",
                     "unsupported file type; only .bpmn, .dmn and .json (forms) are accepted")
            return
        self.sources[name] = source
        if external:
            self.external.add(name)
        if kind == "form":
            self.forms[name] = _check_form(self, source)
            return
        try:
            tree = safe_parse_xml(source.content, name)
        except DefinitionError as err:
            self.problems.extend(err.problems)
            self.docs[name] = _Doc(source, kind, None, external)
            self.unreadable.add(kind)
            return
        doc = _Doc(source, kind, tree, external)
        # Extension elements (Spiff's operators and parameters) carry ids that are handler or parameter names,
        # not element ids: keeping them out is what lets the clash check below see the real element.
        doc.ids = {el.get("id"): el for el in tree.iter()
                   if isinstance(el.tag, str) and el.get("id") and etree.QName(el).namespace != SPIFF_NS}
        self.docs[name] = doc
        if kind == "bpmn":
            self._index_bpmn(doc)
        else:
            self._index_dmn(doc)

    def _index_bpmn(self, doc: _Doc) -> None:
        root = doc.tree.getroot()
        name = doc.source.name
        if root.tag != f"{{{BPMN_NS}}}definitions":
            self.add(name, root, "不是 BPMN 2.0 文件（根元素应为 bpmn:definitions）",
                     "not a BPMN 2.0 file: the root must be bpmn:definitions")
            return
        doc.usable = _xsd_valid(self, doc, VALIDATOR, "BPMN 2.0")
        for process in root.findall("bpmn:process", NS):
            pid = process.get("id")
            if pid in self.process_file:
                self.add(name, process, f"流程 id \"{pid}\" 已在 {self.process_file[pid]} 中定义，请改用其他 id",
                         f"process id already defined in {self.process_file[pid]}")
                doc.usable = False
                continue
            self.process_file[pid] = name
            self.process_el[pid] = process

    def _index_dmn(self, doc: _Doc) -> None:
        root = doc.tree.getroot()
        name = doc.source.name
        namespace = etree.QName(root).namespace
        if etree.QName(root).localname != "definitions" or namespace not in DMN_SCHEMAS:
            self.add(name, root, "不是受支持的 DMN 文件（支持 DMN 1.1、1.2、1.3）",
                     f"not a supported DMN file; namespaces: {', '.join(sorted(DMN_SCHEMAS))}")
            return
        if root.nsmap.get(None) != namespace and root.nsmap.get("dmn") != namespace:
            self.add(name, root, "DMN 命名空间必须是默认命名空间或使用前缀 dmn",
                     "bind the DMN namespace as the default namespace or to the prefix dmn")
            return
        doc.usable = _xsd_valid(self, doc, _dmn_validator(namespace), "DMN")
        for index, decision in enumerate(root.findall(f"{{{namespace}}}decision")):
            did = decision.get("id")
            if index > 0:
                self.add(name, decision, "每个 DMN 文件只能包含一个决策，请把其余决策拆到单独的文件",
                         "SpiffWorkflow reads only the first decision of a DMN file; split the file")
                doc.usable = False  # Spiff's DMN parser crashes on such a file
                continue
            if did in self.decision_file:
                self.add(name, decision, f"决策 id \"{did}\" 已在 {self.decision_file[did]} 中定义",
                         f"decision id already defined in {self.decision_file[did]}")
                doc.usable = False
                continue
            self.decision_file[did] = name

    # -- things referenced but not uploaded

    def resolve(self, resolve_external, resolve_form, resolve_decision) -> None:
        """Pull in deployed files for call targets, decisions and forms the upload refers to but does not hold,
        until nothing new arrives (a called process may call further ones)."""
        asked: set[tuple[str, str]] = set()
        while True:
            wanted = self._missing_references() - asked
            if not wanted:
                return
            for kind, key in sorted(wanted):
                asked.add((kind, key))
                resolver = {"process": resolve_external, "form": resolve_form, "decision": resolve_decision}[kind]
                if resolver is None:
                    continue
                result = resolver(key)
                for source in ([result] if isinstance(result, SourceFile) else (result or [])):
                    self.add_file(source, external=True)

    def _missing_references(self) -> set[tuple[str, str]]:
        missing = set()
        for process in self.process_el.values():
            for call in process.iter(f"{{{BPMN_NS}}}callActivity"):
                target = call.get("calledElement")
                if target and target not in self.process_file:
                    missing.add(("process", target))
            for rule in process.iter(f"{{{BPMN_NS}}}businessRuleTask"):
                decision = _decision_ref(rule)
                if decision and decision not in self.decision_file:
                    missing.add(("decision", decision))
            for task in process.iter(f"{{{BPMN_NS}}}userTask"):
                form = _properties(task).get("form")
                if form and form not in self.sources:
                    missing.add(("form", form))
        return missing

    # -- dependencies

    def closure(self, pid: str) -> tuple[set[str], set[str]]:
        """(file names, process ids) that the process needs, transitively."""
        files: set[str] = set()
        seen: set[str] = set()
        stack = [pid]
        while stack:
            current = stack.pop()
            if current in seen or current not in self.process_el:
                continue
            seen.add(current)
            files.add(self.process_file[current])
            process = self.process_el[current]
            for call in process.iter(f"{{{BPMN_NS}}}callActivity"):
                if call.get("calledElement"):
                    stack.append(call.get("calledElement"))
            for rule in process.iter(f"{{{BPMN_NS}}}businessRuleTask"):
                if _decision_ref(rule) in self.decision_file:
                    files.add(self.decision_file[_decision_ref(rule)])
            for task in process.iter(f"{{{BPMN_NS}}}userTask"):
                form = _properties(task).get("form")
                if form in self.sources:
                    files.add(form)
        return files, seen


# ---------------------------------------------------------------------------------------------------- entry point

def compile_bundle(files: list[SourceFile], *, handler_names: set[str], check_expression: Checker,
                   check_script: Checker, known_functions: set[str],
                   resolve_external: Callable[[str], list[SourceFile] | None] | None = None,
                   resolve_form: Callable[[str], SourceFile | None] | None = None,
                   resolve_decision: Callable[[str], SourceFile | None] | None = None,
                   decision_rules: Mapping[str, DecisionRules] | None = None,
                   roles: RoleCatalogue | None = None,
                   ) -> list[CompiledProcess]:
    """Validate a bundle and compile each top-level process of the uploaded files.

    `resolve_external(process_id)` returns the sources of the deployed version that defines a called process
    not in the bundle (e.g. that version's `CompiledProcess.sources` as SourceFiles), or None. The optional
    `resolve_form(file_name)` and `resolve_decision(decision_id)` do the same for a form or a DMN decision that a
    process of the bundle uses but the bundle does not hold; each returns one SourceFile or None. Resolved files are used, hashed and copied into `sources`, but not re-linted: they were
    checked when they were deployed. `decision_rules` maps a decision id to the types and bounds of its cells
    (one problem per bad cell). `roles` (the organisation's roles and the lane table) lets a lane's name or a
    task's potentialOwner/humanPerformer/performer name the role (see `engine.role_mapping`); every bad row of
    the lane table is a problem. Raises DefinitionError with every problem; returns nothing partial."""
    bundle = _Bundle(_Checks(set(handler_names), check_expression, check_script, set(known_functions),
                             dict(decision_rules or {}), roles))
    _check_lane_table(bundle)
    for source in files:
        bundle.add_file(source, external=False)
    bundle.resolve(resolve_external, resolve_form, resolve_decision)

    for doc in list(bundle.docs.values()):
        if doc.external or doc.tree is None:
            continue
        if doc.kind == "bpmn":
            _lint_bpmn(bundle, doc)
        else:
            _lint_dmn(bundle, doc)

    parser = _spiff_parser(bundle)
    compiled = []
    for pid, process in bundle.process_el.items():
        name = bundle.process_file[pid]
        if name in bundle.external or not bundle.docs[name].usable:
            continue
        result = _compile_process(bundle, parser, pid, process)
        if result is not None:
            compiled.append(result)
        elif not bundle.problems:  # a safety net: a process is never left out without saying why
            bundle.add(name, process, "该流程未能编译", "process could not be compiled")
    if bundle.problems:
        raise DefinitionError(_ordered(bundle.problems))
    return compiled


def _ordered(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file, p.line or 0, p.element_id or "", p.message))


# ---------------------------------------------------------------------------------------------------- schema checks

def _xsd_valid(bundle: _Bundle, doc: _Doc, validator: BpmnValidator, standard: str) -> bool:
    """Run SpiffWorkflow's own XSD (with its extension schema), collecting every error, not only the last one
    as `BpmnValidator.validate` does."""
    with _xsd_lock:
        validator.preprocess(doc.tree)
        ok = validator.validator.validate(doc.tree)
        error_log = validator.validator.error_log
        errors = [(e.line, e.message) for e in error_log[:MAX_SCHEMA_PROBLEMS]]
        more = len(error_log) - len(errors)
    at_line = _elements_by_line(doc) if errors else {}
    for line, raw in errors:
        element = at_line.get(line)
        message = re.sub(r"\{[^}]*\}", "", raw)
        bundle.problems.append(Problem(doc.source.name, line, _nearest_id(element) if element is not None
                                       else None, _msg(f"不符合 {standard} 规范，请在建模器中修正",
                                                       f"{standard} schema: {message.rstrip('.')}")))
    if more > 0:
        bundle.problems.append(Problem(doc.source.name, None, None, _msg(
            f"另有 {more} 处不符合 {standard} 规范（只列出前 {MAX_SCHEMA_PROBLEMS} 处），请先修正上面的问题",
            f"{more} more {standard} schema errors not listed: fix the ones above first")))
    return ok


@cache
def _dmn_validator(namespace: str) -> BpmnValidator:
    return BpmnValidator(DMN_SCHEMAS[namespace])


def _elements_by_line(doc: _Doc) -> dict[int, etree._Element]:
    """The first element that starts on each line, from one walk (a lookup per schema error used to walk the
    whole tree each time)."""
    out: dict[int, etree._Element] = {}
    for element in doc.tree.iter():
        if isinstance(element.tag, str) and element.sourceline is not None:
            out.setdefault(element.sourceline, element)
    return out


# ---------------------------------------------------------------------------------------------------- BPMN checks

def _lint_bpmn(bundle: _Bundle, doc: _Doc) -> None:
    root = doc.tree.getroot()
    if _has_executable_process(root):
        # SpiffWorkflow refuses the whole file when a data store names no implementation it registered, and
        # Lianxin registers none: a case keeps its data in the case, so say which element is the cause.
        for store in root.iterfind("bpmn:dataStore", NS):
            bundle.add(doc.source.name, store, f"不支持数据存储“{store.get('name') or store.get('id')}”："
                       "可执行流程的数据保存在案件数据中；请删除数据存储及其引用，或把流程设为不可执行（仅供查看）",
                       "data stores are not supported in an executable process: case data lives in the case; "
                       "remove the data store and its references, or set isExecutable=\"false\" (view only)")
            doc.usable = False
    for process in root.findall("bpmn:process", NS):
        if bundle.process_el.get(process.get("id")) is not process or not _is_executable(process):
            continue
        checker = _ProcessChecker(bundle, doc, process)
        checker.run()


class _ProcessChecker:
    """Lianxin's own checks on one executable process, on the XML tree (independent of SpiffWorkflow, so they
    all run even when the parser would stop at the first error)."""

    def __init__(self, bundle: _Bundle, doc: _Doc, process: etree._Element):
        self.bundle = bundle
        self.doc = doc
        self.file = doc.source.name
        self.process = process
        self.pid = process.get("id")

    def add(self, element, zh, en, element_id=None, block=False, suggestion=None):
        self.bundle.add(self.file, element, zh, en, element_id, suggestion)
        if block:
            self.bundle.blocked.add(self.pid)

    def elements(self, tag: str):
        return self.process.iter(f"{{{BPMN_NS}}}{tag}")

    def run(self) -> None:
        self.lanes()
        self.unsupported()
        self.events()
        self.flows()
        self.user_tasks()
        self.service_tasks()
        self.business_rules()
        self.call_activities()
        self.timers()
        self.scripts()
        self.other_expressions()

    def lanes(self) -> None:
        catalogue = self.bundle.checks.roles
        for lane in self.elements("lane"):
            if (lane.get(ROLE_ATTR) or "").strip():
                continue
            label = lane.get("name") or lane.get("id")
            if catalogue is None:
                self.add(lane, f"泳道“{label}”缺少 lianxin:role，请填写该泳道办理人的角色",
                         'lane has no lianxin:role="<role name>"; add xmlns:lianxin="urn:lianxin:bpmn" and the role')
            elif _lane_role(lane, catalogue) is None and catalogue.lane_row(lane.get("name")) is None:
                self.add(lane, f"泳道“{label}”缺少 lianxin:role，泳道名也不是已有角色，角色映射表 {catalogue.file} "
                               f"中也没有这个泳道名：请填写 lianxin:role，或在“泳道角色映射”中为它指定角色；"
                               f"已有角色：{catalogue.known()}",
                         "the lane has no lianxin:role, its name is no role and the lane table does not map it; "
                         f"known roles: {_listing(catalogue.roles)}")

    def unsupported(self) -> None:
        for tag, (zh, en) in UNSUPPORTED_ELEMENTS.items():
            for element in self.elements(tag):
                self.add(element, zh, en, block=True)
        for element in self.process.iter():
            if not isinstance(element.tag, str):
                continue
            local = etree.QName(element).localname
            if element.get("isForCompensation") == "true":
                self.add(element, "不支持补偿活动", "compensation activities are not supported", block=True)
            if etree.QName(element).namespace == BPMN_NS and local in RESOURCE_ROLE_TAGS \
                    and not self.mapped_assignment(element):
                self.add(element, "办理人指派会被忽略，请用泳道的 lianxin:role 或 role 属性",
                         f"{local} is ignored by SpiffWorkflow; use the lane's lianxin:role or a role property")

    def mapped_assignment(self, element: etree._Element) -> bool:
        """With a role catalogue, a user task's potentialOwner/humanPerformer/performer is read (user_tasks)."""
        parent = element.getparent()
        return self.bundle.checks.roles is not None and etree.QName(element).localname in ASSIGNMENT_TAGS \
            and parent is not None and etree.QName(parent).localname == "userTask"

    def check_assignments(self, task: etree._Element) -> bool:
        """Whether the task names its role by a resource assignment; an unknown role is a problem on the task
        (and the task is then not also reported as having no role)."""
        catalogue = self.bundle.checks.roles
        if catalogue is None:
            return False
        found = assignments(task, resources_of(self.doc.tree.getroot()), catalogue)
        for a in found:
            if a.role is None:
                self.add(a.element, f"{a.tag} 指定的角色“{a.name or '（空）'}”不存在；已有角色：{catalogue.known()}",
                         f"{a.tag} names no known role ({a.name or 'empty'}); known: {_listing(catalogue.roles)}",
                         element_id=task.get("id"))
        return bool(found)

    def events(self) -> None:
        for event_tag, supported in SUPPORTED_EVENT_DEFINITIONS.items():
            for event in self.elements(event_tag):
                definitions = [child for child in event if isinstance(child.tag, str)
                               and etree.QName(child).localname in EVENT_DEFINITION_TAGS | {"eventDefinitionRef"}]
                if event_tag == "boundaryEvent" and not definitions:
                    self.add(event, "边界事件缺少事件定义", "boundary event without an event definition", block=True)
                for definition in definitions:
                    local = etree.QName(definition).localname
                    if local not in supported:
                        zh, en = _unsupported_event(event_tag, local)
                        self.add(definition, zh, en, element_id=event.get("id"), block=True)

    def flows(self) -> None:
        for flow in self.elements("sequenceFlow"):
            condition = flow.find("bpmn:conditionExpression", NS)
            if condition is None:
                continue
            source = self.doc.ids.get(flow.get("sourceRef"))
            source_tag = etree.QName(source).localname if source is not None else None
            if source_tag not in CONDITIONAL_GATEWAYS:
                self.add(flow, "只有排他网关和包容网关的出口条件会被计算，此条件会被忽略；请在前面加一个网关",
                         f"conditions on flows leaving a {source_tag} are ignored; put a gateway before the branch")
            elif source.get("default") == flow.get("id"):
                self.add(flow, "默认顺序流上的条件会被忽略，请删除条件或取消默认",
                         "the condition of a default flow is ignored; remove it or unset the default")
            else:
                self.expression(condition.text, flow, ("网关条件", "gateway condition"))

    def user_tasks(self) -> None:
        lane_of = _lanes_by_node(self.process)
        for task in self.elements("userTask"):
            props = _properties(task)
            lane = lane_of.get(task.get("id"))
            assigned = self.check_assignments(task)
            if lane is None and not props.get("role") and not assigned:
                # (a task in a lane without a role is covered by the lane's own problem)
                self.add(task, "用户任务没有候选角色：请把它放进带 lianxin:role 的泳道，或设置属性 role",
                         "user task has no candidate role: put it in a lane with lianxin:role or set property role")
            if props.get("unit"):
                # the unit is an expression over the case data (responsible_unit) or a quoted code ('city_bureau')
                self.expression(props["unit"], task, ("承办单位属性 unit", "property unit"))
            if props.get("role_expression"):
                # a role read from the case data (e.g. the supervising office's role); the lane's role stays the
                # fallback when it evaluates to nothing
                self.expression(props["role_expression"], task, ("角色属性 role_expression", "property role_expression"))
            form = props.get("form")
            if form is None:
                continue
            if not form.endswith(".json"):
                self.add(task, f"表单“{form}”应是 JSON Schema 文件名（以 .json 结尾）",
                         "property form must name a JSON Schema file, e.g. register.schema.json")
            elif form not in self.bundle.sources:
                self.add(task, f"找不到表单“{form}”，请把该文件一起上传",
                         f"form {form} is neither in this deploy nor deployed")
            elif not self.bundle.forms.get(form, False) and form in self.bundle.external:
                self.add(task, f"已部署的表单“{form}”不是有效的 JSON Schema", f"deployed form {form} is invalid")

    def service_tasks(self) -> None:
        handlers = self.bundle.checks.handler_names
        bpmn_ids = {i for i, el in self.doc.ids.items() if etree.QName(el).namespace == BPMN_NS}
        for task in self.elements("serviceTask"):
            operator = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
            if operator is None:
                self.add(task, "服务任务缺少 spiffworkflow:serviceTaskOperator，请选择处理程序",
                         f"service task without spiffworkflow:serviceTaskOperator; registered: {_listing(handlers)}",
                         block=True)
                continue
            name = operator.get("id") or ""
            if name not in handlers:
                self.add(operator, f"服务任务使用了未注册的处理程序 \"{name}\"{_did_you_mean_zh(name, handlers)}",
                         f"unknown service handler; registered: {_listing(handlers)}", element_id=task.get("id"))
            if name in bpmn_ids:
                self.add(operator, f"处理程序名 \"{name}\" 与元素 id 相同，SpiffWorkflow 会解析失败；请修改该元素的 id",
                         "a service operator id equal to an element id breaks SpiffWorkflow's parser; rename the "
                         "element", element_id=task.get("id"), block=True)
            for parameter in operator.iterfind("spiffworkflow:parameters/spiffworkflow:parameter", NS):
                if parameter.get("id") in bpmn_ids:
                    self.add(parameter, f"参数名 \"{parameter.get('id')}\" 与元素 id 相同，请改名",
                             "a parameter id equal to an element id breaks SpiffWorkflow's parser",
                             element_id=task.get("id"), block=True)
                if "value" in parameter.attrib:
                    where = (f"服务参数 {parameter.get('id')}", f"service parameter {parameter.get('id')}")
                    self.expression(parameter.get("value"), parameter, where, element_id=task.get("id"))

    def business_rules(self) -> None:
        for task in self.elements("businessRuleTask"):
            decision = _decision_ref(task)
            if not decision:
                self.add(task, "业务规则任务缺少 spiffworkflow:calledDecisionId，请选择 DMN 决策",
                         "business rule task without spiffworkflow:calledDecisionId", block=True)
            elif decision not in self.bundle.decision_file:
                if "dmn" in self.bundle.unreadable:  # it may well be in that file: fix it first
                    self.bundle.blocked.add(self.pid)
                    continue
                known = sorted(self.bundle.decision_file)
                self.add(task, f"找不到 DMN 决策 \"{decision}\"{_did_you_mean_zh(decision, known)}，请上传定义它的 .dmn 文件",
                         f"no DMN decision with this id; known: {_listing(known)}", block=True)

    def call_activities(self) -> None:
        for call in self.elements("callActivity"):
            target = call.get("calledElement")
            if not target:
                self.add(call, "调用活动缺少 calledElement，请填写被调用流程的 id",
                         "call activity without calledElement", block=True)
            elif target not in self.bundle.process_el:
                if "bpmn" in self.bundle.unreadable:  # it may well be in that file: fix it first
                    self.bundle.blocked.add(self.pid)
                    continue
                known = sorted(self.bundle.process_el)
                self.add(call, f"找不到被调用的流程 \"{target}\"{_did_you_mean_zh(target, known)}，请一起上传或先部署它",
                         f"called process is neither in this deploy nor deployed; known: {_listing(known)}",
                         block=True)
            elif not _is_executable(self.bundle.process_el[target]):
                self.add(call, f"被调用的流程 \"{target}\" 不可执行（isExecutable=\"false\"）",
                         "the called process is not executable", block=True)

    def timers(self) -> None:
        for definition in self.elements("timerEventDefinition"):
            event = definition.getparent()
            self.timer_kind(event)
            for kind, child in _timer_children(definition):
                self.timer(kind, child, event)
            if not _timer_children(definition):
                self.add(definition, "计时器缺少 timeDate、timeDuration 或 timeCycle", "timer without a time",
                         element_id=event.get("id"), block=True)

    def timer_kind(self, event: etree._Element) -> None:
        kind = event.get(KIND_ATTR)
        if kind is None:
            return
        if kind not in TIMER_KINDS:
            self.add(event, f"计时器的 lianxin:kind 只能是 reminder（临期提醒），收到“{kind}”",
                     f'lianxin:kind on a timer must be "reminder", got "{kind}"', block=True)
        elif etree.QName(event).localname != "boundaryEvent" or event.get("cancelActivity", "true") != "false":
            self.add(event, "临期提醒（lianxin:kind=\"reminder\"）必须是非中断的边界定时事件（cancelActivity=\"false\"）",
                     'a reminder timer must be a non-interrupting boundary event (cancelActivity="false")',
                     block=True)

    def timer(self, kind: str, child: etree._Element, event: etree._Element) -> None:
        text = child.text or ""
        stripped = text.strip()
        if not stripped:
            self.add(child, "计时器表达式为空", "empty timer expression", element_id=event.get("id"))
            return
        if _iso_timer_literal(stripped):
            # the standard's own notation (PT2H, P7D, R6/P1D, a date): compiled as the quoted literal
            if not _valid_iso_timer(kind, stripped):
                self.add(child, f"计时器值 {stripped} 不是有效的 ISO 8601 {_TIMER_KIND_ZH[kind]}，"
                                f"请按{_TIMER_KIND_EXAMPLE[kind]}的格式填写",
                         f"{stripped} is not a valid ISO 8601 {kind}: write it like {_TIMER_KIND_EXAMPLE[kind]}",
                         element_id=event.get("id"), block=True)
            return
        unit = _DAYS_WITH_UNIT.search(stripped)
        if unit:
            self.add(child, f"期限天数只写数字，不要写单位：把“{unit.group(0)}”改成“{unit.group(1)}”"
                            f"（是否按工作日计算由 workdays/days 决定）",
                     f"write the number of days without a unit: {unit.group(1)}", element_id=event.get("id"))
            return
        if not self.expression(text, child, ("计时器表达式", "timer expression"), element_id=event.get("id")):
            return
        literal = _string_literal(stripped)
        if literal is not None and not _valid_iso_timer(kind, literal):
            self.add(child, f"计时器值 \"{literal}\" 不是有效的 ISO 8601 {_TIMER_KIND_ZH[kind]}",
                     f"\"{literal}\" is not a valid ISO 8601 {kind}", element_id=event.get("id"))
        for days in _literal_deadline_days(stripped):
            self.add(child, f"期限天数必须是非负整数（如 5），收到 {days}",
                     f"deadline days must be a whole number >= 0, got {days}", element_id=event.get("id"))

    def scripts(self) -> None:
        for task in self.elements("scriptTask"):
            script = task.find("bpmn:script", NS)
            self.script(script.text if script is not None else "", script if script is not None else task,
                        ("脚本", "script"), task)
        for tag, zh in (("preScript", "前置脚本"), ("postScript", "后置脚本")):
            for script in self.process.iter(f"{{{SPIFF_NS}}}{tag}"):
                owner = script.getparent().getparent()
                self.script(script.text or "", script, (zh, tag), owner)

    def script(self, text, element, where, owner) -> None:
        error = self.bundle.checks.check_script(text or "")
        if error:
            self.add(element, f"{where[0]}无法通过检查：{error}",
                     "" if _bilingual(error) else f"{where[1]} rejected: {error}", element_id=_nearest_id(owner))

    def other_expressions(self) -> None:
        places = [
            ("standardLoopCharacteristics/bpmn:loopCondition", ("循环条件", "loop condition")),
            ("multiInstanceLoopCharacteristics/bpmn:loopCardinality", ("多实例数量", "loop cardinality")),
            ("multiInstanceLoopCharacteristics/bpmn:completionCondition", ("多实例完成条件", "completion condition")),
            ("conditionalEventDefinition/bpmn:condition", ("条件事件", "conditional event")),
        ]
        for path, where in places:
            for element in self.process.iterfind(f".//bpmn:{path}", NS):
                self.expression(element.text or "", element, where)

    def expression(self, text, element, where, element_id=None) -> bool:
        problem = _expression_problem(self.bundle.checks, text or "", where) \
            or _day_function_problem(self.bundle.checks, text or "")
        if problem:
            zh, en, suggestion = _with_translation(text or "", *problem)
            self.add(element, zh, en, element_id=element_id, suggestion=suggestion)
            return False
        return True


_TIMER_KIND_ZH = {"date": "日期时间", "duration": "时长", "cycle": "循环周期"}
_TIMER_KIND_EXAMPLE = {"date": "2027-03-01T09:00:00+08:00", "duration": "PT2H、P7D、P1DT12H",
                       "cycle": "R3/PT1H、R/P1D"}
# Text that is meant as an ISO 8601 literal rather than a Python expression: a duration (P...), a repetition
# (R.../...) or a date (2027-...). A Python expression never starts like this with a digit after P or R.
_ISO_LOOKING = re.compile(r"^(P(T?\d|\d)|R\d*/|\d{4}-)", re.IGNORECASE)


def _iso_timer_literal(text: str) -> bool:
    return bool(_ISO_LOOKING.match(text)) and not any(ch in text for ch in "\"'()")


def _quote_iso_timer_literals(specs: Iterable) -> None:
    """BPMN writes timer values as bare ISO 8601 text; SpiffWorkflow evaluates that text as Python, where `P7D`
    is an unknown name. Each bare literal (already checked by `_ProcessChecker.timer`) becomes the Python string
    with the same value in the compiled spec; the stored sources keep the designer's text. A date without a zone
    means the office's time (Beijing), not the server's, as SpiffWorkflow would read it."""
    for spec in specs:
        if spec is None:
            continue
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if isinstance(definition, TimerEventDefinition) and isinstance(definition.expression, str) \
                    and _iso_timer_literal(definition.expression.strip()):
                literal = "/".join(_in_office_zone(part) for part in definition.expression.strip().split("/"))
                definition.expression = repr(literal)


def _in_office_zone(part: str) -> str:
    if part[:1].upper() in ("P", "R") or "W" in part.upper():
        return part
    moment = datetime.fromisoformat(part)
    return part if moment.tzinfo is not None else moment.replace(tzinfo=SHANGHAI).isoformat()


def _unsupported_event(event_tag: str, definition: str) -> tuple[str, str]:
    if definition == "linkEventDefinition":
        return ("不支持链接事件：SpiffWorkflow 会把它当作普通事件，跳转会丢失；请直接画顺序流",
                "link events are parsed as plain events and the jump is lost; draw a sequence flow instead")
    if definition == "compensateEventDefinition":
        return "不支持补偿事件", "compensation events are not supported"
    if definition == "eventDefinitionRef":
        return ("不支持引用全局事件定义，请把事件定义写在事件内部",
                "eventDefinitionRef is ignored; put the event definition inside the event")
    if event_tag == "endEvent" and definition == "signalEventDefinition":
        return ("信号结束事件不会发出信号：请在普通结束事件前加一个信号中间抛出事件",
                ("a signal end event is parsed as a plain end event and sends nothing; "
                 "use an intermediate signal throw event before a plain end event"))
    if event_tag == "startEvent" and definition in {"errorEventDefinition", "escalationEventDefinition"}:
        return ("错误/升级开始事件会被当作普通开始事件，事件子流程会在流程启动时立即执行；请改用边界事件",
                (f"a start event with {definition} is parsed as a none start event, so the event subprocess "
                 "runs as soon as the process starts; use a boundary event instead"))
    if event_tag == "intermediateThrowEvent" and definition == "timerEventDefinition":
        return ("抛出事件不能带计时器，请改用中间捕获事件", "a throw event cannot carry a timer; use a catch event")
    return (f"{event_tag} 不支持 {definition}，SpiffWorkflow 会静默忽略它",
            f"{definition} on a {event_tag} is silently ignored by SpiffWorkflow")


# ---------------------------------------------------------------------------------------------------- expressions

def _expression_problem(checks: _Checks, text: str, where: tuple[str, str]) -> tuple[str, str] | None:
    """(zh, en) when the expression would fail at run time: rejected by the sandbox, or calling a function the
    script environment does not offer (the classic `workday(3)` for `workdays(3)`)."""
    if not text.strip():
        return f"{where[0]}为空", f"empty {where[1]}"
    error = checks.check_expression(text)
    if error:
        return f"{where[0]}无法编译：{error}", "" if _bilingual(error) else f"{where[1]} does not compile: {error}"
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        return f"{where[0]}语法错误：{err.msg}", f"{where[1]} is not a Python expression: {err.msg}"
    for name in _called_names(tree):
        if name not in checks.known_functions:
            return (f"{where[0]}调用了未知函数 \"{name}\"{_did_you_mean_zh(name, checks.known_functions)}",
                    f"unknown function {name} in {where[1]}; known: {_listing(checks.known_functions)}")
    return None


def _with_translation(text: str, zh: str, en: str) -> tuple[str, str, str | None]:
    """A condition in JUEL or FEEL is refused like any non-Python text, with the Python to write instead when
    the translation is simple (`engine.condition_translation`)."""
    language = foreign_language(text)
    if language is None:
        return zh, en, None
    suggestion = suggest_python(text)
    if suggestion is None or suggestion == text.strip():
        return (f"{zh}（这是 {language} 表达式，连心只计算 Python 表达式，请改写）",
                f"{en} (this is {language}; Lianxin evaluates Python: rewrite it)" if en else "", None)
    return (f"{zh}（这是 {language} 表达式，建议改写为 Python：{suggestion}）",
            f"{en} (this is {language}; suggested Python: {suggestion})" if en else "", suggestion)


# The deadline helpers that take a count first: working days, calendar days, calendar hours (urgent matters).
DEADLINE_HELPERS = ("workdays", "days", "hours")


def _day_function_problem(checks: _Checks, text: str) -> tuple[str, str] | None:
    """A setting with a declared day type handed to the other deadline helper: `workdays(limits["accept_days"])`
    would count working days where the rule counts calendar days, a wrong deadline on every case."""
    declared = {name: fn for rules in checks.decision_rules.values()
                for name, fn in getattr(rules, "day_functions", {}).items()}
    if not declared:
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in DEADLINE_HELPERS and node.args):
            continue
        arg = node.args[0]
        if isinstance(arg, ast.Subscript) and isinstance(arg.value, ast.Name) \
                and isinstance(arg.slice, ast.Constant) and isinstance(arg.slice.value, str):
            name = f"{arg.value.id}.{arg.slice.value}"
            wanted = declared.get(name)
            if wanted is not None and wanted != node.func.id:
                kind = {"workdays": "工作日", "hours": "小时（自然小时）"}.get(wanted, "日（自然日，末日逢休息日顺延）")
                written = f'{arg.value.id}["{arg.slice.value}"]'
                return (f"{written} 按{kind}计算（见时限设置的声明），请用 {wanted}(...) 而不是 {node.func.id}(...)",
                        f"{name} counts with {wanted}, not {node.func.id}")
    return None


def _called_names(tree: ast.AST) -> list[str]:
    return [node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]


_DAYS_WITH_UNIT = re.compile(r"(\d+)\s*(个?工作日|个?自然日|天|日)")


def _literal_deadline_days(text: str) -> list[str]:
    """Day counts written as literals in `workdays(n, ...)`/`days(n, ...)` that are not whole numbers >= 0: caught
    here rather than when a case reaches the timer."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return []
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in DEADLINE_HELPERS \
                and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.UnaryOp) and isinstance(arg.op, ast.USub) and isinstance(arg.operand, ast.Constant):
                bad.append(ast.unparse(arg))
            elif isinstance(arg, ast.Constant) and (not isinstance(arg.value, int) or isinstance(arg.value, bool)):
                bad.append(ast.unparse(arg))
    return bad


def _string_literal(text: str) -> str | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def _valid_iso_timer(kind: str, value: str) -> bool:
    """Run the literal through the same parsing SpiffWorkflow applies when the timer is reached."""
    try:
        if kind == "duration":
            TimerEventDefinition.parse_iso_duration(value)
        elif kind == "date":
            if "W" in value.upper():
                TimerEventDefinition.parse_iso_week(value)
            else:
                TimerEventDefinition.get_datetime(value)
        else:
            parts = value.upper().replace("--", "/").split("/")
            if not parts[0].startswith("R") or len(parts) not in (2, 3) or not (parts[0][1:] or "0").isdigit():
                return False
            # the forms SpiffWorkflow can repeat: R[n]/duration, R[n]/start/duration, R[n]/duration/end
            shapes = [isinstance(TimerEventDefinition.parse_time_or_duration(part), dict) for part in parts[1:]]
            if shapes not in ([True], [False, True], [True, False]):
                return False
    except Exception:  # noqa: BLE001 - Spiff's parsers raise bare Exception, ValueError, AttributeError...
        return False
    return True


# ---------------------------------------------------------------------------------------------------- DMN checks

def _lint_dmn(bundle: _Bundle, doc: _Doc) -> None:
    root = doc.tree.getroot()
    namespace = etree.QName(root).namespace
    if namespace not in DMN_SCHEMAS:
        return
    ns = {"dmn": namespace}
    name = doc.source.name
    for decision in root.findall("dmn:decision", ns):
        table = decision.find("dmn:decisionTable", ns)
        if table is None:
            bundle.add(name, decision, "只支持决策表形式的 DMN 决策", "only decision tables are supported")
            continue
        policy = (table.get("hitPolicy") or "UNIQUE").upper()
        if policy not in DMN_HIT_POLICIES:
            bundle.add(name, table, f"不支持命中策略 {policy}，请使用 UNIQUE、FIRST 或 COLLECT",
                       f"hit policy {policy} is not supported (it would act as FIRST); use UNIQUE, FIRST or COLLECT")
        if policy == "COLLECT" and table.get("aggregation"):
            bundle.add(name, table, "COLLECT 的聚合方式会被忽略（结果总是列表），请删除 aggregation",
                       "COLLECT aggregation is ignored by SpiffWorkflow (results are lists); remove it")
        for text in table.iterfind("dmn:input/dmn:inputExpression/dmn:text", ns):
            _dmn_expression(bundle, name, text, text.text or "", ("DMN 输入表达式", "DMN input expression"))
        for entry in table.iterfind("dmn:rule/dmn:inputEntry", ns):
            _dmn_input_cell(bundle, name, entry, ns)
        rules = bundle.checks.decision_rules.get(decision.get("id"))
        _dmn_output_cells(bundle, name, table, ns, rules)
        if rules is not None:
            _check_decision_rules(bundle, name, decision, table, ns, rules)


def _dmn_output_cells(bundle: _Bundle, name: str, table: etree._Element, ns: dict,
                      rules: DecisionRules | None) -> None:
    """Output cells must compile, except those of columns whose declared type checks them more closely."""
    typed = {o.get("name") for o in table.findall("dmn:output", ns)} & (rules.outputs if rules else set())
    for rule in table.findall("dmn:rule", ns):
        # A hostile table may have fewer or more entries than outputs: pair what is there.
        for output, entry in zip(table.findall("dmn:output", ns), rule.findall("dmn:outputEntry", ns), strict=False):
            text = entry.find("dmn:text", ns)
            if output.get("name") in typed:  # its type says more than "does not compile"
                continue
            if text is not None and (text.text or "").strip():
                _dmn_expression(bundle, name, entry, text.text, ("DMN 输出单元格", "DMN output cell"))


def _check_decision_rules(bundle: _Bundle, name: str, decision: etree._Element, table: etree._Element, ns: dict,
                          rules: DecisionRules) -> None:
    """Each issue the decision's own rules find, placed at its cell with the table, row and column named."""
    outputs = table.findall("dmn:output", ns)
    columns = tuple((o.get("name") or o.get("label") or "", o.get("label") or "") for o in outputs)
    cells, places = [], {}
    for number, rule in enumerate(table.findall("dmn:rule", ns), start=1):
        inputs = tuple((e.findtext("dmn:text", default="", namespaces=ns) or "").strip()
                       for e in rule.findall("dmn:inputEntry", ns))
        places[(number, None)] = rule
        for (column, label), entry in zip(columns, rule.findall("dmn:outputEntry", ns), strict=False):
            text = (entry.findtext("dmn:text", default="", namespaces=ns) or "").strip()
            cells.append(DecisionCell(number, inputs, column, label, text))
            places[(number, column)] = entry
    for output, (column, _) in zip(outputs, columns, strict=True):
        places[(None, column)] = output
    did, title = decision.get("id") or "", decision.get("name") or decision.get("id") or ""
    labels = dict(columns)
    input_labels = [i.get("label") or i.get("id") or "" for i in table.findall("dmn:input", ns)]
    view = DecisionTableView(did, title, columns, tuple(cells))
    for issue in rules.table_issues(view):
        where_zh, where_en = f"决策表“{title}”（{did}）", f"table {did}"
        if issue.rule is not None:
            cell = next((c for c in cells if c.rule == issue.rule), None)
            given = "，".join(f"{label}：{text if text not in ('', '-') else '任意'}"
                             for label, text in zip(input_labels, cell.inputs if cell else (), strict=False))
            where_zh += f"第 {issue.rule} 条规则" + (f"（{given}）" if given else "")
            where_en += f", rule {issue.rule}"
        if issue.output is not None:
            label = labels.get(issue.output)
            where_zh += f"的 {issue.output} 列" + (f"（{label}）" if label else "")
            where_en += f", column {issue.output}"
        element = next((places[key] for key in ((issue.rule, issue.output), (None, issue.output),
                                                 (issue.rule, None)) if key in places), table)
        bundle.add(name, element, f"{where_zh}：{issue.zh}", f"{where_en}: {issue.en}")


def _dmn_input_cell(bundle: _Bundle, name: str, entry: etree._Element, ns: dict) -> None:
    """Input cells are Python, tested by DMNEngine in one of three ways: with `?` standing for the input, as a
    value compared for equality, or as an operator tail (`< 1000`). A complete boolean such as `amount < 1000`
    parses as a value and is compared for equality with the input: it silently never matches."""
    text_el = entry.find("dmn:text", ns)
    text = (text_el.text or "").strip() if text_el is not None else ""
    if not text or text == "-":
        return
    where = ("DMN 输入单元格", "DMN input cell")
    if _DMN_QUESTION_MARK.search(text):
        candidates = [_DMN_QUESTION_MARK.sub("dmninputexpr", text)]
    else:
        candidates = [text, f"dmninputexpr {text}"]
        try:
            parsed = ast.parse(text, mode="eval").body
        except SyntaxError:
            parsed = None
        if isinstance(parsed, (ast.Compare, ast.BoolOp)) or (
                isinstance(parsed, ast.UnaryOp) and isinstance(parsed.op, ast.Not)):
            bundle.add(name, entry, f"DMN 输入单元格“{text}”是完整的布尔表达式，会被当作与输入值相等比较而永远不匹配；"
                       "请写成“< 1000”或“? < 1000”的形式",
                       "a full boolean in an input cell is compared for equality with the input and silently "
                       "mismatches; write '< 1000' or '? < 1000'")
            return
    problem = None
    for candidate in candidates:
        problem = _expression_problem(bundle.checks, candidate, where)
        if problem is None:
            return
    bundle.add(name, entry, problem[0], problem[1])


def _dmn_expression(bundle, name, element, text, where) -> None:
    problem = _expression_problem(bundle.checks, text, where)
    if problem:
        bundle.add(name, element, problem[0], problem[1])


# ---------------------------------------------------------------------------------------------------- forms

def _check_form(bundle: _Bundle, source: SourceFile) -> bool:
    """A form is a JSON Schema object; it is checked against its own metaschema (2020-12 unless `$schema`
    names another draft) so that a broken form is caught before a registrar opens it."""
    name = source.name
    if len(source.content) > MAX_FILE_BYTES:
        bundle.problems.append(_too_large(name, len(source.content)))
        return False
    try:
        schema = bounded_json.loads(source.content.decode("utf-8-sig"))
    except UnicodeDecodeError:
        bundle.add(name, None, "表单文件必须是 UTF-8 编码", "form files must be UTF-8")
        return False
    except bounded_json.JsonTooDeep as err:
        bundle.add(name, None, f"表单嵌套超过 {err.max_depth} 层，请简化表单结构",
                   f"the form nests deeper than {err.max_depth} levels: simplify it")
        return False
    except json.JSONDecodeError as err:
        bundle.problems.append(Problem(name, err.lineno, None, _msg("表单不是合法的 JSON", f"invalid JSON: {err.msg}")))
        return False
    if not isinstance(schema, dict):
        bundle.add(name, None, "表单 Schema 必须是 JSON 对象", "a form schema must be a JSON object")
        return False
    cls = validator_for(schema, default=None) if "$schema" in schema else Draft202012Validator
    if cls is None:
        bundle.add(name, None, f"未知的 $schema：{schema['$schema']}", "unknown $schema; use a JSON Schema draft URI",
                   element_id="$schema")
        return False
    try:
        cls.check_schema(schema)
    except SchemaError as err:
        bundle.add(name, None, "表单不是有效的 JSON Schema", f"invalid JSON Schema: {err.message}",
                   element_id=err.json_path)
        return False
    facts = form_facts.problems(schema)  # the decision facts it names must be a list of {key, title}
    for where, zh, en in facts:
        bundle.add(name, None, zh, en, element_id=where)
    return not facts


# ---------------------------------------------------------------------------------------------------- SpiffWorkflow

def _spiff_parser(bundle: _Bundle) -> SpiffBpmnParser:
    """A parser holding every usable tree of the bundle and its resolved files. XSD validation already ran (all
    errors collected), so the parser gets no validator of its own."""
    parser = SpiffBpmnParser()
    for name, doc in bundle.docs.items():
        if not doc.usable or (doc.kind == "bpmn" and not _has_executable_process(doc.tree.getroot())):
            continue  # a file of view-only processes is stored as it is: SpiffWorkflow never runs it
        try:
            if doc.kind == "bpmn":
                parser.add_bpmn_xml(doc.tree, filename=name)
            else:
                parser.add_dmn_xml(doc.tree.getroot(), filename=name)
                parser.dmn_parsers[_first_decision_id(doc)].parse()
        except Exception as err:  # noqa: BLE001 - any parser failure is a problem of this file
            doc.usable = False
            _report_parser_error(bundle, name, err, fallback=doc.tree.getroot())
    return parser


def _first_decision_id(doc: _Doc) -> str:
    root = doc.tree.getroot()
    return root.find(f"{{{etree.QName(root).namespace}}}decision").get("id")


def _compile_process(bundle: _Bundle, parser: SpiffBpmnParser, pid: str,
                     process: etree._Element) -> CompiledProcess | None:
    files, processes = bundle.closure(pid)
    name = _process_name(process)
    content_hash = _content_hash(bundle, files)
    sources = {f: _text(bundle, f) for f in sorted(files)}
    user_tasks = _user_task_table(process, bundle.checks.roles)
    timers = _timer_table(process)
    if not _is_executable(process):
        return CompiledProcess(pid, name, content_hash, "", sources, user_tasks, timers, False)
    if processes & bundle.blocked or any(not bundle.docs[f].usable for f in files if f in bundle.docs):
        return None
    try:
        spec = parser.get_spec(pid)
        subprocess_specs = parser.get_subprocess_specs(pid)
    except Exception as err:  # noqa: BLE001 - reported with file and line below
        _report_parser_error(bundle, bundle.process_file[pid], err, fallback=process)
        return None
    _check_reachable(bundle, pid, process, spec, subprocess_specs)
    _quote_iso_timer_literals([spec, *subprocess_specs.values()])
    spec_json = _serialize_specs(spec, subprocess_specs)
    return CompiledProcess(pid, name, content_hash, spec_json, sources, user_tasks, timers, True)


def _report_parser_error(bundle: _Bundle, default_file: str, err: Exception,
                         fallback: etree._Element | None = None) -> None:
    """Map SpiffWorkflow's exception to file/line/element. Its `line_number` is always empty for lxml nodes, so
    the line is found from the element id; an error naming no element is put on `fallback` (the process or the
    file's root), so that every problem has a line and an id. Skipped when that element already has a problem of
    ours."""
    element_id = getattr(err, "id", None) or None
    file = getattr(err, "file_name", None) or default_file
    doc = bundle.docs.get(file) or bundle.docs.get(default_file)
    element = doc.ids.get(element_id) if doc is not None and element_id else None
    if element is None and element_id is None and fallback is not None:
        element, element_id = fallback, fallback.get("id")
    if (file, element_id) in bundle.reported():
        return
    message = str(err.args[0]) if isinstance(err, ValidationException) and err.args else f"{type(err).__name__}: {err}"
    zh = next((z for prefix, z in PARSER_MESSAGES if message.startswith(prefix)), "SpiffWorkflow 无法解析")
    bundle.problems.append(Problem(file, element.sourceline if element is not None else None, element_id,
                                   _msg(zh, message.rstrip(". ") or type(err).__name__)))


def _check_reachable(bundle: _Bundle, pid: str, process: etree._Element, spec, subprocess_specs) -> None:
    """SpiffWorkflow builds a spec by following sequence flows from the start events; anything it does not reach
    is left out without a word. Report every flow node of the process that is missing from the compiled specs."""
    compiled = set(spec.task_specs)
    for sub in subprocess_specs.values():
        if sub is not None:
            compiled.update(sub.task_specs)
    file = bundle.process_file[pid]
    for element in process.iter():
        if not isinstance(element.tag, str) or etree.QName(element).namespace != BPMN_NS:
            continue
        if etree.QName(element).localname in FLOW_NODE_TAGS and element.get("id") not in compiled:
            bundle.add(file, element, "该元素无法从开始事件到达，SpiffWorkflow 会把它丢掉；请连上顺序流或删除它",
                       "not reachable from a start event: SpiffWorkflow leaves it out silently")


# ---------------------------------------------------------------------------------------------------- serialization

@cache
def _serializer() -> BpmnWorkflowSerializer:
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


def _serialize_specs(spec: BpmnProcessSpec, subprocess_specs: dict) -> str:
    """SpiffWorkflow 3.2.0 only serializes whole workflows, but its registry converts any spec on its own: the
    same dictionaries a workflow dump embeds under `spec` and `subprocess_specs`, without an instance."""
    serializer = _serializer()
    document = {
        "format": SPEC_FORMAT,
        "serializer_version": serializer.VERSION,
        "spiffworkflow": _package_version("SpiffWorkflow"),
        "spec": serializer.to_dict(spec),
        "subprocess_specs": {key: serializer.to_dict(value) for key, value in subprocess_specs.items()},
    }
    return json.dumps(document, ensure_ascii=False)


def load_specs(spec_json: str) -> tuple[BpmnProcessSpec, dict]:
    """The inverse of compilation: (spec, subprocess_specs) ready for `BpmnWorkflow(spec, subprocess_specs)`.
    Refuses another serializer version; recompile from the stored `sources` after a library upgrade."""
    document = json.loads(spec_json)
    serializer = _serializer()
    if document.get("format") != SPEC_FORMAT:
        raise ValueError(f"not a compiled Lianxin spec (format {document.get('format')!r})")
    if document.get("serializer_version") != serializer.VERSION:
        raise ValueError(f"spec was written by serializer {document.get('serializer_version')}, this is "
                         f"{serializer.VERSION}: recompile it from its sources")
    spec = serializer.from_dict(document["spec"])
    subprocess_specs = {key: serializer.from_dict(value) for key, value in document["subprocess_specs"].items()}
    return spec, subprocess_specs


# ---------------------------------------------------------------------------------------------------- tables

def _content_hash(bundle: _Bundle, files: set[str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        encoded = name.encode("utf-8")
        content = bundle.sources[name].content
        digest.update(len(encoded).to_bytes(8, "big") + encoded + len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def _text(bundle: _Bundle, name: str) -> str:
    content = bundle.sources[name].content
    doc = bundle.docs.get(name)
    if doc is not None and doc.tree is not None:
        return xml_text(content)
    return content.decode("utf-8", errors="replace")


def _user_task_table(process: etree._Element, catalogue: RoleCatalogue | None = None) -> dict[str, dict]:
    """Each user task's name, lane, role, unit and form. The role: the task's property, else its resource
    assignment, else its lane's lianxin:role, else its lane's name as a role or through the lane table."""
    lane_of = _lanes_by_node(process)
    resources = resources_of(process.getroottree().getroot())
    table = {}
    for task in process.iter(f"{{{BPMN_NS}}}userTask"):
        props = _properties(task)
        lane = lane_of.get(task.get("id"))
        assigned = next((a.role for a in assignments(task, resources, catalogue) if a.role), None) \
            if catalogue is not None else None
        table[task.get("id")] = {
            "name": task.get("name"),
            "lane": lane.get("name") if lane is not None else None,
            "role": props.get("role") or assigned or (_lane_role(lane, catalogue) if lane is not None else None),
            "unit": props.get("unit"),
            "form": props.get("form"),
        }
    return table


def _timer_table(process: etree._Element) -> dict[str, dict]:
    table = {}
    for definition in process.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
        event = definition.getparent()
        for kind, child in _timer_children(definition)[:1]:
            tag = etree.QName(event).localname
            if tag == "boundaryEvent":
                interrupting = event.get("cancelActivity", "true") != "false"
            elif tag == "startEvent":
                interrupting = event.get("isInterrupting", "true") != "false"
            else:
                interrupting = None
            table[event.get("id")] = {"kind": kind, "expression": (child.text or "").strip(),
                                      "attached_to": event.get("attachedToRef"), "interrupting": interrupting}
            if event.get(KIND_ATTR) == "reminder":
                table[event.get("id")]["reminder"] = True
    return table


def _timer_children(definition: etree._Element) -> list[tuple[str, etree._Element]]:
    found = []
    for tag, kind in (("timeDate", "date"), ("timeDuration", "duration"), ("timeCycle", "cycle")):
        child = definition.find(f"bpmn:{tag}", NS)
        if child is not None:
            found.append((kind, child))
    return found


def _lane_role(lane: etree._Element, catalogue: RoleCatalogue | None) -> str | None:
    """The lane's lianxin:role; else, with a catalogue, its name as a role or its row of the lane table."""
    own = (lane.get(ROLE_ATTR) or "").strip()
    if own or catalogue is None:
        return own or None
    row = catalogue.lane_row(lane.get("name"))
    return catalogue.role_named(lane.get("name")) or (catalogue.role_named(row.role) if row else None)


def _check_lane_table(bundle: _Bundle) -> None:
    """Every bad row of the lane table refuses the deploy, named by its line (the designers' page refuses them
    too; a hand-edited file is caught here)."""
    catalogue = bundle.checks.roles
    if catalogue is None:
        return
    for line, row, message in catalogue.problems:
        bundle.problems.append(Problem(catalogue.file, line, row, message))
    for row in catalogue.lanes:
        if catalogue.role_named(row.role) is None:
            bundle.problems.append(Problem(
                catalogue.file, row.line, row.lane,
                _msg(f"角色映射表把泳道“{row.lane}”映射到未知角色“{row.role}”；已有角色：{catalogue.known()}",
                     f"the lane table maps lane {row.lane} to an unknown role {row.role}")))


def _lanes_by_node(process: etree._Element) -> dict[str, etree._Element]:
    """As SpiffWorkflow decides it: the lane whose flowNodeRef lists the node, the innermost one winning."""
    lanes = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            if ref.text:
                lanes[ref.text.strip()] = lane
    return lanes


def _properties(element: etree._Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in element.iterfind(
        "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS) if p.get("name")}


def _decision_ref(element: etree._Element) -> str | None:
    ref = element.find("bpmn:extensionElements/spiffworkflow:calledDecisionId", NS)
    return (ref.text or "").strip() or None if ref is not None else None


def _is_executable(process: etree._Element) -> bool:
    return process.get("isExecutable", "true") == "true"


def _has_executable_process(root: etree._Element) -> bool:
    return any(_is_executable(process) for process in root.iterfind("bpmn:process", NS))


def _process_name(process: etree._Element) -> str:
    """bpmn-js puts the name of a pool on the participant, not on the process."""
    if process.get("name"):
        return process.get("name")
    pid = process.get("id")
    for participant in process.getroottree().getroot().iterfind("bpmn:collaboration/bpmn:participant", NS):
        if participant.get("processRef") == pid and participant.get("name"):
            return participant.get("name")
    return pid


def _nearest_id(element: etree._Element | None) -> str | None:
    while element is not None:
        if isinstance(element.tag, str) and element.get("id") and etree.QName(element).namespace != SPIFF_NS:
            return element.get("id")
        element = element.getparent()
    return None


# ---------------------------------------------------------------------------------------------------- wording

def _msg(zh: str, en: str) -> str:
    """Chinese first, English in brackets; a message that is already bilingual (the sandbox's) stays as is."""
    return f"{zh}（{en}）" if en else zh


def _bilingual(message: str) -> bool:
    """The sandbox's own messages already carry their English in brackets: don't say them twice."""
    return "(" in message and any("\u4e00" <= ch <= "\u9fff" for ch in message)


def _listing(names: Iterable[str], limit: int = 8) -> str:
    names = sorted(names)
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown + ("…" if len(names) > limit else "")


def _did_you_mean_zh(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f"，是否应为 \"{close[0]}\"？" if close else ""
