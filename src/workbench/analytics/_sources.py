"""Where a query's records come from: anything that yields Arrow batches and a position.

A source is a small protocol, so the engine runs the same over an in-memory frame (tests,
notebooks), a data stream, or another query's output. ``position()`` is what a checkpoint
stores; ``seek(position)`` resumes there after a restart.

>>> import pyarrow as pa
>>> source = ArraySource(pa.table({"x": [1, 2, 3]}), batch_size=2)
>>> source.read(10).num_rows, source.position(), source.read(10).num_rows, source.exhausted
(2, 2, 1, True)
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from workbench.errors import ValidationException


@runtime_checkable
class Source(Protocol):
    """Yields Arrow batches; says where it is so a checkpoint can resume from there."""

    def read(self, limit: int) -> pa.Table | None:
        """The next records (at most ``limit``), or None when none are available now."""

    def position(self) -> Any:
        """A JSON-able position just after the last record read."""

    def seek(self, position: Any) -> None:
        """Continue after ``position`` (from :meth:`position`)."""

    @property
    def exhausted(self) -> bool:
        """True when the input has ended for good (a finite source read to its end)."""


def as_arrow(data: object) -> pa.Table:
    """An Arrow table from a polars or pandas frame, an Arrow table or a list of dicts."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "to_arrow"):  # polars
        return data.to_arrow()
    if hasattr(data, "to_records") and hasattr(data, "columns"):  # pandas
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, list):
        return pa.Table.from_pylist(data)
    raise ValidationException(
        f"cannot read records from {type(data).__name__}: give a polars, pandas or Arrow table "
        "or a list of dicts"
    )


class ArraySource:
    """A finite in-memory input cut into batches: for tests, notebooks and replays."""

    def __init__(self, data: object, batch_size: int = 10_000) -> None:
        if batch_size <= 0:
            raise ValidationException(f"batch_size must be positive, got {batch_size}")
        self.table = as_arrow(data)
        self.batch_size = batch_size
        self._offset = 0

    def read(self, limit: int) -> pa.Table | None:
        if self._offset >= self.table.num_rows:
            return None
        count = min(limit, self.batch_size, self.table.num_rows - self._offset)
        batch = self.table.slice(self._offset, count)
        self._offset += count
        return batch

    def position(self) -> int:
        return self._offset

    def seek(self, position: Any) -> None:
        self._offset = int(position or 0)

    @property
    def exhausted(self) -> bool:
        return self._offset >= self.table.num_rows

    def __repr__(self) -> str:
        return f"ArraySource({self._offset}/{self.table.num_rows} rows read)"
