"""Corrections to SpiffWorkflow 3.2.0 that Lianxin depends on, applied once by `apply()`.

Each patch answers a measured defect (see shared docs, spiffworkflow-notes.md):

1. Time. The timer classes read `datetime.now(timezone.utc)` directly, so deadlines could neither follow the
   Clock nor be replayed. We swap the module's `datetime` for a subclass whose `now()` returns the instant of the
   command being executed (a context variable set by the runtime). Outside a command it refuses to answer:
   a timer evaluated without a command instant is a bug, not a reason to read the wall clock.
2. Depth. Task-tree walks stop at `max_depth=1000`, so a case that loops about 250 times is silently reported
   completed. The default becomes unbounded; the runtime also prunes finished history (engine.state). An
   unbounded walk also skips the depth bookkeeping, which only ever served that limit: after every leaf it
   climbed the leaf's ancestors (a dictionary look-up each), the larger part of the cost of every walk (a
   completion walks the tree a dozen times). The walk visits the same tasks in the same order.
3. Due means due. SpiffWorkflow fires a timer when its deadline is strictly before now; the due-time index (and
   so the worker) takes a timer whose deadline equals now as due. A worker run at exactly that instant then found
   the timer due, fired nothing and found it due again, without end. `refresh_due_timers` lets the timers see
   the command instant plus the clock's smallest step, so both agree that a deadline is reached at its instant.
4. Uncaught error events. An error end event inside a called process that nobody catches is dropped into
   `bpmn_events` and the caller takes its success path. We raise instead, so the throwing task ends in ERROR
   and the runtime opens an incident.
5. Log details nobody reads. Every task state change builds the details of its `spiff.task` log line (and
   a reference to the task's data) before the logger is asked whether it logs at that level at all, which it
   does not in our processes (web/app.py sets `spiff` to WARNING): about thirty dictionaries per completion.
   The details are built only when the line is logged; the state and its timestamps change exactly as before.
   The same for a workflow's own lines (`spiff.workflow`: started, completed, cancelled): their details listed
   every task of the workflow whenever the logger's own level was unset, whether the line was logged or not
   (about 0.1 ms for each case started and each called process entered).
6. Walks on a stack. A walk (`get_tasks`, the waiting timers' refresh, the engine's own loops; a completion
   walks the tree about twenty times) took each next task off the front of a list and put the children back in
   front of the whole list, each child looked up through the `children` property. An unbounded depth-first walk
   (all of them, after 2.) now keeps its pending tasks on a stack, the children pushed in reverse: the same tasks
   in the same order, with the same tests of which tasks to descend into. A walk given a bound, or breadth-first,
   goes the library's way.
7. Decision cells read once. For every input cell of a rule it checks, the decision engine rewrote the cell's
   `?` with a regular expression and parsed the input expression and the cell (once or twice) to find out how to
   compare them, before evaluating the comparison: the same text each time, for every case. For a cell without
   `?` the comparison is now worked out once per input expression and cell text, and evaluated as before; a cell
   with `?` (rare: `? > 5`), or whose working out fails, goes the library's way, and fails as it did. An output cell that is a constant (`15`, `"转送"`, most of
   the settings table) is taken from the rule as read once, instead of being evaluated for every case: the first
   cell of the rule is still evaluated, so task data that would hide a helper is refused as before.
"""
from __future__ import annotations

import contextvars
import logging
import sys
import time as _time
from datetime import datetime as _datetime, timedelta as _timedelta

from SpiffWorkflow import task as _task_module, workflow as _workflow_module
from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer_module
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.util import event as _event_module, task as _bpmn_task_util
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine as _DMNEngine
from SpiffWorkflow.dmn.specs import model as _dmn_model
from SpiffWorkflow.util import task as _task_util
from SpiffWorkflow.util.task import TaskState as _TaskState

from .sandbox import NOT_CONSTANT, SandboxEnvironment, constant_value

