"""The delivery journal: which source records are in the lake, kept so that kill -9 at any moment
loses and duplicates nothing. The format is described in docs/firehose-exactly-once.md.

Per source shard a *watermark* (every record up to it is delivered or dropped) and, above it, the
*delivered ranges*: ordinals of records already in delivered objects while older records still
wait in other partitions' buffers. A flush first records its objects as *pending* together with
the state that holds once they exist, then writes the objects, then commits that state; recovery
rolls a pending flush forward when all its objects exist, or deletes the ones that do and rolls it
back (those records are then delivered again from the source, once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from workbench._files import atomic_write_json, read_json

KINDS = ("primary", "backup")
FORMAT = 1


def add_ranges(ranges: list[list[int]], ordinals: np.ndarray) -> list[list[int]]:
    """``ranges`` (sorted, disjoint ``[first, last]``) with ``ordinals`` added, merged.

    >>> add_ranges([[0, 2]], np.array([3, 4, 9]))
    [[0, 4], [9, 9]]
    """
    values = np.asarray(ordinals, dtype=np.int64)
    if len(values) > 1 and not bool(np.all(values[1:] > values[:-1])):
        values = np.unique(values)
    runs: list[list[int]] = []
    if len(values):
        breaks = np.flatnonzero(np.diff(values) != 1)
        starts = np.concatenate([[values[0]], values[breaks + 1]])
        ends = np.concatenate([values[breaks], [values[-1]]])
        runs = [[int(a), int(b)] for a, b in zip(starts, ends, strict=True)]
    merged: list[list[int]] = []
    for first, last in sorted([*ranges, *runs]):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return merged


def in_ranges(ranges: list[list[int]], ordinals: np.ndarray) -> np.ndarray:
    """Which ``ordinals`` fall in ``ranges``.

    >>> in_ranges([[2, 3], [7, 7]], np.array([1, 2, 3, 7, 8])).tolist()
    [False, True, True, True, False]
    """
    if not ranges:
        return np.zeros(len(ordinals), dtype=bool)
    firsts = np.array([r[0] for r in ranges], dtype=np.int64)
    lasts = np.array([r[1] for r in ranges], dtype=np.int64)
    at = np.searchsorted(firsts, ordinals, side="right") - 1
    safe = np.clip(at, 0, None)
    return (at >= 0) & (ordinals <= lasts[safe])


def prune_ranges(ranges: list[list[int]], watermark: int) -> list[list[int]]:
    """``ranges`` without the ordinals at or below ``watermark`` (those are implied)."""
    return [[max(a, watermark + 1), b] for a, b in ranges if b > watermark]


def empty_state() -> dict[str, Any]:
    return {
        "format": FORMAT,
        "shards": {},
        "delivered": {kind: {} for kind in KINDS},
        "metrics": {},
        "pending": None,
    }


class StateFile:
    """``state.json`` of one delivery stream, written atomically (fsync + rename)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        state = read_json(self.path)
        return state if isinstance(state, dict) else empty_state()

    def save(self, state: dict[str, Any]) -> None:
        atomic_write_json(self.path, state)
