"""Pruning finished history (engine.state.prune_finished_history) cuts exactly the tasks above the lowest common
ancestor of the live tasks, and finished side branches hanging off them: checked against a plain statement of that
rule on every prune of the demo office's set-up, whose cases run the shipped processes (triage, handling, review,
escalation, 13710, the discipline track ...) through the steps an office takes."""
from __future__ import annotations

from SpiffWorkflow.util.task import TaskState

from engine import state
from engine.definitions import SourceFile
from tests.support import bpmn
from tests.support.db import demo_office

LIVE = ~(TaskState.COMPLETED | TaskState.CANCELLED)


def _expected(wf) -> tuple[set[str], str | None] | None:
    """The task ids a prune keeps and the last task after it, or None when it keeps them all: every ancestor
    chain of a live task computed in full, the deepest task they all share taken as the cut."""
    live = [t for t in wf.tasks.values() if t.state & LIVE]
    if not live:
        return None

    def chain(task) -> list:
        out = []
        while task is not None:
            out.append(task)
            task = task.parent
        return out

    shared = set.intersection(*({t.id for t in chain(task)} for task in live))
    if not shared:
        return None
    top = next(t for t in chain(live[0]) if t.id in shared)
    root = wf.task_tree
    if top is root or top.parent is root:
        return None
    kept = {root.id}
    todo = [top]
    while todo:
        node = todo.pop()
        kept.add(node.id)
        todo.extend(node.children)
    last = wf.last_task
    if last is not None and last.id not in kept:
        last = top
    return {str(i) for i in kept}, (str(last.id) if last is not None else None)


def test_every_prune_of_the_demo_office_keeps_what_the_rule_says(sqlite_template, tmp_path, monkeypatch):
    checked = {"cut": 0, "kept all": 0}
    real = state._prune_one

    def compared(wf) -> int:
        expected = _expected(wf)
        before = {str(i) for i in wf.tasks}
        removed = real(wf)
        after = {str(i) for i in wf.tasks}
        if expected is None:
            assert removed == 0 and after == before
            checked["kept all"] += 1
            return removed
        kept, last = expected
        assert after == kept and removed == len(before - kept)
        assert str(wf.last_task.id) == last
        top = [t for t in wf.tasks.values() if t.parent is wf.task_tree]
        assert len(top) == 1 and [str(t.id) for t in wf.task_tree.children] == [str(top[0].id)]
        checked["cut"] += 1
        return removed

    monkeypatch.setattr(state, "_prune_one", compared)
    c = demo_office(sqlite_template, tmp_path)
    try:
        c.runtime.deploy([SourceFile("loop.bpmn", bpmn.LOOP.encode("utf-8"))], actor="designer")
        case = c.runtime.start("loop_case", {}, "registrar")
        for i in range(5):
            case = c.runtime.complete(case.tasks[0].id, {"done": i == 4}, "handler")
        assert case.status == "completed"
    finally:
        c.engine.dispose()
    # The set-up ran the real processes far enough that many prunes cut history and many had nothing to cut.
    assert checked["cut"] >= 20 and checked["kept all"] >= 5, checked