_command_instant: contextvars.ContextVar[_datetime | None] = contextvars.ContextVar(
    "lianxin_command_instant", default=None
)
_applied = False


class NoCommandInstant(RuntimeError):
    pass


class UncaughtBpmnError(Exception):
    """An error event reached the top of the process with no boundary event to catch it."""

    def __init__(self, code: str | None, name: str | None):
        self.code = code
        self.name = name
        label = code or name or "?"
        super().__init__(
            f"未捕获的 BPMN 错误事件 “{label}”：被调用流程以错误结束，但调用处没有错误边界事件"
            f"（uncaught BPMN error “{label}”: add an error boundary event to the call activity, or fix the called process）"
        )


def command_instant() -> _datetime:
    value = _command_instant.get()
    if value is None:
        raise NoCommandInstant("engine time read outside a command; run it through engine.runtime")
    return value


def set_command_instant(value: _datetime):
    return _command_instant.set(value)


def reset_command_instant(token) -> None:
    _command_instant.reset(token)


def refresh_due_timers(workflow) -> None:
    """`workflow.refresh_timers()` at the command instant, a timer whose deadline is that instant included
    (see 3. above). Used by the live run and by replay alike."""
    token = _command_instant.set(command_instant() + _timedelta(microseconds=1))
    try:
        workflow.refresh_timers()
    finally:
        _command_instant.reset(token)


class _CommandDatetime(_datetime):
    @classmethod
    def now(cls, tz=None):
        value = command_instant()
        return value.astimezone(tz) if tz else value.replace(tzinfo=None)


def _unbounded_depth(cls):
    original = cls.__init__

    def __init__(self, task, end_at_spec=None, max_depth=sys.maxsize, *args, **kwargs):
        original(self, task, end_at_spec, max_depth, *args, **kwargs)

    cls.__init__ = __init__


def _no_depth_bookkeeping_when_unbounded(cls):
    """`depth` is read only to compare it with `max_depth`; unbounded, that comparison always holds (depth moves
    by one per task), so keeping count is skipped. A walk given a bound keeps its count as before."""
    leaf, update = cls._handle_leaf_depth, cls._update_depth

    def _handle_leaf_depth(self, task):
        if self.max_depth != sys.maxsize:
            leaf(self, task)

    def _update_depth(self, task):
        if self.max_depth != sys.maxsize:
            update(self, task)

    cls._handle_leaf_depth, cls._update_depth = _handle_leaf_depth, _update_depth


_LIBRARY_WALK: dict[str, object] = {}  # the library's (patched for depth) iterator methods the stack walk wraps


def _stack_init(self, task, *args, **kwargs):
    _LIBRARY_WALK["init"](self, task, *args, **kwargs)
    # the tasks still to visit, the next one last; None: the library's own walk (`task_list`)
    self._stack = [task] if self.max_depth == sys.maxsize and self.depth_first else None


def _stack_next(self):
    """TaskIterator._next: the same tasks descended into (with children, at least `min_state`, not the end spec)."""
    stack = self._stack
    if stack is None:
        return _LIBRARY_WALK["next"](self)
    if not stack:
        raise StopIteration()
    task = stack.pop()
    children = task._children
    if children and task.state >= self.min_state and task.task_spec.name != self.end_at_spec:
        get = task.workflow.tasks.get
        stack.extend([get(child) for child in reversed(children)])
    return task


