"""What every benchmarks/<area>.py shares: its flags, a table on stdout and the closing JSON.

    python benchmarks/streams.py [--quick] [--json]

``--quick`` shrinks sizes so a run finishes within a minute; ``--json`` ends the output with one
JSON object of figures named as the issue names them.
"""

from __future__ import annotations

import argparse
import atexit
import json
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def scratch_dir(prefix: str) -> str:
    """A temporary folder for a benchmark's homes, removed when the benchmark exits (a run
    writes up to gigabytes)."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--json", action="store_true", help="end with one JSON object of figures")
    return parser.parse_args()


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """Seconds elapsed inside the block, readable during and after it."""
    started = time.perf_counter()
    ended: list[float] = []
    yield lambda: (ended[0] if ended else time.perf_counter()) - started
    ended.append(time.perf_counter())


def best_rate(count: int, run: Callable[[], object], repeat: int = 3) -> float:
    """Items per second of the fastest of ``repeat`` runs that each handle ``count`` items."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return count / best


def report(title: str, rows: list[tuple[str, float, str]], figures: dict, as_json: bool) -> None:
    """Print a table of (what, value, unit) rows, then the figures as JSON when asked."""
    print(f"{title}  ({platform.python_implementation()} {platform.python_version()})")
    width = max(len(what) for what, _, _ in rows)
    for what, value, unit in rows:
        print(f"  {what:<{width}}  {value:>16,.2f}  {unit}")
    if as_json:
        print(json.dumps(figures, sort_keys=True))
