"""Task-tree walks after engine.spiff_patches (patch 2): unbounded, and without the depth bookkeeping that only
served the bound. An unbounded walk visits the same tasks in the same order as one that keeps count (a bound far
above any depth), through parallel branches, a subprocess and the waiting tasks. Issue #21 (the triage step)."""
from __future__ import annotations

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine import spiff_patches
from tests.support.bpmn import branches, flow, user_task

BRANCHES = branches(f"""
  {user_task("inner", "乙")}
  {flow("s1", "sub_start", "inner")}
  {flow("s2", "inner", "sub_end")}""")

FAR = 10**9  # a bound no tree reaches: the walk keeps count, as SpiffWorkflow's own does


@pytest.fixture(scope="module")
def workflow() -> BpmnWorkflow:
    spiff_patches.apply()
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(BRANCHES.encode("utf-8")), filename="branches.bpmn")
    wf = BpmnWorkflow(parser.get_spec("branches"), parser.get_subprocess_specs("branches"),
                      script_engine=PythonScriptEngine())
    wf.do_engine_steps()
    first = wf.get_tasks(state=TaskState.READY, manual=True, spec_name="first")[0]
    first.run()
    wf.do_engine_steps()
    return wf


def names(tasks) -> list[tuple[str, int]]:
    return [(t.task_spec.name, t.state) for t in tasks]


@pytest.mark.parametrize("state", [TaskState.ANY_MASK, TaskState.READY, TaskState.WAITING,
                                   TaskState.NOT_FINISHED_MASK, TaskState.PREDICTED_MASK, TaskState.COMPLETED])
def test_an_unbounded_walk_visits_what_a_counting_walk_visits_in_its_order(workflow, state):
    for iterator in (TaskIterator, BpmnTaskIterator):
        counted = names(iterator(workflow.task_tree, state=state, max_depth=FAR))
        assert names(iterator(workflow.task_tree, state=state)) == counted
    everything = names(workflow.get_tasks(state=state))
    assert everything == names(BpmnTaskIterator(workflow.task_tree, state=state, max_depth=FAR))
    if state == TaskState.ANY_MASK:  # the subprocess's tasks too, and a ready task on each side
        assert {"inner", "last", "sub", "join"} <= {n for n, _ in everything}


def test_an_unbounded_walk_keeps_no_count_and_a_bounded_one_still_stops(workflow):
    counting, unbounded = TaskIterator(workflow.task_tree, max_depth=FAR), TaskIterator(workflow.task_tree)
    deepest = 0
    for _ in counting:
        deepest = max(deepest, counting.depth)
    assert names(unbounded) and unbounded.depth == 0 and deepest > 2
    # a walk given a bound counts, and stops there: SpiffWorkflow's behaviour where a caller asks for it
    shallow = names(TaskIterator(workflow.task_tree, max_depth=2))
    assert shallow == names(TaskIterator(workflow.task_tree))[:len(shallow)] and len(shallow) == 3


@pytest.mark.parametrize("kwargs", [{"manual": True}, {"manual": False, "state": TaskState.NOT_FINISHED_MASK},
                                    {"spec_name": "inner"}, {"end_at_spec": "join"},
                                    {"end_at_spec": "sub", "state": TaskState.ANY_MASK},
                                    {"skip_subprocesses": True}, {"lane": None, "state": TaskState.FINISHED_MASK}])
def test_a_walk_on_the_stack_visits_what_the_librarys_walk_visits(workflow, kwargs):
    """Patch 6: the unbounded depth-first walk keeps its pending tasks on a stack; the library's walk (kept for a
    bounded one) visits the same tasks in the same order, whatever the filter, end spec or subprocess choice."""
    plain = {k: v for k, v in kwargs.items() if k not in ("skip_subprocesses", "lane")}
    for iterator, args in ((TaskIterator, plain), (BpmnTaskIterator, kwargs)):
        walk = iterator(workflow.task_tree, **args)
        assert walk._stack == [workflow.task_tree]  # on the stack
        assert names(walk) == names(iterator(workflow.task_tree, max_depth=FAR, **args))
        assert iterator(workflow.task_tree, max_depth=FAR, **args)._stack is None  # a bounded walk: the library's
    inner = workflow.get_tasks(spec_name="inner")[0]  # a walk from a task inside the called process
    assert names(BpmnTaskIterator(inner.workflow.task_tree)) == names(
        BpmnTaskIterator(inner.workflow.task_tree, max_depth=FAR))


def test_a_walk_sees_children_added_while_it_runs_as_the_librarys_does(workflow):
    """The waiting tasks' refresh changes tasks while it walks: a task's children are taken when the task is
    reached, by the stack as by the library's list."""
    seen = {}
    for bound in (None, FAR):
        walk = TaskIterator(workflow.task_tree) if bound is None else TaskIterator(workflow.task_tree, max_depth=bound)
        first = next(walk)
        kept = first._children
        first._children = []  # the rest of the tree is out of reach once its first task was expanded
        try:
            seen[bound] = names(walk)
        finally:
            first._children = kept
    assert seen[None] == seen[FAR] and len(seen[None]) > 2
