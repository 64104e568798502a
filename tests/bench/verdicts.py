"""One verdict line per goal of `make bench`: MET / NOT MET, the figure measured and the goal, so that a run's
outcome can be read (and grepped) at a glance. Printing only: the benchmarks never assert timings."""
from __future__ import annotations


def verdict(goal: str, met: bool, figure: str, target: str) -> str:
    """`VERDICT MET     <goal>: <figure> (goal <target>)`."""
    return f"VERDICT {'MET    ' if met else 'NOT MET'} {goal}: {figure} (goal {target})"
