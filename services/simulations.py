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

from engine.definitions import DefinitionError, Problem, SourceFile
from engine.simulation import SimulationPath, SimulationPlan, SimulationStep
from infra import yaml_docs

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
    doc = yaml_docs.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(doc, dict):
        raise SimulationFileError(f"{path.name}：应为“流程键: [路径...]”（expected a mapping of process keys）")
    out = []
    for key, paths in doc.items():
        if not isinstance(paths, list) or not all(isinstance(p, dict) for p in paths):
            raise SimulationFileError(f"{path.name}：{key} 应为路径列表（expected a list of paths）")
        out.extend((str(key), p) for p in paths)
    return out


def form_filler(files: list[SourceFile], forms_dir: Path) -> Callable[[str | None, dict], tuple[dict, list[str]]]:
    """Fills the example data in from a form of the bundle (the version being deployed), else of
    processes/forms, and says what still does not fit."""
    by_name = {f.name.rsplit("/", 1)[-1]: f.content for f in files if f.name.endswith(".json")}

    def fill(form: str | None, data: dict) -> tuple[dict, list[str]]:
        if not form:
            return data, []
        content = by_name.get(form)
        if content is None and (forms_dir / form).is_file():
            content = (forms_dir / form).read_bytes()
        if content is None:
            return data, []  # a form the deployment's static checks accepted without a file: nothing to hold to
        schema = json.loads(content)
        filled = with_required(schema, data)
        return filled, form_problems(schema, filled)

    return fill


def with_required(schema: dict, data: dict) -> dict:
    """`data` plus a plain example value for each required field it lacks (a new field the designer added)."""
    out = dict(data)
    properties = schema.get("properties") or {}
    for name in schema.get("required") or []:
        if name not in out and isinstance(properties.get(name), dict):
            value = example_value(properties[name])
            if value is not None:
                out[name] = value
    return out


def form_problems(schema: dict, data: dict) -> list[str]:
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '表单'}：{e.message}"
            for e in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))]


def example_value(prop: dict):
    if prop.get("enum"):
        return prop["enum"][0]
    if "const" in prop:
        return prop["const"]
    kind = prop.get("type")
    if kind == "string" and not prop.get("format") and not prop.get("pattern"):
        return "（模拟）" + "。" * max(0, int(prop.get("minLength", 0)) - 4)
    if kind in ("integer", "number"):
        return prop.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "array" and not prop.get("minItems"):
        return []
    return None  # a date, a pattern, an object: the example in processes/simulations.yaml must say it


def build_path(key: str, declared: dict, fill: Callable[[str | None, dict], tuple[dict, list[str]]]) -> SimulationPath:
    name = str(declared.get("name") or key)
    registration = declared.get("registration")
    refusal = ""
    if isinstance(registration, dict):
        registration, problems = fill(REGISTER_FORM, registration)
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
        fill = form_filler(files, processes_dir / "forms")
        try:
            declared = load_paths(processes_dir / FILE_NAME)
        except (SimulationFileError, yaml.YAMLError) as err:  # refuse the deployment, saying why, not a 500
            raise DefinitionError([Problem(FILE_NAME, None, None, f"模拟运行的路径文件有误：{err}")]) from None
        return SimulationPlan([build_path(key, path, fill) for key, path in declared], fill)

    return plan
