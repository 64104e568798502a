"""What `make bench` judges: one verdict line per goal (MET / NOT MET, the figure and the goal), the machine's
load average around each measurement, and a measurement repeated when the load moved while it ran.

The machine may be shared: timings are judged as ratios of measurements taken side by side (interleaved) in one
run, and the load average is printed so that a reader can tell a quiet run from a busy one."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

VERDICTS: list[Verdict] = []
# A run is repeated when the 1-minute load moved by more than BENCH_LOAD_MOVED or by more than a quarter of itself.
LOAD_MOVED = float(os.environ.get("BENCH_LOAD_MOVED", "0.75"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


@dataclass
class Verdict:
    goal: str
    figure: str
    target: str
    met: bool

    def line(self) -> str:
        return f"{'MET    ' if self.met else 'NOT MET'}  {self.goal}: {self.figure} (goal {self.target})"


def judge(goal: str, value: float, limit: float, *, unit: str = "", ratio: bool = False,
          at_least: bool = False) -> Verdict:
    """Print and keep one verdict: `value` against `limit` (at most, or `at_least`)."""
    fmt = (lambda v: f"x{v:.2f}") if ratio else (lambda v: f"{v:.2f}{unit}")
    met = value >= limit if at_least else value <= limit
    v = Verdict(goal, fmt(value), f"{'>=' if at_least else '<='} {fmt(limit)}", met)
    VERDICTS.append(v)
    print(v.line())
    return v


def judge_flag(goal: str, met: bool, figure: str, target: str) -> Verdict:
    """A verdict that is not a number against a limit (zero errors, say)."""
    v = Verdict(goal, figure, target, met)
    VERDICTS.append(v)
    print(v.line())
    return v


def summary() -> None:
    if not VERDICTS:
        return
    met = sum(v.met for v in VERDICTS)
    print(f"\nVerdicts: {met} of {len(VERDICTS)} goals met")
    for v in VERDICTS:
        print(f"  {v.line()}")


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:  # not available on this system
        return (0.0, 0.0, 0.0)


def fmt_load(load: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.2f}" for x in load)


def steady(label: str, measure: Callable[[], Any], repeats: int = REPEATS) -> Any:
    """Run `measure`, recording the load average before and after; when the 1-minute load moved while it ran
    (see LOAD_MOVED), run it again (at most `repeats` times) and keep the steadiest run."""
    best, best_moved = None, None
    for attempt in range(1, repeats + 1):
        before = load_average()
        result = measure()
        after = load_average()
        moved = abs(after[0] - before[0])
        limit = max(LOAD_MOVED, 0.25 * before[0])
        print(f"  [{label}: load average {fmt_load(before)} before, {fmt_load(after)} after"
              f"{', moved: measured again' if moved > limit and attempt < repeats else ''}]")
        if best_moved is None or moved < best_moved:
            best, best_moved = result, moved
        if moved <= limit:
            break
    return best
