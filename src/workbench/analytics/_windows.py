"""Window kinds: which windows an event time belongs to, vectorised over int64 milliseconds.

A window is ``[start, end)``. Fixed kinds (tumbling, hopping, cumulative) are aligned to the
epoch as in Flink; a session window per key spans its first event to its last event plus the
gap; a sliding RANGE window belongs to each row and covers ``[ts - range, ts]``.

>>> import numpy as np
>>> starts, ends = hop("2s", "10s").windows_of(np.array([11_500]))[1:]
>>> list(zip(starts.tolist(), ends.tolist()))
[(10000, 20000), (8000, 18000), (6000, 16000), (4000, 14000), (2000, 12000)]
>>> cumulate("1s", "3s").windows_of(np.array([1_200]))[2].tolist()
[2000, 3000]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from workbench.analytics._time import parse_interval
from workbench.errors import ValidationException

WINDOW_COLUMNS = ("window_start", "window_end", "window_time")


@dataclass(frozen=True)
class FixedWindows:
    """Tumbling, hopping or cumulative windows: every window a row belongs to is known at once.

    ``size`` is the window length; ``slide`` how far apart window starts are (hopping), or
    ``step`` how far apart window ends are within one ``size`` period (cumulative).
    """

    kind: str
    size: int
    slide: int
    step: int = 0

    def __post_init__(self) -> None:
        for name in ("size", "slide", "step"):
            if getattr(self, name) < 0 or (name != "step" and getattr(self, name) == 0):
                raise ValidationException(f"a window {name} must be positive")
        if self.kind == "CUMULATE" and (self.step <= 0 or self.size % self.step):
            raise ValidationException(
                f"a cumulative window's size ({self.size} ms) must be a whole multiple of its "
                f"step ({self.step} ms)"
            )

    @property
    def per_row(self) -> int:
        """The most windows one row can belong to."""
        if self.kind == "CUMULATE":
            return self.size // self.step
        return -(-self.size // self.slide)

    def first_end(self, ts: np.ndarray) -> np.ndarray:
        """The earliest end of a window that holds each row."""
        if self.kind == "CUMULATE":
            base = ts // self.size * self.size
            return base + ((ts - base) // self.step + 1) * self.step
        return ((ts - self.size) // self.slide + 1) * self.slide + self.size

    def last_end(self, ts: np.ndarray) -> np.ndarray:
        """The latest end of a window that holds each row: after it the row is not needed."""
        if self.kind == "CUMULATE":
            return ts // self.size * self.size + self.size
        return ts // self.slide * self.slide + self.size

    def windows_of(self, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row index, window start, window end) for every (row, window) pair."""
        rows = np.arange(len(ts), dtype=np.int64)
        parts = []
        for j in range(self.per_row):
            if self.kind == "CUMULATE":
                start = ts // self.size * self.size
                end = start + (j + 1) * self.step
            else:
                start = (ts // self.slide - j) * self.slide
                end = start + self.size
            keep = end > ts
            parts.append((rows[keep], start[keep], end[keep]))
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))  # type: ignore[return-value]

    @property
    def pane(self) -> int:
        """The width of the intervals (panes) whose rows all belong to the same windows.

        Every window start and end is a multiple of it, so a window holds a pane whole or not at
        all.
        """
        return self.step if self.kind == "CUMULATE" else math.gcd(self.size, self.slide)

    def pane_windows(
        self, ts: np.ndarray, after: int, until: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pane start, window start, window end) for every window ending in ``(after, until]``
        of every pane that holds a row of ``ts``.

        Joining rows to these on their pane assigns them to windows with the window bounds
        computed once per pane, not once per (row, window) pair.

        >>> panes, starts, ends = hop("2s", "10s").pane_windows(np.array([11_500]), 0, 15_000)
        >>> panes.tolist(), starts.tolist(), ends.tolist()
        ([10000, 10000], [4000, 2000], [14000, 12000])
        """
        if len(ts) == 0:
            return (np.zeros(0, np.int64),) * 3  # type: ignore[return-value]
        pane = self.pane
        low, high = int(ts.min()) // pane, int(ts.max()) // pane
        if high - low < len(ts):
            panes = np.arange(low, high + 1, dtype=np.int64) * pane
        else:  # sparse rows: only the panes that hold some
            panes = np.unique(ts - ts % pane)
        index, starts, ends = self.windows_of(panes)
        closing = (ends > after) & (ends <= until)
        return panes[index[closing]], starts[closing], ends[closing]

    def sql(self, relation: str, panes: str, columns: list[str]) -> str:
        """DuckDB SQL joining the rows of ``relation`` (with ``__ts``) to the windows of their
        pane in ``panes`` (``__pane``, ``window_start``, ``window_end``, ``window_time``)."""
        keep = ", ".join(f'{relation}."{c}"' for c in columns)
        pane = self.pane
        return (
            f"SELECT {keep}, window_start, window_end, window_time FROM {relation} "
            f"JOIN {panes} ON (__ts - ((__ts % {pane}) + {pane}) % {pane}) = __pane"
        )


@dataclass(frozen=True)
class SessionWindows:
    """A window per key that closes after ``gap`` ms without events of that key."""

    gap: int
    partition_by: tuple[str, ...] = ()
    kind: str = "SESSION"

    def __post_init__(self) -> None:
        if self.gap <= 0:
            raise ValidationException("a session gap must be positive")


@dataclass(frozen=True)
class SlidingWindows:
    """A window per row: the rows of its key within ``range`` ms before it (RANGE PRECEDING)."""

    range: int
    partition_by: tuple[str, ...] = ()
    kind: str = "SLIDING"

    def __post_init__(self) -> None:
        if self.range < 0:
            raise ValidationException("a sliding RANGE must not be negative")


@dataclass(frozen=True)
class RecordWindows:
    """No window: each record makes its own result as soon as it is read, in arrival order,
    as Kinesis SQL's per-record functions (``RANDOM_CUT_FOREST``) do; no record is late."""

    kind: str = "RECORD"


Windows = FixedWindows | SessionWindows | SlidingWindows | RecordWindows


def tumble(size: object) -> FixedWindows:
    """Tumbling windows of ``size`` (Flink ``TUMBLE``)."""
    length = parse_interval(size)
    return FixedWindows("TUMBLE", length, length)


def hop(slide: object, size: object) -> FixedWindows:
    """Hopping windows of ``size`` starting every ``slide`` (Flink ``HOP``: slide first)."""
    return FixedWindows("HOP", parse_interval(size), parse_interval(slide))


def cumulate(step: object, size: object) -> FixedWindows:
    """Windows growing by ``step`` from the start of each ``size`` period (Flink ``CUMULATE``)."""
    length = parse_interval(size)
    return FixedWindows("CUMULATE", length, length, parse_interval(step))


def session(gap: object, partition_by: str | list[str] | tuple[str, ...] = ()) -> SessionWindows:
    """Session windows per key of ``partition_by`` closed by ``gap`` (Flink ``SESSION``)."""
    keys = (partition_by,) if isinstance(partition_by, str) else tuple(partition_by)
    return SessionWindows(parse_interval(gap), keys)


def sliding(range_: object, partition_by: str | list[str] | tuple[str, ...] = ()) -> SlidingWindows:
    """A window per row over its key's rows ``range_`` before it (``RANGE ... PRECEDING``)."""
    keys = (partition_by,) if isinstance(partition_by, str) else tuple(partition_by)
    return SlidingWindows(parse_interval(range_), keys)
