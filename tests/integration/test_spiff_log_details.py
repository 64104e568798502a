"""SpiffWorkflow builds the details of a `spiff.task` log line for every task state change; engine.spiff_patches
builds them only when the line is logged (patch 5), and the line is as it was when it is."""
from __future__ import annotations

import logging

from SpiffWorkflow.task import Task

from engine import spiff_patches
from engine.definitions import SourceFile
from tests.support import bpmn


def test_task_log_details_are_built_only_when_the_spiff_task_logger_logs(sqlite_container, monkeypatch, caplog):
    c = sqlite_container
    c.runtime.deploy([SourceFile("loop.bpmn", bpmn.LOOP.encode("utf-8"))], actor="designer")
    built = []
    original = Task.collect_log_extras

    def counted(self, dct=None):
        built.append(self.task_spec.name)
        return original(self, dct)

    monkeypatch.setattr(Task, "collect_log_extras", counted)

    caplog.set_level(logging.WARNING, logger="spiff.task")  # as web/app.py has it: `spiff` at WARNING
    case = c.runtime.start("loop_case", {}, "registrar")
    c.runtime.complete(case.tasks[0].id, {"done": False}, "handler")
    assert built == []

    caplog.set_level(logging.INFO, logger="spiff.task")
    case = c.runtime.start("loop_case", {}, "registrar")
    c.runtime.complete(case.tasks[0].id, {"done": True}, "handler")
    changes = [r for r in caplog.records if r.name == "spiff.task" and r.getMessage().startswith("State changed to")]
    assert changes and len(built) >= len(changes)
    assert {"handle", "done_gw", "end"} <= {r.task_spec for r in changes}
    assert all(isinstance(r.elapsed, float) and r.state == r.getMessage().removeprefix("State changed to ")
               for r in changes)


def test_workflow_log_details_are_built_only_when_the_spiff_workflow_logger_logs(sqlite_container, monkeypatch,
                                                                                 caplog):
    """A workflow's details listed every one of its tasks whether its INFO line was logged or not."""
    c = sqlite_container
    c.runtime.deploy([SourceFile("loop.bpmn", bpmn.LOOP.encode("utf-8"))], actor="designer")
    built = []
    original = spiff_patches._LIBRARY_LOG_DETAILS["workflow"]

    def counted(self, dct=None):
        built.append(self.spec.name)
        return original(self, dct)

    monkeypatch.setitem(spiff_patches._LIBRARY_LOG_DETAILS, "workflow", counted)
    caplog.set_level(logging.WARNING, logger="spiff.workflow")
    case = c.runtime.start("loop_case", {}, "registrar")
    c.runtime.complete(case.tasks[0].id, {"done": True}, "handler")  # started and completed: two INFO lines
    assert built == []

    caplog.set_level(logging.INFO, logger="spiff.workflow")
    caplog.clear()
    case = c.runtime.start("loop_case", {}, "registrar")
    c.runtime.complete(case.tasks[0].id, {"done": True}, "handler")
    assert built == ["loop_case", "loop_case"]
    lines = {r.getMessage(): r for r in caplog.records if r.name == "spiff.workflow"}
    assert {"Initialized workflow", "Workflow completed"} <= set(lines)
    started = lines["Initialized workflow"]
    assert started.workflow_spec == "loop_case" and started.completed is False and started.root is not None
    assert lines["Workflow completed"].workflow_spec == "loop_case"
