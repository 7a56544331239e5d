"""Source generation speed, side by side with the raw limit of numpy.

    python benchmarks/sources.py [--quick] [--json]

For each source (retail, clickstream, sensors, nexmark): events per second as a polars frame
(``frame(n)``), as dicts (``records(n)``) and as JSON lines (``json_lines(n)``), and the raw
limit: numpy drawing the same number of random columns for the same number of rows, with the
ratio of each mode to it. Figures: frame_events_per_s and dict_events_per_s (each the slowest
source's), per-source figures, and each source's frame/raw ratio.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import best_rate, parse_args, report

from workbench.sources import SOURCES


def raw_limit(rows: int, columns: int) -> float:
    """Rows per second for numpy drawing ``columns`` random columns of ``rows`` rows."""
    rng = np.random.default_rng(0)
    return best_rate(rows, lambda: [rng.random(rows) for _ in range(columns)])


def consume(iterator) -> None:
    for _ in iterator:
        pass


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    frame_n = 200_000 if args.quick else 2_000_000
    dict_n = 50_000 if args.quick else 500_000
    repeat = 2 if args.quick else 3
    rows, figures = [], {}
    for name, source in SOURCES.items():
        columns = len(source.model.columns)
        frame = best_rate(frame_n, lambda s=source: s.frame(frame_n), repeat)
        dicts = best_rate(dict_n, lambda s=source: consume(s.records(dict_n)), repeat)
        lines = best_rate(dict_n, lambda s=source: consume(s.json_lines(dict_n)), repeat)
        raw = raw_limit(frame_n, columns)
        rows += [
            (f"{name}: frame", frame, "events/s"),
            (f"{name}: dicts", dicts, "events/s"),
            (f"{name}: JSON lines", lines, "events/s"),
            (f"{name}: raw numpy, {columns} random columns", raw, "rows/s"),
            (f"{name}: frame / raw", frame / raw, "ratio"),
            (f"{name}: dicts / raw", dicts / raw, "ratio"),
        ]
        figures[f"{name}_frame_events_per_s"] = round(frame)
        figures[f"{name}_dict_events_per_s"] = round(dicts)
        figures[f"{name}_json_lines_per_s"] = round(lines)
        figures[f"{name}_frame_vs_raw_ratio"] = round(frame / raw, 4)
    figures["frame_events_per_s"] = min(
        v for k, v in figures.items() if k.endswith("_frame_events_per_s")
    )
    figures["dict_events_per_s"] = min(
        v for k, v in figures.items() if k.endswith("_dict_events_per_s")
    )
    report("Sources: events generated per second", rows, figures, args.json)


if __name__ == "__main__":
    main()
