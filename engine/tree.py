"""Helpers over SpiffWorkflow's task tree: finding tasks, reading data and timers, running the engine on."""
from __future__ import annotations

import itertools
import json
import operator
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from .journal import PendingEvent, to_json

JOURNALED_STATES = {
    TaskState.READY: "ready",
    TaskState.STARTED: "started",
    TaskState.WAITING: "waiting",
    TaskState.COMPLETED: "completed",
    TaskState.ERROR: "error",
    TaskState.CANCELLED: "cancelled",
}


def all_tasks(wf: BpmnWorkflow) -> Iterable:
    yield from list(wf.tasks.values())
    for sp in list(wf.subprocesses.values()):
        yield from list(sp.tasks.values())


def view_data(wf: BpmnWorkflow, plain: bool = False) -> dict:
    """The case data as plain JSON values, detached from the workflow. `plain`: the workflow was just read from
    its state and nothing ran on it since, with plain data (engine.state.StateCodec.read), and the caller drops
    it: its data is then already what the copy through JSON would make (a long case's data is thousands of
    entries: the copy was most of the cost of reading it)."""
    ready = wf.get_tasks(state=TaskState.READY)
    source = ready[0] if ready else (wf.last_task or wf.task_tree)
    if plain:
        return dict(source.data)
    return json.loads(to_json(source.data))


def find_task(wf: BpmnWorkflow, task_id: str):
    """The task, or None when it is gone (pruned history) — SpiffWorkflow raises instead."""
    uid = UUID(task_id)
    task = wf.tasks.get(uid)
    if task is None:
        for sp in wf.subprocesses.values():
            task = sp.tasks.get(uid)
            if task is not None:
                break
    return task


def advance(wf: BpmnWorkflow) -> None:
    """Run the engine until only user tasks and waits remain. SpiffWorkflow refreshes timers at the *end* of
    `do_engine_steps`, so a timer found due there is left READY but not run: go round until nothing is. A queued
    message (`QUEUED_MESSAGES`) is delivered as soon as the process waits for it, before any timer of that wait
    can fire."""
    for _ in range(1000):
        wf.do_engine_steps()
        if deliver_queued(wf):
            continue
        if not any(not t.task_spec.manual for t in wf.get_tasks(state=TaskState.READY)):
            return
    raise RuntimeError("engine did not settle after 1000 rounds (a timer cycle firing without end?)")


# Messages taken before the process waits for them (a petitioner's review request accepted from the service of
# the reply on, while the office's sign-off is still open): kept in the workflow's own data, in order, and
# delivered by `advance` when a task waits for a message of that name. Live and on replay alike.
QUEUED_MESSAGES = "lianxin_queued_messages"


def message_receivers(wf: BpmnWorkflow):
    """The message definitions of the tasks waiting for a message now."""
    for task in all_tasks(wf):
        definition = getattr(task.task_spec, "event_definition", None)
        if task.state == TaskState.WAITING and isinstance(definition, MessageEventDefinition):
            yield definition


def queued_messages(wf: BpmnWorkflow) -> list[dict]:
    return list(wf.data.get(QUEUED_MESSAGES) or [])


def deliver_queued(wf: BpmnWorkflow) -> bool:
    """Deliver the first queued message the process now waits for; True when one was delivered."""
    queue = queued_messages(wf)
    if not queue:
        return False
    waiting = {d.name: d for d in message_receivers(wf)}
    for i, message in enumerate(queue):
        definition = waiting.get(message["name"])
        if definition is not None:
            wf.data[QUEUED_MESSAGES] = queue[:i] + queue[i + 1:]
            wf.send_event(BpmnEvent(definition, dict(message.get("payload") or {})))
            return True
    return False


def set_event_value(wf: BpmnWorkflow, task_id: str, value: str) -> None:
    task = find_task(wf, task_id)
    if task is not None:
        task.internal_data["event_value"] = value


def timer_due(task) -> datetime | None:
    definition = getattr(task.task_spec, "event_definition", None)
    if definition is None:
        return None
    if isinstance(definition, MultipleEventDefinition):
        if not any(isinstance(d, TimerEventDefinition) for d in definition.event_definitions):
            return None
    elif not isinstance(definition, TimerEventDefinition):
        return None
    value = definition.details(task).value
    if isinstance(value, dict):
        value = value.get("next")
    if not value:
        return None
    try:
        return TimerEventDefinition.get_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None


def work_item_due(task, reminders=frozenset()) -> datetime | None:
    """A user task's due date is the earliest timer attached to it (its boundary events), reminders left out.
    An instance of a multi-instance task (one per co-unit, say) has the timers of the task it is an instance of."""
    if task.parent is not None and isinstance(task.parent.task_spec, MultiInstanceTask):
        task = task.parent
    parent = task.parent
    if parent is None:
        return None
    # A limit that has already fired (a non-interrupting timer, COMPLETED beside its still open task: the task was
    # reached after its deadline, e.g. 13710 T1 counted from the leader's receipt) is still the task's due date.
    dues = [timer_due(sib) for sib in parent.children if sib is not task
            and sib.state in (TaskState.WAITING, TaskState.COMPLETED) and sib.task_spec.bpmn_id not in reminders]
    dues = [d for d in dues if d is not None]
    return min(dues) if dues else None


