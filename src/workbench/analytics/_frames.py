"""The Python front end: aggregates as polars expressions over the same engine as the SQL.

>>> import polars as pl, pyarrow as pa
>>> from workbench.analytics._windows import tumble
>>> rows = pa.table({"k": ["a", "a"], "x": [1, 2], "window_start": [0, 0], "window_end": [5, 5]})
>>> FrameAggregate(tumble("5ms"), ["k"], [pl.col("x").sum()], "ts")(rows).to_pylist()
[{'window_start': 0, 'window_end': 5, 'k': 'a', 'x': 3}]
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pyarrow as pa

from workbench.analytics._windows import SlidingWindows, Windows
from workbench.errors import ValidationException

WINDOW_KEYS = ["window_start", "window_end"]


class FrameAggregate:
    """Groups the rows of closing windows by window and ``group_by``, then applies ``aggs``.

    Sliding windows aggregate per row with polars ``rolling`` over ``[ts - range, ts]``.
    """

    def __init__(
        self,
        windows: Windows,
        group_by: Sequence[str],
        aggs: Sequence[pl.Expr],
        event_time: str,
    ) -> None:
        if not aggs:
            raise ValidationException(
                "give at least one aggregate, e.g. pl.len() or pl.col(x).sum()"
            )
        for expr in aggs:
            if not isinstance(expr, pl.Expr):
                raise ValidationException(f"aggregates are polars expressions, got {expr!r}")
        self.windows = windows
        self.group_by = list(group_by)
        self.aggs = list(aggs)
        self.event_time = event_time

    def __call__(self, rows: pa.Table) -> pa.Table:
        frame = pl.from_arrow(rows)
        assert isinstance(frame, pl.DataFrame)
        if isinstance(self.windows, SlidingWindows):
            keys = self.group_by
            out = (
                frame.sort([*keys, self.event_time])
                .rolling(
                    index_column=self.event_time,
                    period=f"{self.windows.range}ms",
                    closed="both",
                    group_by=keys or None,
                )
                .agg(self.aggs)
            )
            return out.to_arrow()
        keys = [*WINDOW_KEYS, *self.group_by]
        return frame.group_by(keys).agg(self.aggs).sort(keys).to_arrow()

    def __repr__(self) -> str:
        aggs = ", ".join(str(a) for a in self.aggs)
        return f"group_by={self.group_by} aggs=[{aggs}]"
