"""The rules `make lint` checks (ruff, import-linter) hold, and they catch what they are there to catch.

The first two tests keep `make test` as strict as `make lint`. The others copy the code into a scratch
folder, break one rule there and check that the matching tool refuses it, so a contract that silently
checks nothing (a misspelt module, a graph built from another checkout) cannot pass unnoticed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "infra", "services", "web")


def _tool(name: str) -> str:
    """The tool installed beside this Python (the project's venv), else the one on PATH."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    assert found, f"{name} is not installed: run `make setup` (it is in the test extras of pyproject.toml)"
    return found


def _run(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(cwd), **(env or {})}
    return subprocess.run(args, cwd=cwd, env=environment, capture_output=True, text=True, timeout=240,
                          check=False)


def _ruff(cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return _run([_tool("ruff"), "check", "--no-cache", "--output-format", "concise", "."], cwd, env)


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return _run([_tool("lint-imports"), "--no-cache"], cwd)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """The Python sources of engine, infra, services and web with the project's pyproject.toml."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=lambda folder, names: [n for n in names if n == "__pycache__"
                                                      or (Path(folder, n).is_file() and not n.endswith(".py"))])
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_ruff_finds_nothing_whatever_the_machines_own_ruff_configuration(tmp_path):
    # A user-wide configuration that selects every rule must not change the answer: the project's is complete.
    (tmp_path / "ruff").mkdir()
    (tmp_path / "ruff" / "ruff.toml").write_text('[lint]\nselect = ["ALL"]\n', encoding="utf-8")
    result = _ruff(ROOT, {"XDG_CONFIG_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_hold():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 7 kept, 0 broken." in result.stdout


def _write(root: Path, relative: str, text: str, *, append: bool = False) -> None:
    path = root / relative
    before = path.read_text(encoding="utf-8") if append else ""
    path.write_text(before + text, encoding="utf-8")


BREAKS = {
    "engine imports web": (
        [("engine/lint_probe.py", "import web.settings  # noqa: F401\n", False)],
        "engine imports none of services, infra, web"),
    "engine imports services inside a function": (
        [("engine/lint_probe.py", "def late():\n    import services.masking  # noqa\n", False)],
        "engine imports none of services, infra, web"),
    "engine imports infra": (
        [("engine/lint_probe.py", "from infra import db  # noqa: F401\n", False)],
        "engine imports none of services, infra, web"),
    "infra imports services": (
        [("infra/lint_probe.py", "def late():\n    import services.masking  # noqa\n", False)],
        "infra imports neither services nor web"),
    "services imports web": (
        [("services/lint_probe.py", "from web import ui  # noqa: F401\n", False)],
        "services does not import web"),
    "web imports tests": (
        [("web/ui.py", "\nimport tests.support.web  # noqa: E402,F401\n", True)],
        "the application imports neither features nor tests"),
    "services imports features": (
        [("services/routing.py", "\nimport features.conftest  # noqa: E402,F401\n", True)],
        "the application imports neither features nor tests"),
    "a new cycle in services": (
        [("services/lint_probe_a.py", "from . import lint_probe_b  # noqa: F401\n", False),
         ("services/lint_probe_b.py", "from . import lint_probe_a  # noqa: F401\n", False)],
        "no import cycles among the modules of engine, infra, services and web"),
    "a new cycle in engine hidden in a function": (
        [("engine/lint_probe_a.py", "def f():\n    from . import lint_probe_b  # noqa\n", False),
         ("engine/lint_probe_b.py", "from . import lint_probe_a  # noqa: F401\n", False)],
        "no import cycles among the modules of engine, infra, services and web"),
    "a new cycle in web beside the known ones": (
        [("web/i18n.py", "\nfrom . import ui  # noqa: E402,F401\n", True),
         ("web/ui.py", "\nfrom . import i18n  # noqa: E402,F401\n", True)],
        "no import cycles among the modules of engine, infra, services and web"),
    "an area imports another area inside a function": (
        [("web/stats/lint_probe.py", "def f():\n    from ..desk import task_list  # noqa\n", False)],
        "the areas of web/ do not import each other"),
    "the shared HTTP helpers import another module of web": (
        [("web/http.py", "\nfrom . import i18n  # noqa: E402,F401\n", True)],
        "web/http.py is a leaf: it imports no other module of web/"),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_import_contracts_refuse_a_new_breach(scratch, case):
    edits, contract = BREAKS[case]
    # Probes are new leaf modules where an existing module would drag its importers in (engine.clock is
    # imported by services too, so a web import there would break two contracts at once).
    assert _lint_imports(scratch).returncode == 0  # the copy holds before the edit
    for relative, text, append in edits:
        _write(scratch, relative, text, append=append)
    result = _lint_imports(scratch)
    assert result.returncode != 0, result.stdout
    assert f"{contract} BROKEN" in result.stdout, result.stdout
    assert "Contracts: 6 kept, 1 broken." in result.stdout, result.stdout


def test_ruff_refuses_a_new_import_inside_a_function_and_a_new_over_complex_function(scratch):
    branches = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(12))
    _write(scratch, "services/lint_probe.py",
           f'"""Probe."""\n\n\ndef late():\n    import json\n\n    return json\n\n\ndef tangled(x):\n{branches}'
           "    return -1\n")
    result = _ruff(scratch)
    assert result.returncode != 0
    assert "services/lint_probe.py:5:5: PLC0415" in result.stdout, result.stdout
    assert "services/lint_probe.py:10:5: C901" in result.stdout, result.stdout
