"""A case's data for showing, read from its decoded state without restoring the workflow (issue #21).

A read of a case (the API's case view, the forms' checks, the lists) needs only the data `engine.tree.view_data`
takes from the restored workflow: that of the first READY task in the library's walk (depth first, a called
process before the calling task's children), else of the workflow's last task, else of its root. Restoring every
task object (UUIDs, specs, events) for that was most of a read's engine time. This module finds the same task in
the state dict, as `engine.state.StateCodec.read` would have restored it, and folds the same changes along its
path from the root that SpiffWorkflow's task converter applies (the root's data, then each child's updates and
deletions against its parent).

Only for a plain state (`engine.state.only_structure_typed`): typed values (dates, decimals) need the library's
restore and the copy through JSON, and `data_of_state` answers None so that the caller takes that way. The answers
are pinned against the restored workflow's over the shipped processes in every state a case goes through
(tests/unit/test_state_view.py)."""
from __future__ import annotations

import json

from SpiffWorkflow.util.task import TaskState

from .state import only_structure_typed

_READY = int(TaskState.READY)
_FINISHED = int(TaskState.FINISHED_MASK)
# The walk for READY tasks descends below a task at least FUTURE (SpiffWorkflow's TaskIterator, DEFINITE_MASK).
_MIN_STATE = int(TaskState.FUTURE)


def data_of_state(text: str) -> dict | None:
    """The case data `engine.tree.view_data` gives for the workflow the state `text` restores to, or None when the
    state's data is not plain (the caller restores the workflow then)."""
    dct = json.loads(text)
    if not only_structure_typed(text, dct):
        return None
    return _data_of(dct)


def _data_of(dct: dict) -> dict:
    subprocesses = dct.get("subprocesses") or {}
    ready = _first_ready(dct, subprocesses)
    if ready is not None:
        return _task_data(*ready)
    tasks = dct["tasks"]
    last = dct.get("last_task")
    if isinstance(last, str) and last in tasks:
        return _task_data(tasks, last)
    return _task_data(tasks, dct["root"])


def _first_ready(dct: dict, subprocesses: dict) -> tuple[dict, str] | None:
    """(the tasks of its workflow, its id) of the first READY task in the order of `wf.get_tasks(state=READY)`:
    engine/spiff_patches.py's stack walk over BpmnTaskIterator, which visits a called process (restored only for a
    task whose id keys one) before the calling task's children, and goes below a task in state FUTURE or later."""
    tasks = dct["tasks"]
    stack = [(tasks, tasks.get(dct["root"]), dct["root"])]
    while stack:
        wf_tasks, task, task_id = stack.pop()
        state = task["state"]
        if state & _READY and task["last_state_change"] >= 0:
            return wf_tasks, task_id
        children = task["children"]
        called = subprocesses.get(task_id)
        if (children or called is not None) and (called is not None or state >= _MIN_STATE):
            if children:
                stack.extend([(wf_tasks, wf_tasks.get(c), c) for c in reversed(children)])
            if called is not None and not state >= _FINISHED:
                stack.append((called["tasks"], called["tasks"].get(called["root"]), called["root"]))
    return None


def _task_data(tasks: dict, task_id: str) -> dict:
    """The task's data as the task converter restores it: a task whose parent was restored before it (the state's
    order) and that has a delta is its parent's data with the delta's updates, less its deletions; any other task
    has its own `data`. A new dict: nothing else holds it, nor the values it adds."""
    path = []
    order = {key: i for i, key in enumerate(tasks)}
    node_id = task_id
    while True:
        task = tasks[node_id]
        path.append(task)
        parent = task["parent"]
        if not (task.get("delta") and parent is not None and order.get(parent, len(order)) < order[node_id]):
            break
        node_id = parent
    data = dict(path.pop()["data"])
    for task in reversed(path):
        delta = task["delta"]
        data.update(delta.get("updates", {}))
        for key in delta.get("deletions", {}):
            if key in data:
                del data[key]
    return data
