"""The designer's view of the smoke simulation: problems and reports as JSON, validation with the simulation."""
from __future__ import annotations

from engine.definitions import DefinitionError, Problem
from engine.simulation import SimulationFailed, SimulationReport


def problem_json(p: Problem) -> dict:
    """A problem as the API lists it; one found by the simulation also names its path and step."""
    out = {"file": p.file, "line": p.line, "element_id": p.element_id, "message": p.message}
    found = getattr(p, "simulation", None)
    if found:
        out["simulation"] = found
    if getattr(p, "suggestion", None):  # a condition in another language, with its Python (engine.condition_translation)
        out["suggestion"] = p.suggestion
    return out


def simulation_json(err: DefinitionError) -> dict:
    """`{"simulation": report}` for a deployment the simulation refused, else nothing."""
    return {"simulation": err.report.to_dict()} if isinstance(err, SimulationFailed) else {}


def validate(runtime, bundle) -> tuple[list[Problem], SimulationReport | None]:
    """Static problems, else the simulation's report (passed or not) with the problems of its failed paths:
    what a deployment would say."""
    try:
        report = runtime.simulate(bundle)
    except DefinitionError as err:
        return err.problems, None
    return report.problems(bundle), report
