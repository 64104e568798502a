"""The errors a command can end with, and the words an admin reads for an engine error (an incident)."""
from __future__ import annotations

from typing import Any

from SpiffWorkflow.exceptions import WorkflowException

from .handlers import HandlerFailed, HandlerInputError, UnknownHandler
from .spiff_patches import UncaughtBpmnError


class RuntimeError_(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, details: Any = None):
        super().__init__(message)
        self.message = message
        self.details = details


class Conflict(RuntimeError_):
    code, status = "conflict", 409


class NotFound(RuntimeError_):
    code, status = "not_found", 404


class Invalid(RuntimeError_):
    code, status = "invalid", 422


class ReplayDiverged(Exception):
    """Replaying a journal asked the outside world something it was not asked the first time."""


class ReplayError(Exception):
    """A journal that cannot be replayed: `seq` names the event where it stopped."""

    def __init__(self, seq: int, message: str):
        super().__init__(message)
        self.seq = seq
        self.message = message


class NotApplicable(Exception):
    """A command that does not fit the workflow it is applied to (replay: the journal and the process differ).
    `{seq}` in the message stands for the journal event being replayed."""


def describe_error(error: BaseException) -> tuple[str, str]:
    """The message an admin needs: the handler's or sandbox's own words, not SpiffWorkflow's wrapper."""
    seen = set()
    node: BaseException | None = error
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, HandlerFailed):
            return str(node), "handler"
        if isinstance(node, (HandlerInputError, UnknownHandler)):
            return str(node), "handler"
        if isinstance(node, UncaughtBpmnError):
            return str(node), "bpmn_error"
        if node.__class__.__name__ == "ScriptError":
            return str(node), "script"
        inner = getattr(node, "exception", None)
        node = inner if isinstance(inner, BaseException) else (node.__cause__ or node.__context__)
    text = str(error) or error.__class__.__name__
    if isinstance(error, WorkflowException):
        return text, "engine"
    if not isinstance(error, Exception):
        name = error.__class__.__name__
        return (f"流程运行中出现 {name}（{text}），已记为故障，服务未中断；请修正流程中的脚本或处理程序后重试"
                f"（the process raised {name}, which is not an ordinary error; it was recorded as an incident and "
                f"the service went on: fix the script or handler, then retry）"), "engine"
    return f"{error.__class__.__name__}: {text}", "engine"
