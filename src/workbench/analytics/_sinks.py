"""Where a query's results (or late records) go: anything with ``write(table)``.

Sinks receive results after they are committed, so a restart never delivers a result that the
checkpoint does not hold. A crash between a delivery and the next commit can deliver that
generation's rows again to an outside sink (at-least-once there); the window columns in every
row let a reader drop the repeat. The query's own result log is exactly-once.

>>> import pyarrow as pa
>>> live = LiveTable()
>>> live.write(pa.table({"n": [1]})); live.write(pa.table({"n": [2]}))
>>> live.frame()["n"].to_list()
[1, 2]
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import orjson
import polars as pl
import pyarrow as pa


@runtime_checkable
class Sink(Protocol):
    """Takes committed rows."""

    def write(self, table: pa.Table) -> None: ...


class LiveTable:
    """Results kept in memory, readable as a polars frame at any moment (e.g. by a dashboard)."""

    def __init__(self, max_rows: int | None = None) -> None:
        self.max_rows = max_rows
        self.written = 0  # rows ever written: tells a reader whether anything changed
        self._tables: list[pa.Table] = []
        self._lock = threading.Lock()

    def write(self, table: pa.Table) -> None:
        with self._lock:
            self._tables.append(table)
            self.written += table.num_rows
            if self.max_rows is not None:
                whole = pa.concat_tables(self._tables, promote_options="permissive")
                self._tables = [whole.slice(max(0, whole.num_rows - self.max_rows))]

    def frame(self) -> pl.DataFrame:
        """The rows so far."""
        with self._lock:
            tables = list(self._tables)
        if not tables:
            return pl.DataFrame()
        return pl.from_arrow(pa.concat_tables(tables, promote_options="permissive"))

    def __len__(self) -> int:
        with self._lock:
            return sum(t.num_rows for t in self._tables)


class CallbackSink:
    """Calls ``function`` with each committed batch as a polars frame."""

    def __init__(self, function: Callable[[pl.DataFrame], Any]) -> None:
        self.function = function

    def write(self, table: pa.Table) -> None:
        self.function(pl.from_arrow(table))


def json_rows(table: pa.Table) -> list[bytes]:
    """Each row as a JSON object (timestamps as ISO-8601 text)."""
    return [orjson.dumps(row, default=str) for row in table.to_pylist()]


class StreamSink:
    """Puts each row as a JSON record into a data stream (``Stream.put_records``).

    ``partition_key`` is a column whose value keys the record, or None for the window start.
    """

    _MAX_PUT = 500  # PutRecords takes at most 500 records per call

    def __init__(self, stream: Any, partition_key: str | None = None) -> None:
        self.stream = stream
        self.partition_key = partition_key

    def write(self, table: pa.Table) -> None:
        column = self.partition_key or (
            "window_start" if "window_start" in table.column_names else None
        )
        keys = (
            [str(v) for v in table[column].to_pylist()]
            if column
            else [str(i) for i in range(table.num_rows)]
        )
        entries = [
            {"Data": data, "PartitionKey": key}
            for data, key in zip(json_rows(table), keys, strict=True)
        ]
        for start in range(0, len(entries), self._MAX_PUT):
            self.stream.put_records(entries[start : start + self._MAX_PUT])


class FirehoseSink:
    """Sends each row as a JSON line to a Firehose delivery stream (``put_record_batch``)."""

    _MAX_BATCH = 500  # PutRecordBatch takes at most 500 records per call

    def __init__(self, delivery_stream: Any) -> None:
        self.delivery_stream = delivery_stream

    def write(self, table: pa.Table) -> None:
        records = [{"Data": row + b"\n"} for row in json_rows(table)]
        for start in range(0, len(records), self._MAX_BATCH):
            self.delivery_stream.put_record_batch(records[start : start + self._MAX_BATCH])