def bpmn_parent(task) -> str | None:
    """The nearest ancestor that is a BPMN element (SpiffWorkflow puts internal splits in between)."""
    node = task.parent
    for _ in range(10):
        if node is None:
            return None
        element_id = getattr(node.task_spec, "bpmn_id", None)
        if element_id is not None:
            return element_id
        node = node.parent
    return None


_MISSING = object()


def data_diff(before: dict, after: dict) -> dict:
    out = {}
    for key in after.keys() | before.keys():
        if key.startswith("spiff__"):
            continue
        a, b = before.get(key, _MISSING), after.get(key, _MISSING)
        if _identical(a, b):  # also both missing
            continue
        try:
            same = a == b
        except Exception:
            same = False
        if not same:
            out[key] = [None if a is _MISSING else a, None if b is _MISSING else b]
    return out


# A large list or dict that a step changed in part (a list of opinions one longer, a table with one row more)
# is journaled as the operations that change it (JSON Patch, RFC 6902: `add`, and `test` with the old value
# before a `replace` or `remove`), not as its whole value before and after: an event of a long case stays as
# small as the change. Smaller values, and containers changed in most of their items, keep [before, after].
PATCH_MIN_ITEMS = 16


def _pointer(*parts) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _patch_ops(key: str, a: Any, b: Any) -> list[dict] | None:
    """The operations that turn `a` into `b` under `key`, or None when the whole values say it better."""
    if type(a) is not type(b) or not isinstance(a, (list, dict)) or len(a) < PATCH_MIN_ITEMS:
        return None
    if isinstance(a, list):
        n = len(a)
        if len(b) < n or b[:n] != a:  # only a list that grew at its end
            return None
        return [{"op": "add", "path": _pointer(key, "-"), "value": v} for v in b[n:]]
    grown = _grown_at_end(a, b)
    if grown is not None:
        return [{"op": "add", "path": _pointer(key, k), "value": b[k]} for k in grown]
    ops: list[dict] = []
    for k, old in a.items():
        if k not in b:
            ops += [{"op": "test", "path": _pointer(key, k), "value": old},
                    {"op": "remove", "path": _pointer(key, k)}]
    for k, new in b.items():
        old = a.get(k, _MISSING)
        if old is _MISSING:
            ops.append({"op": "add", "path": _pointer(key, k), "value": new})
        elif (old is not new or type(new) is float) and not _same(old, new):  # `_identical`, inline: per key
            ops += [{"op": "test", "path": _pointer(key, k), "value": old},
                    {"op": "replace", "path": _pointer(key, k), "value": new}]
    return ops if len(ops) <= len(b) else None


def _grown_at_end(a: dict, b: dict) -> list | None:
    """The keys `b` has after all of `a`'s, when `b` begins with `a`'s keys in `a`'s order holding the very same
    objects and none of them a float (a comment added to a long case's comments); None otherwise. The operations
    are then those of the loop in `_patch_ops` (no `remove`, no `replace`, an `add` for each later key, in order),
    found in passes of C code instead of a comparison per key."""
    n = len(a)
    if len(b) < n or list(a) != list(itertools.islice(b, n)):
        return None
    if not all(map(operator.is_, a.values(), itertools.islice(b.values(), n))) or float in set(map(type, a.values())):
        return None  # a float is compared by value (NaN differs from itself): the loop decides
    return list(itertools.islice(b, n, None))


def _identical(a: Any, b: Any) -> bool:
    """The same object, so the same value without comparing it (a long list of opinions the step did not touch);
    a float NaN, unequal to itself, excepted."""
    return a is b and not (type(a) is float and a != a)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


def data_changes(before: dict, after: dict) -> tuple[dict, list[dict]]:
    """What a step changed: ({key: [before, after]}, JSON Patch operations for large containers changed in part)."""
    changes, patch = {}, []
    for key, (a, b) in sorted(data_diff(before, after).items()):
        ops = _patch_ops(key, a, b)
        if ops is None:
            changes[key] = [a, b]
        else:
            patch.extend(ops)
    return changes, patch


def state_events(wf: BpmnWorkflow, before: dict, actor: str, now: datetime) -> list[PendingEvent]:
    """`task.<state>` events for every task whose state changed since `before` (task id -> state), in order."""
    changed = []
    for task in all_tasks(wf):
        label = JOURNALED_STATES.get(task.state)
        if label is None or before.get(task.id) == task.state:
            continue
        spec = task.task_spec
        element_id = getattr(spec, "bpmn_id", None)
        if element_id is None:
            continue
        data: dict[str, Any] = {"task_id": str(task.id), "state": label,
                                "name": getattr(spec, "bpmn_name", None) or "",
                                "type": spec.__class__.__name__}
        came_from = bpmn_parent(task)
        if came_from is not None and before.get(task.id) not in JOURNALED_STATES:
            data["from"] = came_from  # reached in this command: the element before it names the flow taken
        if task.state == TaskState.COMPLETED and task.parent is not None:
            changes, patch = data_changes(task.parent.data, task.data)
            if changes:
                data["changes"] = changes
            if patch:
                data["patch"] = patch
        changed.append((task.last_state_change or 0, PendingEvent(f"task.{label}", actor, now,
                                                                  element_id, json.loads(to_json(data)))))
    changed.sort(key=lambda pair: pair[0])
    return [ev for _, ev in changed]