def _bpmn_stack_next(self):
    """BpmnTaskIterator._next: a task that calls a process is descended into as well (its process first, then its
    children), unless subprocesses are skipped or the walk looks for unfinished tasks below a finished one."""
    stack = self._stack
    if stack is None:
        return _LIBRARY_WALK["bpmn_next"](self)
    if not stack:
        raise StopIteration()
    task = stack.pop()
    subprocesses = task.workflow.top_workflow.subprocesses
    subprocess = subprocesses.get(task.id) if subprocesses else None
    children = task._children
    if ((children or subprocess is not None) and (subprocess is not None or task.state >= self.min_state)
            and task.task_spec.name != self.end_at_spec):
        if children:
            get = task.workflow.tasks.get
            stack.extend([get(child) for child in reversed(children)])
        finished = _TaskState.FINISHED_MASK
        if not (subprocess is None or self.skip_subprocesses
                or (task.state >= finished and self.task_filter.state <= finished)):
            stack.append(subprocess.task_tree)
    return task


def _walks_on_a_stack():
    _LIBRARY_WALK.update(init=_task_util.TaskIterator.__init__, next=_task_util.TaskIterator._next,
                         bpmn_next=_bpmn_task_util.BpmnTaskIterator._next)
    _task_util.TaskIterator.__init__ = _stack_init
    _task_util.TaskIterator._next = _stack_next
    _bpmn_task_util.BpmnTaskIterator._next = _bpmn_stack_next


def _raise_uncaught_errors():
    original = _event_module.EventManager.catch

    def catch(self, event, internal=True):
        before = len(self.workflow.bpmn_events)
        result = original(self, event, internal)
        added = self.workflow.bpmn_events[before:]
        for ev in added:
            if isinstance(ev.event_definition, ErrorEventDefinition):
                self.workflow.bpmn_events.remove(ev)
                raise UncaughtBpmnError(ev.event_definition.code, ev.event_definition.name)
        return result

    _event_module.EventManager.catch = catch


_LIBRARY_LOG_DETAILS: dict[str, object] = {}  # the library's Workflow.collect_log_extras (for tests)


def _log_details_only_when_logged():
    task_logger = _task_module.logger

    def _set_state(self, value: int) -> None:
        # SpiffWorkflow 3.2.0's Task._set_state, with the log details built inside the level checks.
        if value != self.state:
            # the library's own stamp (the order of state changes, `engine.tree.state_events`), not a deadline's
            # clock: deadlines read the command's clock (patch 1)
            now = _time.time()
            elapsed, self.last_state_change = now - self.last_state_change, now
            self._state = value
            if task_logger.isEnabledFor(logging.INFO):
                task_logger.info(f"State changed to {_TaskState.get_name(value)}",
                                 extra=self.collect_log_extras({"elapsed": elapsed}))
        elif task_logger.isEnabledFor(logging.DEBUG):
            task_logger.debug(f"State set to {_TaskState.get_name(value)}", extra=self.collect_log_extras())

    _task_module.Task._set_state = _set_state

    workflow_logger = _workflow_module.logger
    _LIBRARY_LOG_DETAILS["workflow"] = _workflow_module.Workflow.collect_log_extras

    def collect_log_extras(self, dct=None):
        # Asked for only by the library's INFO lines of a workflow (and by a called process's own details, which
        # add to these): nothing to build when the logger does not log them.
        if not workflow_logger.isEnabledFor(logging.INFO):
            return dct or {}
        return _LIBRARY_LOG_DETAILS["workflow"](self, dct)

    _workflow_module.Workflow.collect_log_extras = collect_log_extras


# (input expression, cell, the engine's validate) -> the comparison to evaluate, for a cell without `?`.
# Bounded: a table whose input has no expression compares the repr of a data value, one text per value.
_DECISION_CELLS: dict[tuple, str] = {}
_DECISION_CELLS_MAX = 20_000
_LIBRARY_DMN: dict[str, object] = {}  # the library's DMNEngine.evaluate and Rule.output_as_dict (for tests)
_OUTPUT_CONSTANTS = "_lianxin_output_constants"  # on a Rule: its output cells' values, or NOT_CONSTANT
_INPUT_NAME = "dmninputexpr"  # the name the library gives the input's value in a cell that says `?`


