"""Process definitions: checking and deploying BPMN/DMN bundles, and loading a deployed version's specs.

A deployment stores each process of the bundle as a new version when its content changed (unchanged ones are
reused), with what the runtime needs to know without parsing again: user tasks, timers, sequence flows and the
called subprocesses. Loaded specs are cached per definition id for the life of the process.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from SpiffWorkflow.version import __version__ as spiff_version
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, sessionmaker

from . import sandbox
from .calendar.repository import remember_version_key, version_key_columns
from .definitions import DefinitionError, SourceFile, compile_bundle, load_specs, safe_parse_xml
from .errors import Invalid, NotFound
from .handlers import HandlerRegistry
from .journal import to_json
from .role_mapping import RoleCatalogue
from .scripting import check_decision_results
from .store import Case, Deployment, ProcessDefinition

# Compiled bundles by content (immutable results, shared by every runtime in the process; bounded).
_COMPILED_BUNDLES: dict[str, list] = {}


@dataclass
class DeployedVersion:
    process_key: str
    name: str
    version: int
    definition_id: int
    content_hash: str
    created: bool
    view_only: bool = False  # isExecutable="false": stored and listed, never started


class Definitions:
    """Deployed process versions: deploy, list, load (cached)."""

    def __init__(self, session_factory: sessionmaker, read_sessions: sessionmaker, handlers: HandlerRegistry,
                 helper_names: set[str], decision_rules: dict, bundle_checks: list | None = None,
                 role_catalogue: Callable[[], RoleCatalogue] | None = None):
        self.session_factory = session_factory
        self.read_sessions = read_sessions
        self.handlers = handlers
        self.helper_names = helper_names
        # Types and bounds of decision outputs (engine.definitions.DecisionRules), by decision id: checked at
        # deploy, and on every result at run time.
        self.decision_rules = decision_rules
        # Checks of a compiled bundle that the engine does not know the reasons of (the processes' declared
        # element meanings, the notices they send): each returns Problems, and any problem refuses the bundle.
        self.bundle_checks = list(bundle_checks or [])
        # role_catalogue: the organisation's roles and the lane table, read at each deploy (designers edit it)
        self.role_catalogue = role_catalogue
        self.specs: dict[int, tuple] = {}
        self.meta: dict[int, dict] = {}

    def load(self, s: Session, definition_id: int):
        spec = self.specs.get(definition_id)
        if spec is None:
            row = s.get(ProcessDefinition, definition_id)
            if row is None:
                raise NotFound(f"流程定义 {definition_id} 不存在（no such definition）")
            if not row.spec_json:
                raise Invalid(view_only_message(row.process_key), {"process_key": row.process_key})
            spec = load_specs(row.spec_json)
            check_decision_results(spec, self.decision_rules)
            self.specs[definition_id] = spec
            meta = json.loads(row.meta_json or "{}")
            meta["version"] = row.version
            self.meta[definition_id] = meta
        return spec

    def version(self, s: Session, definition_id: int) -> int:
        """The definition's version number, from the loaded definitions (loading it if need be) rather than from its
        row with its sources and spec."""
        self.load(s, definition_id)
        return self.meta[definition_id]["version"]

    def compile(self, files: list) -> list:
        # A bundle that needs nothing from earlier deployments compiles to the same result every time: keep it,
        # so that `lianxin init` on every start (and tests) do not re-parse unchanged diagrams.
        roles = self.role_catalogue() if self.role_catalogue is not None else None
        bundle_key = hashlib.sha256(b"\0".join(
            f.name.encode("utf-8") + b"\0" + hashlib.sha256(f.content).digest()
            for f in sorted(files, key=lambda f: f.name))
            + "|".join(sorted(self.handlers.names()) + ["#"] + sorted(self.helper_names) + ["#"]
                       + [f"{k}={type(v).__qualname__}:{id(v)}" for k, v in sorted(self.decision_rules.items())]
                       + ["#", roles.cache_key() if roles is not None else "-"]
                       ).encode()
        ).hexdigest()
        compiled = _COMPILED_BUNDLES.get(bundle_key)
        if compiled is None:
            used_external: list[str] = []
            with self.read_sessions() as rs:
                compiled = compile_bundle(
                    files, handler_names=self.handlers.names(), check_expression=sandbox.check_expression,
                    check_script=sandbox.check_script, known_functions=self.helper_names | sandbox.BUILTIN_NAMES,
                    resolve_external=self._resolver(rs, used_external), decision_rules=self.decision_rules,
                    roles=roles,
                )
            if not used_external:
                if len(_COMPILED_BUNDLES) >= 16:
                    _COMPILED_BUNDLES.pop(next(iter(_COMPILED_BUNDLES), None), None)
                _COMPILED_BUNDLES[bundle_key] = compiled
        problems = [problem for check in self.bundle_checks for problem in check(compiled)]
        if problems:
            raise DefinitionError(problems)
        return compiled

    @staticmethod
    def _resolver(rs: Session, used_external: list[str]) -> Callable:
        def resolve_external(process_id: str):
            used_external.append(process_id)
            row = latest(rs, process_id)
            if row is None:
                return None
            return [SourceFile(name, text.encode("utf-8")) for name, text in json.loads(row.sources_json).items()]

        return resolve_external

    def deploy(self, files, actor: str, now, comment: str = "") -> list[DeployedVersion]:
        files = list(files)
        compiled = self.compile(files)
        with self.session_factory() as s, s.begin():
            return self.deploy_in(s, compiled, files, actor, now, comment)

    def deploy_in(self, s: Session, compiled: list, files: list, actor: str, now,
                  comment: str = "") -> list[DeployedVersion]:
        """Store the compiled bundle's new versions in the caller's transaction (which commits or rolls back)."""
        by_id = {cp.process_id: {"user_tasks": cp.user_tasks, "timers": cp.timers} for cp in compiled}
        deployment = Deployment(at=now, actor=actor, comment=comment,
                                files=to_json(sorted({f.name for f in files})))
        s.add(deployment)
        s.flush()
        out = []
        for cp in compiled:
            existing = s.scalar(select(ProcessDefinition).where(
                ProcessDefinition.process_key == cp.process_id,
                ProcessDefinition.content_hash == cp.content_hash))
            if existing is not None:
                out.append(DeployedVersion(cp.process_id, existing.name, existing.version, existing.id,
                                           existing.content_hash, False, not cp.is_executable))
                continue
            row = self._new_version(s, cp, by_id, deployment.id, actor, now)
            out.append(DeployedVersion(cp.process_id, row.name, row.version, row.id, row.content_hash, True,
                                       not cp.is_executable))
        return out

    def _new_version(self, s: Session, cp, by_id: dict, deployment_id: int, actor: str, now) -> ProcessDefinition:
        # a non-executable process (isExecutable="false") is kept as a view-only model: no spec to load
        _, subprocess_specs = load_specs(cp.spec_json) if cp.is_executable else (None, {})
        user_tasks, timers = dict(cp.user_tasks), dict(cp.timers)
        for sub_id in subprocess_specs:
            sub = by_id.get(sub_id) or self._compiled_external(s, sub_id)
            if sub is None:
                timers["?"] = {"unknown": sub_id}  # can't tell: keep the timer query on
                continue
            for k, v in sub["user_tasks"].items():
                user_tasks.setdefault(k, v)
            timers.update(sub["timers"])
        newest = s.scalar(select(func.max(ProcessDefinition.version)).where(
            ProcessDefinition.process_key == cp.process_id)) or 0
        row = ProcessDefinition(
            process_key=cp.process_id, name=cp.name or cp.process_id, version=newest + 1,
            content_hash=cp.content_hash, spec_json=cp.spec_json,
            sources_json=json.dumps(cp.sources, ensure_ascii=False),
            meta_json=to_json({"user_tasks": user_tasks, "timers": timers,
                               "flows": sequence_flows(cp.sources),
                               "subprocesses": sorted(subprocess_specs),
                               "executable": cp.is_executable}),
            library_version=spiff_version, deployment_id=deployment_id, deployed_at=now, deployed_by=actor,
        )
        s.add(row)
        s.flush()
        return row

    def forget(self, definition_ids) -> None:
        """Drop cached specs of versions whose transaction rolled back (their ids may be handed out again)."""
        for definition_id in definition_ids:
            self.specs.pop(definition_id, None)
            self.meta.pop(definition_id, None)

    @staticmethod
    def _compiled_external(s: Session, process_key: str) -> dict | None:
        row = latest(s, process_key)
        return None if row is None else json.loads(row.meta_json or "{}")

    def list(self) -> list[dict]:
        with self.read_sessions() as s:
            rows = s.execute(select(ProcessDefinition.id, ProcessDefinition.process_key, ProcessDefinition.name,
                                    ProcessDefinition.version, ProcessDefinition.content_hash,
                                    ProcessDefinition.deployed_at, ProcessDefinition.deployed_by,
                                    (ProcessDefinition.spec_json == "").label("view_only"))
                             .order_by(ProcessDefinition.process_key, ProcessDefinition.version)).all()
            counts = dict(s.execute(select(Case.definition_id, func.count()).where(
                Case.status != "completed").group_by(Case.definition_id)).all())
        out: dict[str, dict] = {}
        for r in rows:
            entry = out.setdefault(r.process_key, {"key": r.process_key, "name": r.name, "versions": []})
            entry["name"] = r.name
            entry["view_only"] = bool(r.view_only)  # as its latest version: isExecutable="false", cannot start
            entry["versions"].append({"id": r.id, "version": r.version, "content_hash": r.content_hash,
                                      "deployed_at": r.deployed_at, "deployed_by": r.deployed_by,
                                      "view_only": bool(r.view_only), "open_cases": counts.get(r.id, 0)})
        return list(out.values())


def latest(s: Session, process_key: str) -> ProcessDefinition | None:
    return s.scalar(select(ProcessDefinition).where(ProcessDefinition.process_key == process_key)
                    .order_by(ProcessDefinition.version.desc()).limit(1))


# (id, process_key, version) of a definition: what starting a case needs, without the row's sources, spec and
# metadata (hundreds of kilobytes of text read and kept per start otherwise). The calendar's version key
# (engine.calendar.repository) is read with it: a start that computes a deadline (a registration does, for the
# triage's limit) reads it anyway, and on PostgreSQL that was a round trip of its own.
_VERSION_ROW = select(ProcessDefinition.id, ProcessDefinition.process_key, ProcessDefinition.version,
                      *version_key_columns())


# Built once, the key a parameter: every start asks, and building the statement cost about as much as running it.
_LATEST_VERSION_ROW = _VERSION_ROW.where(ProcessDefinition.process_key == bindparam("process_key")) \
    .order_by(ProcessDefinition.version.desc()).limit(1)


def latest_version(s: Session, process_key: str):
    """`_VERSION_ROW` of the process's latest version, or None."""
    return _remembered(s, s.execute(_LATEST_VERSION_ROW, {"process_key": process_key}).first())


def version_of(s: Session, definition_id: int):
    """`_VERSION_ROW` of one definition, or None."""
    return _remembered(s, s.execute(_VERSION_ROW.where(ProcessDefinition.id == definition_id)).first())


def _remembered(s: Session, row):
    if row is not None:
        remember_version_key(s, row.calendar_years, row.calendar_versions)
    return row


def view_only_message(process_key: str) -> str:
    return (f"流程 {process_key} 是仅供查看的模型（isExecutable=\"false\"），不能启动；请在建模器中把它设为可执行后重新部署"
            f"（process {process_key} is a view-only model, isExecutable=\"false\": make it executable in the "
            f"modeller and deploy it again to start cases）")


def sequence_flows(sources: dict[str, str]) -> list[list[str]]:
    """[flow id, source element, target element] of every sequence flow in the sources (already validated)."""
    out = []
    for name, text in sources.items():
        if not name.endswith(".bpmn"):
            continue
        root = safe_parse_xml(text.encode("utf-8"), name).getroot()
        for flow in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}sequenceFlow"):
            out.append([flow.get("id"), flow.get("sourceRef"), flow.get("targetRef")])
    return out
