"""The synthetic cases a new process version runs before it is deployed (processes/simulations.yaml).

The engine runs them (engine.simulation) in a transaction that is rolled back; this module knows what a petition
is: it turns the declared registration into start data the way the desk does (services.registration.start_data),
and holds each step's data to the form the work item shows (from the deployed bundle, else processes/forms), so
that a synthetic case is one a registrar and a handler could really have submitted.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, FormatChecker

from engine.definitions import SourceFile
from engine.simulation import SimulationPath, SimulationPlan, SimulationStep

from .registration import start_data

FILE_NAME = "simulations.yaml"
REGISTER_FORM = "petition_register.schema.json"


class SimulationFileError(ValueError):
    """processes/simulations.yaml is not as documented at its top."""


def load_paths(path: Path | str) -> list[tuple[str, dict]]:
    """(process key, declared path) for every path in the file; none when the file is absent."""
    path = Path(path)
    if not path.is_file():
        return []
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(doc, dict):
        raise SimulationFileError(f"{path.name}：应为“流程键: [路径...]”（expected a mapping of process keys）")
    out = []
    for key, paths in doc.items():
        if not isinstance(paths, list) or not all(isinstance(p, dict) for p in paths):
            raise SimulationFileError(f"{path.name}：{key} 应为路径列表（expected a list of paths）")
        out.extend((str(key), p) for p in paths)
    return out


def form_checker(files: list[SourceFile], forms_dir: Path) -> Callable[[str | None, dict], list[str]]:
    """Checks data against a form of the bundle (the version being deployed), else of processes/forms."""
    by_name = {f.name.rsplit("/", 1)[-1]: f.content for f in files if f.name.endswith(".json")}

    def check(form: str | None, data: dict) -> list[str]:
        if not form:
            return []
        content = by_name.get(form)
        if content is None and (forms_dir / form).is_file():
            content = (forms_dir / form).read_bytes()
        if content is None:
            return []  # a form the deployment's static checks already accepted without a file: nothing to hold to
        return form_problems(json.loads(content), data)

    return check


def form_problems(schema: dict, data: dict) -> list[str]:
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '表单'}：{e.message}"
            for e in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))]


def build_path(key: str, declared: dict, check: Callable[[str | None, dict], list[str]]) -> SimulationPath:
    name = str(declared.get("name") or key)
    registration = declared.get("registration")
    refusal = ""
    if isinstance(registration, dict):
        problems = check(REGISTER_FORM, registration)
        if problems:
            refusal = f"模拟登记数据不符合登记表单：{'；'.join(problems)}（the example registration does not fit the form）"
        start = start_data(registration, str(declared.get("registering_unit") or "city_bureau"))
    else:
        start = dict(declared.get("start") or {})
    steps = [SimulationStep(str(s["task"]), dict(s.get("data") or {}), str(s.get("as") or "simulation"),
                            str(s.get("label") or ""))
             for s in declared.get("steps") or []]
    return SimulationPath(key, name, start, steps, refusal=refusal)


def plan_for(processes_dir: Path | str) -> Callable[[list[SourceFile]], SimulationPlan]:
    """The runtime's `simulations` hook: the file is read on each deployment, so that an edit is seen at once."""
    processes_dir = Path(processes_dir)

    def plan(files: list[SourceFile]) -> SimulationPlan:
        check = form_checker(files, processes_dir / "forms")
        paths = [build_path(key, declared, check) for key, declared in load_paths(processes_dir / FILE_NAME)]
        return SimulationPlan(paths, check)

    return plan
