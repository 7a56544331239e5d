"""The main job behind ``make demo``: the whole pipeline on the embedded default, step by step.

Each service adds one step. A step takes the workbench and returns what it produced and where,
so the demo can end by telling the user where to look.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workbench._workbench import Workbench
from workbench.clock import SimulatedClock


@dataclass(frozen=True)
class Output:
    """Something a demo step made: what it is and where it lives."""

    what: str
    where: str


Step = Callable[[Workbench], list[Output]]


def _clock_step(wb: Workbench) -> list[Output]:
    start = wb.clock.isoformat()
    wb.clock.advance("1h")
    return [Output(f"simulated clock moved from {start} to {wb.clock.isoformat()}", "in memory")]


STEPS: list[tuple[str, Step]] = [
    ("Simulated clock", _clock_step),
]


def run_demo(home: str, report: Callable[[str], None] = print) -> list[Output]:
    """Run every step on a workbench at ``home`` with a simulated clock; report as it goes."""
    wb = Workbench(home=home, clock=SimulatedClock(start="2026-01-01T00:00:00Z"))
    report(f"Workbench home: {wb.home.path}")
    outputs: list[Output] = []
    for number, (title, step) in enumerate(STEPS, start=1):
        report(f"[{number}/{len(STEPS)}] {title}")
        made = step(wb)
        for output in made:
            report(f"    {output.what}: {output.where}")
        outputs.extend(made)
    report("Outputs:")
    report(f"    home folder (every service's state): {wb.home.path}")
    for output in outputs:
        if output.where != "in memory":
            report(f"    {output.what}: {output.where}")
    return outputs
