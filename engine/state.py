"""Saving and loading a case's workflow state, by reference to its deployed definition.

- The state is JSON text in the order SpiffWorkflow wrote it. SpiffWorkflow stores task data as changes against
  the parent task, so re-sorted keys (PostgreSQL jsonb, sort_keys) lose data of waiting tasks. Never re-sort.
- The process spec is not part of the state: it is stored once per deployed version and restored from a
  per-process cache of spec objects, which halves the size and the time of a load.
- Finished history is pruned from the live task tree after each command (`prune_finished_history`). The
  journal keeps the history; the tree keeps only what the engine still needs. This keeps a step at loop 1,000
  as cheap as a step at loop 1, and keeps SpiffWorkflow's recursive walks shallow.
- A state whose data holds plain JSON values only (no dates, decimals or other typed values) is restored with the
  values as `json.loads` made them, without the library's walk and copy; `StateCodec.read` also says so, and a
  case read for showing then needs no second copy of its data through JSON (engine.tree.view_data).
- What stays proportional to a case's data in every step: decoding and encoding the state, writing it, and the
  sandbox's size check of the task data after each script (docs/testing.md, the growing case).
"""
from __future__ import annotations

import contextvars
import json
from decimal import Decimal
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.version import __version__ as SPIFF_VERSION

STATE_FORMAT = f"lianxin-1/spiff-{SPIFF_VERSION}"
_LIVE = ~(TaskState.COMPLETED | TaskState.CANCELLED)


class _ByReferenceConverter(BpmnWorkflowConverter):
    """Writes a workflow without its specs; reads one back onto spec objects the caller supplies."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def restore_onto(self, dct, spec, subprocess_specs, script_engine):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True, script_engine=script_engine)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


# While a state whose data holds no typed values (dates, decimals: dicts with a "typename") is read back, the
# registry hands the data's values on as json.loads made them: the library's restore walks and copies every
# list and dict of the case data for nothing, the largest cost of loading a long case.
_PLAIN_DATA: contextvars.ContextVar[bool] = contextvars.ContextVar("lianxin_plain_state_data", default=False)
_TYPED_KEY = '"typename":'


class StateCodec:
    def __init__(self):
        config = {cls: conv for cls, conv in SPIFF_CONFIG.items() if cls is not BpmnWorkflow}
        registry = BpmnWorkflowSerializer.configure(config)
        self._converter = _ByReferenceConverter(BpmnWorkflow, registry)  # registers itself
        registry.register(Decimal, lambda v: {"value": str(v)}, lambda d: Decimal(d["value"]))
        self.serializer = BpmnWorkflowSerializer(registry)
        restore = registry.restore

        def restore_unless_plain(val, **kwargs):
            if _PLAIN_DATA.get() and not (type(val) is dict and "typename" in val):
                return val  # a plain value freshly decoded: nothing to restore, nobody else holds it
            return restore(val, **kwargs)
        registry.restore = restore_unless_plain

    def dumps(self, workflow: BpmnWorkflow) -> str:
        registry = self.serializer.registry
        registry._encoder_mode = True
        try:
            dct = registry.convert(workflow)
            return json.dumps(dct, ensure_ascii=False, separators=(",", ":"), cls=self.serializer._encoder_cls)
        finally:
            registry._encoder_mode = False

    def loads(self, text: str, spec, subprocess_specs, script_engine) -> BpmnWorkflow:
        return self.read(text, spec, subprocess_specs, script_engine)[0]

    def read(self, text: str, spec, subprocess_specs, script_engine) -> tuple[BpmnWorkflow, bool]:
        """The workflow, and whether its data is plain: nothing in it but JSON values as `json.loads` made them
        (no dates, decimals or other typed values), held by this workflow alone. Plain data read for showing
        needs no copy through JSON (engine.tree.view_data)."""
        dct = json.loads(text)
        plain = only_structure_typed(text, dct)
        token = _PLAIN_DATA.set(plain)
        try:
            return self._converter.restore_onto(dct, spec, subprocess_specs, script_engine), plain
        finally:
            _PLAIN_DATA.reset(token)


def only_structure_typed(text: str, dct: dict) -> bool:
    """True when the only typed dicts in the state are the workflow, its called processes and their tasks (which
    the converters restore by name), so task data, internal data and events hold plain JSON values only.

    Every dict key "typename" appears in the text as `"typename":` (inside a JSON string a quote is escaped, so
    the text can only count more, never fewer); when the count is exactly the number of structural dicts, each
    of which does carry the key, there is no other."""
    expected = _typed(dct) + sum(map(_typed, dct.get("tasks", {}).values()))
    for sp in dct.get("subprocesses", {}).values():
        expected += _typed(sp) + sum(map(_typed, sp.get("tasks", {}).values()))
    return text.count(_TYPED_KEY) == expected


def _typed(value) -> int:
    return 1 if isinstance(value, dict) and "typename" in value else 0


def prune_finished_history(workflow: BpmnWorkflow) -> int:
    """Cut every task above the lowest common ancestor of the live tasks. Returns how many were removed.

    Only tasks that are ancestors of all live tasks, or finished side branches hanging off those ancestors,
    are removed: parallel branches still waiting for their join, boundary events and called processes in
    progress are all below the cut.
    """
    removed = _prune_one(workflow)
    for sp in list(workflow.subprocesses.values()):
        if not sp.completed:
            removed += _prune_one(sp)
    # Called processes whose calling task is gone (finished history) are history too.
    if not workflow.subprocesses:
        return removed  # none: no task id to collect (a UUID's hash is a Python call)
    alive = set()
    _collect_ids(workflow, alive)
    for sp in workflow.subprocesses.values():
        _collect_ids(sp, alive)
    for task_id in [tid for tid in workflow.subprocesses if tid not in alive]:
        del workflow.subprocesses[task_id]
    return removed


def _collect_ids(wf, into: set) -> None:
    into.update(wf.tasks.keys())


def _prune_one(wf) -> int:
    root = wf.task_tree
    live = [t for t in wf.tasks.values() if t.state & _LIVE]
    if not live:
        return 0
    # The lowest common ancestor of the live tasks: the first one's path up to the root, then each other one
    # climbs only until it meets that path (siblings: one step), instead of every live task climbing to the root.
    path = []
    node = live[0]
    while node is not None:
        path.append(node)
        node = node.parent
    height = {id(n): i for i, n in enumerate(path)}  # 0: the first live task, len(path) - 1: the root
    top = 0
    for task in live[1:]:
        node = task
        while node is not None and id(node) not in height:
            node = node.parent
        if node is None:
            return 0
        top = max(top, height[id(node)])
    keep_top = path[top]
    if keep_top is root or keep_top.parent is root:
        return 0
    keep = {id(root)}  # object ids: a UUID's hash is a Python call, an object's is not
    stack = [keep_top]
    while stack:
        node = stack.pop()
        keep.add(id(node))
        stack.extend(node.children)
    removed = [tid for tid, task in wf.tasks.items() if id(task) not in keep]
    for tid in removed:
        del wf.tasks[tid]
    root._children = [keep_top.id]
    keep_top._parent = root.id
    if wf.last_task is not None and id(wf.last_task) not in keep:
        wf.last_task = keep_top
    return len(removed)
