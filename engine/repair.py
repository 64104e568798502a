"""Getting a case out of an incident: the failing steps, the steps a case may be moved to, and the move itself.

A repair of data (engine.commands.RepairData) writes one key of the failing steps' data; a retry then runs them
again. When a step cannot succeed whatever its data (a step that should not have been reached, a handler that
is gone), an admin moves the case to another step of the same process (engine.commands.MoveToStep): the failing
steps are taken out of the task tree (with the boundary events and multi-instance parent they hang under, and
any called process they started), and the chosen step is put in their place, ready, with the data the failing
step had. The finished history is pruned (engine.state), so a move does not "reset" to an old task: it builds a
new one, the same way live and on replay.
"""
from __future__ import annotations

import copy

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from .tree import all_tasks

# The kinds of element a case may be moved to: the activities an office recognises as steps.
_STEP_TYPES = {"UserTask": "人工环节", "ManualTask": "人工环节", "ServiceTask": "自动环节（服务）",
               "ScriptTask": "自动环节（脚本）", "BusinessRuleTask": "自动环节（决策表）",
               "CallActivity": "子流程", "SubWorkflowTask": "子流程"}


def failing_tasks(wf: BpmnWorkflow) -> list:
    """The tasks in ERROR, in tree order."""
    return [t for t in all_tasks(wf) if t.state == TaskState.ERROR]


def live_tasks(wf: BpmnWorkflow) -> list:
    """The tasks the case stands at (ready, waiting, running): what a move takes out when no step is in ERROR
    (an incident raised while a timer's expression was evaluated leaves no failing task)."""
    return [t for t in all_tasks(wf) if t.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED)]


def steps(wf: BpmnWorkflow) -> list[dict]:
    """The steps of the case's top process a case may be moved to: {element_id, name, kind}, by name."""
    seen: dict[str, dict] = {}
    for spec in wf.spec.task_specs.values():
        element_id, name = getattr(spec, "bpmn_id", None), getattr(spec, "bpmn_name", None)
        kind = _kind(spec)
        if element_id and name and kind and element_id not in seen:
            seen[element_id] = {"element_id": element_id, "name": name, "kind": kind}
    out = list(seen.values())
    return sorted(out, key=lambda s: (s["name"], s["element_id"]))


def _kind(spec) -> str | None:
    for cls in type(spec).__mro__:
        if cls.__name__ in _STEP_TYPES:
            return _STEP_TYPES[cls.__name__]
    return None


def step_spec(wf: BpmnWorkflow, element_id: str):
    """The spec a move enters: the multi-instance task itself rather than one of its instances."""
    found = [spec for spec in wf.spec.task_specs.values()
             if getattr(spec, "bpmn_id", None) == element_id and _kind(spec) is not None]
    for spec in found:
        if isinstance(spec, MultiInstanceTask):
            return spec
    for spec in found:
        if spec.name == element_id:
            return spec
    return found[0] if found else None


def _anchor(wf: BpmnWorkflow, task):
    """The top-level task that stands for a failing task: its calling task when it runs in a called process,
    then up past the multi-instance task and boundary-event split it hangs under."""
    node = task
    for _ in range(50):
        if node.workflow is not wf:
            node = wf.get_task_from_id(node.workflow.parent_task_id)
            continue
        parent = node.parent
        if parent is not None and isinstance(parent.task_spec, BoundaryEventSplit | MultiInstanceTask):
            node = parent
            continue
        return node
    return node


def move(wf: BpmnWorkflow, element_id: str) -> list[str]:
    """Replace the failing steps (or, when none is in ERROR, the steps the case stands at) by the step
    `element_id`, ready. Returns the element ids taken out."""
    spec = step_spec(wf, element_id)
    if spec is None:
        raise LookupError(element_id)
    failing = failing_tasks(wf) or live_tasks(wf)
    if not failing:
        raise LookupError("no failing step")
    data = copy.deepcopy(failing[0].data)
    anchors = _anchors(wf, failing)
    parent = anchors[0].parent
    for anchor in anchors:
        _take_out(wf, anchor)
    _enter(spec, parent, data)
    wf.last_task = parent
    return [getattr(a.task_spec, "bpmn_id", None) or a.task_spec.name for a in anchors]


def _anchors(wf: BpmnWorkflow, tasks: list) -> list:
    """The distinct top-level tasks standing for `tasks`, none below another."""
    anchors = []
    for task in tasks:
        anchor = _anchor(wf, task)
        if anchor not in anchors:
            anchors.append(anchor)
    return [a for a in anchors if not any(a is not b and a.is_descendant_of(b) for b in anchors)]


def _take_out(wf: BpmnWorkflow, anchor) -> None:
    gone = list(anchor)
    for sub in [t for t in gone if t.id in wf.subprocesses]:
        gone.extend(wf.delete_subprocess(sub))
    wf._remove_task(anchor.id)
    for task in gone:  # waiting timers and messages of what was taken out must not fire
        wf.event_manager.remove_task(task)


def _enter(spec, parent, data: dict) -> None:
    """The step `spec` as a new child of `parent`, ready, holding `data`."""
    # A step with boundary events (a deadline, a reminder) is entered through its split, so its clocks start.
    entry = spec
    for before in spec.inputs:
        if isinstance(before, BoundaryEventSplit):
            entry = before
    new = parent._add_child(entry, TaskState.FUTURE)
    entry._predict(new, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)  # as SpiffWorkflow's own reset does
    entry._update(new)
    if new.state != TaskState.READY:
        new._ready()
    new.data = data  # the data the failing step had (with any repair), not its parent's
