"""The smoke simulation before a deployment goes live (部署前的模拟运行).

A new version may pass every static check and still fail the first real case: a script or decision rule that
raises on real data, a condition that matches no outgoing flow, a handler that refuses the new data, a timer
expression that fails when it is reached. So a deployment first runs synthetic cases on the new version: each
declared path (start data, then the work items to complete with their form data) runs through the real runtime,
inside the deployment's own transaction and under a SAVEPOINT that is always rolled back, with the clock frozen
at the deployment's instant. Nothing the simulation does stays: no case, journal event, work item, timer,
outbox row or case number (on PostgreSQL the id sequences skip the ids it used, as after any rollback). Any
incident or refusal stops the path and names it; the caller (`Runtime.deploy`) then refuses the whole
deployment. A declared step the new version does not reach (a step added, moved or removed before it) or
whose example data its form no longer accepts ends the path there, with the reason, without refusing: the
synthetic case ran into a wait, not an error.

The engine knows no petition domain: the paths come from the composition root (`Runtime(simulations=...)`),
which builds them from processes/simulations.yaml and the forms. A step's form is the caller's too
(`fill_form`): it fills in what the form requires and the example lacks, and holds the data to the same
schema a handler's submission is held to.

Work nobody can do (a user task whose role nobody holds in its unit, or whose unit cannot be determined) is
reported as a warning, not a refusal: roles are granted in the organisation independently of deployments, and a
new role is often deployed first and staffed second.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .commands import CompleteTask, StartCase
from .definitions import DefinitionError, Problem, SourceFile
from .errors import describe_error
from .store import JournalEvent

SIMULATION_ACTOR = "simulation"


@dataclass
class SimulationStep:
    """Complete the open work item of `element_id` with `data` (acting as `actor`)."""
    element_id: str
    data: dict = field(default_factory=dict)
    actor: str = SIMULATION_ACTOR
    label: str = ""


@dataclass
class SimulationPath:
    """One synthetic case: start `process_key` with `start`, then complete `steps` in order, up to the waits."""
    process_key: str
    name: str
    start: dict = field(default_factory=dict)
    steps: list[SimulationStep] = field(default_factory=list)
    actor: str = SIMULATION_ACTOR
    refusal: str = ""  # why the declared start itself cannot be used (e.g. it no longer fits the form)


@dataclass
class StepResult:
    step: str  # "start" or the element id of the work item
    label: str
    ok: bool
    message: str = ""
    element_id: str | None = None  # where it failed (the incident's element), when known


@dataclass
class PathResult:
    process_key: str
    name: str
    steps: list[StepResult] = field(default_factory=list)
    waits: list[str] = field(default_factory=list)  # the work items open when the path ended
    warnings: list[str] = field(default_factory=list)
    stopped: str = ""  # why the path ended before its last declared step, when it did (not a failure)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    @property
    def failed(self) -> StepResult | None:
        return next((s for s in self.steps if not s.ok), None)


@dataclass
class SimulationReport:
    paths: list[PathResult] = field(default_factory=list)
    at: datetime | None = None

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.paths)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "ran": bool(self.paths), "at": self.at.isoformat() if self.at else None,
                "paths": [dict(asdict(p), ok=p.ok) for p in self.paths]}

    def problems(self, files: list[SourceFile]) -> list[Problem]:
        """One problem per failed path, placed like the static problems (file, line, element), naming path and
        step in the message."""
        out = []
        for path in self.paths:
            failed = path.failed
            if failed is None:
                continue
            element = failed.element_id or (failed.step if failed.step != "start" else None)
            file, line = locate(files, element)
            out.append(SimulationProblem(
                file, line, element,
                f"模拟运行失败：路径“{path.name}”第 {path.steps.index(failed) + 1} 步“{failed.label}”：{failed.message}"
                f"（smoke simulation failed: path {path.name!r}, step {failed.step!r}）",
                simulation={"path": path.name, "process_key": path.process_key, "step": failed.step, "label": failed.label,
                 "message": failed.message}))
        return out


@dataclass(frozen=True)
class SimulationProblem(Problem):
    """A problem found by running, not reading: it carries `simulation` (path, step, message) for the API."""
    simulation: dict = field(default_factory=dict, compare=False, hash=False)


def locate(files: list[SourceFile], element_id: str | None) -> tuple[str, int | None]:
    """The file and line that declare `element_id` (the first BPMN file when it is not found)."""
    bpmn = [f for f in files if f.name.endswith(".bpmn")] or list(files)
    if element_id:
        needle = f'id="{element_id}"'.encode()
        for f in bpmn:
            at = f.content.find(needle)
            if at >= 0:
                return f.name, f.content.count(b"\n", 0, at) + 1
    return (bpmn[0].name if bpmn else "-"), None


# (form file name, example data) -> (the data to submit, filled in from the form, and what still does not fit)
FormFill = Callable[[str | None, dict], tuple[dict, list[str]]]


@dataclass
class SimulationPlan:
    """What the composition root hands the runtime for one bundle: the paths to run and the form check."""
    paths: list[SimulationPath] = field(default_factory=list)
    fill_form: FormFill | None = None


class SimulationFailed(DefinitionError):
    """A deployment refused because a synthetic case failed on the new version; nothing was deployed."""

    def __init__(self, report: SimulationReport, problems: list[Problem]):
        super().__init__(problems)
        self.report = report


class Simulation:
    """Runs paths on `rt` (an engine Runtime) in session `s`, each under a SAVEPOINT rolled back at its end."""

    def __init__(self, rt, s: Session, now: datetime, fill_form: FormFill | None = None):
        self.rt, self.s, self.now = rt, s, now
        self.fill_form = fill_form

    def run(self, paths: list[SimulationPath], definition_ids: dict[str, int]) -> SimulationReport:
        report = SimulationReport(at=self.now)
        for path in paths:
            if path.process_key in definition_ids:
                report.paths.append(self.run_path(path, definition_ids[path.process_key]))
        return report

    def run_path(self, path: SimulationPath, definition_id: int) -> PathResult:
        result = PathResult(path.process_key, path.name)
        savepoint = self.s.begin_nested()
        try:
            self._walk(path, definition_id, result)
        finally:
            savepoint.rollback()
        return result

    def _walk(self, path: SimulationPath, definition_id: int, result: PathResult) -> None:
        if path.refusal:
            result.steps.append(StepResult("start", "登记并启动（start）", False, path.refusal))
            return
        start = StartCase(path.process_key, dict(path.start), None, definition_id)
        view = self._step(result, "start", "登记并启动（start）", lambda: self.rt.execute(
            start, path.actor, now=self.now, session=self.s))
        for step in path.steps:
            if view is None or result.stopped:
                break
            view = self._complete(result, view, step) or (view if result.stopped else None)
        if view is not None and result.ok:
            result.waits = [f"{t.name}（{t.element_id}）" for t in view.tasks]
            result.warnings = self._unrouted(view.id) + result.warnings

    def _complete(self, result: PathResult, view, step: SimulationStep):
        label = step.label or step.element_id
        task = next((t for t in view.tasks if t.element_id == step.element_id), None)
        if task is None:
            # Not a failure: the new version waits elsewhere (a step added, moved or removed, a case that ends
            # sooner). The path stops at those waits, which it reached without an incident; the rest is not run.
            waiting = "、".join(f"{t.name}（{t.element_id}）" for t in view.tasks)
            state = "案件已办结" if view.status == "completed" else f"停在：{waiting or '无待办'}"
            result.stopped = (f"待办 {label} 没有出现，{state}；此步及其后的步骤未模拟"
                              f"（work item {step.element_id} not reached: the path ends at the waits before it）")
            return None
        label = step.label or task.name
        data, form_errors = self.fill_form(task.form, dict(step.data)) if self.fill_form else (step.data, [])
        if form_errors:
            # The example data, even filled in from the form, cannot be submitted: the form asks for more than
            # a synthetic case can know. The path ends here; the version is not at fault.
            result.stopped = (f"“{label}”的模拟数据不符合表单 {task.form}：{'；'.join(form_errors)}；此步及其后的步骤未模拟"
                              f"（the example data does not fit the form: the path ends here）")
            return None
        command = CompleteTask(task.id, data)
        return self._step(result, step.element_id, label, lambda: self.rt.execute(
            command, step.actor, now=self.now, session=self.s))

    def _step(self, result: PathResult, step: str, label: str, run: Callable):
        try:
            view = run()
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # a refusal (Invalid, NotFound, ...) or anything else: the step failed
            result.steps.append(StepResult(step, label, False, describe_error(exc)[0]))
            return None
        if view.incidents:
            first = view.incidents[0]
            where = f"在 {first.element_id} 出错" if first.element_id else f"{label}之后，流程继续运行时出错"
            result.steps.append(StepResult(step, label, False, f"{where}：{first.message}", first.element_id))
            return None
        result.steps.append(StepResult(step, label, True))
        result.warnings.extend(self._nobody_can_do(view, result))
        return view

    def _unrouted(self, case_id: int) -> list[str]:
        """Work items whose unit could not be determined (journaled by the runtime as work_item.unrouted)."""
        rows = self.s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id,
                                                         JournalEvent.type == "work_item.unrouted"))
        return [f"{row.element_id}：{_message(row.data)}" for row in rows]

    def _nobody_can_do(self, view, result: PathResult) -> list[str]:
        """Each newly opened work item whose role nobody holds in its unit (and nobody is assigned)."""
        directory = getattr(self.rt.script_engine, "directory", None)
        if directory is None:
            return []
        people, out = directory(self.s), []
        for task in view.tasks:
            orphan = getattr(task, "orphan", None)
            if orphan and not orphan.get("resolved_at"):  # placed with a petition office (engine.work_items.place)
                warning = (f"{task.name}（{task.element_id}）：单位 {orphan['unit']} 没有人担任角色 {orphan['role']}，"
                           f"这项工作无人可办，已交由 {task.unit}（{task.role}）"
                           f"（nobody holds the role: work nobody can do, placed with the petition office above）")
                if warning not in result.warnings and warning not in out:
                    out.append(warning)
                continue
            if task.role and task.unit and not task.assignee and not people.users(task.unit, task.role):
                warning = (f"{task.name}（{task.element_id}）：单位 {task.unit} 没有人担任角色 {task.role}，"
                           f"这项工作无人可办（nobody holds the role: work nobody can do）")
                if warning not in result.warnings and warning not in out:
                    out.append(warning)
        return out


def _message(data: str) -> str:
    try:
        return str(json.loads(data).get("message", data))
    except (ValueError, AttributeError):
        return data
