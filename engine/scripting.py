"""What BPMN scripts, service tasks and decision tables run with: the script engine that routes service tasks to
the handler registry (recording each call and its result, or answering from the record on replay), the handlers'
directory port, and decision tables whose outputs are checked."""
from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine

from .context import CommandContext, current_command, current_or_none, evaluating
from .effects import EffectContext, EffectError
from .errors import ReplayDiverged
from .handlers import HandlerContext, HandlerFailed, HandlerRegistry
from .journal import to_json
from .ports import DirectoryFactory


class LianxinScriptEngine(PythonScriptEngine):
    """Routes service tasks to the handler registry, recording each call and its result, and tells the
    deadline helpers which task is evaluating them (so a deadline is attributed to its timer)."""

    def __init__(self, environment, handlers: HandlerRegistry, ports: dict, sinks: dict,
                 directory: DirectoryFactory | None = None):
        # The "directory" port handlers read users by unit and role through (infra.accounts.MembershipDirectory,
        # handed in by the composition root): built on the command's session, so it reads what the command sees.
        self.directory = directory
        super().__init__(environment=environment)
        self.handlers = handlers
        self.ports = ports
        self.sinks = sinks

    def evaluate(self, task, expression, external_context=None):
        token = evaluating.set(task)
        try:
            return super().evaluate(task, expression, external_context)
        finally:
            evaluating.reset(token)

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        cmd = current_command()
        params = {k: v["value"] if isinstance(v, dict) and "value" in v else v
                  for k, v in (operation_params or {}).items()}
        element_id = task.task_spec.bpmn_id
        call = {"handler": operation_name, "element_id": element_id, "params": json.loads(to_json(params))}
        if cmd.recorded_results is not None:  # replay: the outside world answers as it answered then
            result = _recorded_result(cmd, operation_name, element_id)
        else:
            if is_confidential(task.task_spec) and cmd.case is not None:
                # before the handler: a route that fails (an incident) leaves the case hidden all the same
                cmd.case.confidential = True
            ports = dict(self.ports)
            if cmd.session is not None and self.directory is not None:
                ports.setdefault("directory", self.directory(cmd.session))
            ctx = HandlerContext(case_id=cmd.case_id, element_id=element_id, now=cmd.now, actor=cmd.actor,
                                 data=CopiedOnRead(task.data), ports=ports)
            try:
                result = self.handlers.call(operation_name, params, ctx)
                self._apply_effects(cmd, operation_name, element_id, ctx.effects)
            except HandlerFailed as exc:
                cmd.service_calls.append(dict(call, error=str(exc.original) or exc.original.__class__.__name__))
                raise
        text = to_json(result)  # once: the journal's copy and SpiffWorkflow's answer are read from the same text
        cmd.service_calls.append(dict(call, result=json.loads(text)))
        return text

    def _apply_effects(self, cmd: CommandContext, handler: str, element_id: str, effects) -> None:
        """Effects are written now, into the command's session: a malformed one fails the service task (an
        incident, retried with the handler), and none is written unless the whole step commits."""
        s = cmd.session
        staged_before = set(s.new)
        applied = []
        try:
            for i, (kind, payload) in enumerate(effects):
                sink = self.sinks.get(kind)
                if sink is None:
                    raise EffectError(f"未知的副作用 {kind}（unknown effect kind; known: {', '.join(sorted(self.sinks))}）")
                seq_hint = f"{cmd.case.last_seq}.{len(cmd.service_calls)}.{i}"
                outcome = sink(s, payload, EffectContext(cmd.case, element_id, cmd.now, cmd.actor, seq_hint))
                applied.append({"kind": kind, "element_id": element_id, "payload": json.loads(to_json(payload)),
                                "outcome": outcome})
        except EffectError as exc:
            for obj in set(s.new) - staged_before:  # all of this call's effects, or none
                s.expunge(obj)
            raise HandlerFailed(handler, exc) from exc
        cmd.effects.extend(applied)


class CopiedOnRead(Mapping):
    """The task data as a handler sees it: a value is deep-copied the first time the handler reads it, so a
    handler cannot change the case data behind the engine's back, and one that reads two keys of a long case's
    data does not pay for a copy of all of it before every call."""
    __slots__ = ("_copies", "_data")

    def __init__(self, data: Mapping[str, Any]):
        self._data = data
        self._copies: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._copies:
            self._copies[key] = copy.deepcopy(self._data[key])
        return self._copies[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


CONFIDENTIAL_PROPERTY = "confidential"


def is_confidential(task_spec) -> bool:
    """The element has the property `confidential` set true (`<spiffworkflow:property name="confidential"
    value="True"/>`): a case that reaches it becomes confidential (engine.store.Case.confidential)."""
    props = (getattr(task_spec, "extensions", None) or {}).get("properties", {}) or {}
    return str(props.get(CONFIDENTIAL_PROPERTY, "")).strip().lower() in ("true", "1", "yes")


def _recorded_result(cmd: CommandContext, operation_name: str, element_id: str):
    if not cmd.recorded_results:
        raise ReplayDiverged(f"replay asked {operation_name} at {element_id} for a result never recorded")
    recorded = cmd.recorded_results.pop(0)
    if recorded.get("handler") != operation_name or recorded.get("element_id") != element_id:
        raise ReplayDiverged(f"replay called {operation_name} at {element_id}, the journal has "
                             f"{recorded.get('handler')} at {recorded.get('element_id')}")
    if "error" in recorded:
        raise HandlerFailed(operation_name, RuntimeError(recorded["error"]))
    return recorded["result"]


class CheckedDecision(DMNEngine):
    """A decision table whose outputs have declared types (engine.definitions.DecisionRules): each result is
    checked before the process sees it."""

    def __init__(self, table, rules):
        super().__init__(table)
        self.rules = rules

    def result(self, task):
        result = super().result(task)
        cmd = current_or_none()
        if cmd is not None and cmd.recorded_results is not None:
            return result  # a replay (audit, migration check) reproduces what was decided then, checked or not
        issues = self.rules.result_issues(result)
        if issues:
            raise ValueError("；".join(issues))
        return result


def check_decision_results(spec_and_subprocesses: tuple, decision_rules: dict) -> None:
    """Business rule tasks whose table gives outputs with declared types check each result before the process
    sees it: a bad value deployed before the rule existed stops the task with the rule's words (an incident at
    that task), instead of becoming a wrong deadline."""
    if not decision_rules:
        return
    spec, subprocess_specs = spec_and_subprocesses
    for process_spec in [spec, *subprocess_specs.values()]:
        for task_spec in process_spec.task_specs.values():
            engine = getattr(task_spec, "dmnEngine", None)
            if engine is None:
                continue
            names = {o.name for o in engine.decision_table.outputs}
            for rules in decision_rules.values():
                if names & rules.outputs:
                    task_spec.dmnEngine = CheckedDecision(engine.decision_table, rules)
                    break