def _cell_plan(engine, script_engine, input_expr: str, match_expr: str) -> str:
    """The expression DMNEngine.evaluate builds for a cell without `?`: it depends on the two texts only. Either
    the cell completes the input expression (`> 5`, `in (...)`), or the two are compared for equality."""
    script_engine.validate(input_expr)
    if engine.needs_eq(script_engine, match_expr):
        return f"({input_expr}) == ({match_expr})"
    return input_expr + match_expr


def _evaluate_cell(self, input_expr, match_expr, task):
    """DMNEngine.evaluate, the comparison of a cell without `?` worked out once per text (`_cell_plan`)."""
    if match_expr is None:
        return True
    if "?" in match_expr or _INPUT_NAME in match_expr:
        return _LIBRARY_DMN["evaluate"](self, input_expr, match_expr, task)
    script_engine = task.workflow.script_engine
    key = (input_expr, match_expr, type(script_engine).validate)
    expr = _DECISION_CELLS.get(key)
    if expr is None:
        try:
            expr = _cell_plan(self, script_engine, input_expr, match_expr)
        except Exception:
            return _LIBRARY_DMN["evaluate"](self, input_expr, match_expr, task)  # raises as it always did
        if len(_DECISION_CELLS) < _DECISION_CELLS_MAX:
            _DECISION_CELLS[key] = expr
    return script_engine.evaluate(task, expr)


def _output_constants(rule) -> object:
    found = rule.__dict__.get(_OUTPUT_CONSTANTS)
    if found is None:
        found = [constant_value(entry.text) if getattr(entry, "text", None) else "" for entry in rule.outputEntries]
        if any(v is NOT_CONSTANT for v in found):
            found = NOT_CONSTANT
        rule.__dict__[_OUTPUT_CONSTANTS] = found
    return found


def _output_as_dict(self, task):
    """Rule.output_as_dict, a rule whose output cells are all constants taking them as read once."""
    script_engine = task.workflow.script_engine
    constants = _output_constants(self)
    environment = getattr(script_engine, "environment", None)
    if constants is NOT_CONSTANT or type(environment).evaluate is not SandboxEnvironment.evaluate:
        return _LIBRARY_DMN["output_as_dict"](self, task)
    out = _dmn_model.OrderedDict()
    first = next((i for i, entry in enumerate(self.outputEntries) if getattr(entry, "text", None)), None)
    for i, (entry, value) in enumerate(zip(self.outputEntries, constants, strict=True)):
        if i == first:  # evaluated as the library does: refused here if task data hides a helper
            value = script_engine.evaluate(task, entry.text)
        _put_output(out, entry.output.name or entry.output.label, value)
    return out


def _put_output(out, name: str, value) -> None:
    """One output placed as the library places it: `a.b.c` nests the value as {"b": {"c": value}} under `a`,
    merged with what `a` already holds."""
    head, *rest = name.split(".")
    if not rest:
        out[head] = value
        return
    for part in reversed(rest):
        value = {part: value}
    out[head] = _dmn_model.DeepMerge.merge(out.get(head, {}), value)


def _decision_cells_once():
    _LIBRARY_DMN.update(evaluate=_DMNEngine.evaluate, output_as_dict=_dmn_model.Rule.output_as_dict)
    _DMNEngine.evaluate = _evaluate_cell
    _dmn_model.Rule.output_as_dict = _output_as_dict


def apply() -> None:
    global _applied
    if _applied:
        return
    _timer_module.datetime = _CommandDatetime
    _unbounded_depth(_task_util.TaskIterator)
    _unbounded_depth(_bpmn_task_util.BpmnTaskIterator)
    _no_depth_bookkeeping_when_unbounded(_task_util.TaskIterator)  # BpmnTaskIterator inherits both methods
    _walks_on_a_stack()  # after _unbounded_depth: the stack is taken when the walk is unbounded
    _raise_uncaught_errors()
    _log_details_only_when_logged()
    _decision_cells_once()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    _applied = True
