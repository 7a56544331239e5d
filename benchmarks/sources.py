"""Source generation speed, side by side with the raw limit of numpy.

    python benchmarks/sources.py [--quick] [--json]

For each source (retail, clickstream, sensors, nexmark): events per second as a polars frame
(``frame(n)``), as dicts (``records(n)``) and as JSON lines (``json_lines(n)``), and the raw
limit: numpy drawing the same number of random columns for the same number of rows, with the
ratio of each mode to it. Figures: frame_events_per_s and dict_events_per_s (each the slowest
source's, wall time), the same per CPU second (frame_events_per_cpu_s, dict_events_per_cpu_s:
steadier on a shared machine), per-source figures, and each source's frame/raw ratio.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import best_rate, parse_args, report

from workbench.sources import SOURCES


def cpu_rate(count: int, run, repeat: int) -> float:
    """Items per second of CPU time (all threads), best of ``repeat``: on a shared machine
    wall time also counts other processes' turns, CPU time only this one's work."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return count / best


def raw_limit(rows: int, columns: int) -> float:
    """Rows per second for numpy drawing ``columns`` random columns of ``rows`` rows."""
    rng = np.random.default_rng(0)
    return best_rate(rows, lambda: [rng.random(rows) for _ in range(columns)])


def consume(iterator) -> None:
    for _ in iterator:
        pass


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    frame_n = 500_000 if args.quick else 2_000_000
    dict_n = 100_000 if args.quick else 500_000
    repeat = 2 if args.quick else 3
    rows, figures = [], {}
    for name, source in SOURCES.items():
        columns = len(source.model.columns)
        frame = best_rate(frame_n, lambda s=source: s.frame(frame_n), repeat)
        dicts = best_rate(dict_n, lambda s=source: consume(s.records(dict_n)), repeat)
        lines = best_rate(dict_n, lambda s=source: consume(s.json_lines(dict_n)), repeat)
        raw = raw_limit(frame_n, columns)
        frame_cpu = cpu_rate(frame_n, lambda s=source: s.frame(frame_n), repeat)
        dicts_cpu = cpu_rate(dict_n, lambda s=source: consume(s.records(dict_n)), repeat)
        rows += [
            (f"{name}: frame", frame, "events/s"),
            (f"{name}: dicts", dicts, "events/s"),
            (f"{name}: JSON lines", lines, "events/s"),
            (f"{name}: raw numpy, {columns} random columns", raw, "rows/s"),
            (f"{name}: frame, per CPU second", frame_cpu, "events/s"),
            (f"{name}: dicts, per CPU second", dicts_cpu, "events/s"),
            (f"{name}: frame / raw", frame / raw, "ratio"),
            (f"{name}: dicts / raw", dicts / raw, "ratio"),
        ]
        figures[f"{name}_frame_events_per_s"] = round(frame)
        figures[f"{name}_dict_events_per_s"] = round(dicts)
        figures[f"{name}_json_lines_per_s"] = round(lines)
        figures[f"{name}_frame_vs_raw_ratio"] = round(frame / raw, 4)
        figures[f"{name}_frame_events_per_cpu_s"] = round(frame_cpu)
        figures[f"{name}_dict_events_per_cpu_s"] = round(dicts_cpu)
    figures["frame_events_per_s"] = min(
        v for k, v in figures.items() if k.endswith("_frame_events_per_s")
    )
    figures["dict_events_per_s"] = min(
        v for k, v in figures.items() if k.endswith("_dict_events_per_s")
    )
    for mode in ("frame", "dict"):
        per_cpu = [v for k, v in figures.items() if k.endswith(f"_{mode}_events_per_cpu_s")]
        figures[f"{mode}_events_per_cpu_s"] = min(per_cpu)
    report("Sources: events generated per second", rows, figures, args.json)


if __name__ == "__main__":
    main()
