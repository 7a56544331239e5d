"""Reading one shard forward, call after call: what consumer applications and subscriptions share.

A reader holds a shard iterator and swaps it for a fresh one when it expires (300 s after issue on
the workbench clock), continuing just after the last record it handed out, so a long pause in a
notebook neither loses nor repeats records. Each call returns a :class:`Batch`, which can be seen
as Kinesis record dicts, an Arrow table or a polars frame whichever way it was read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from workbench.errors import ExpiredIteratorException

RECORD_COLUMNS = {
    "sequence_number": ("SequenceNumber", pa.string()),
    "partition_key": ("PartitionKey", pa.string()),
    "approximate_arrival_timestamp": ("ApproximateArrivalTimestamp", pa.timestamp("ms", "UTC")),
    "data": ("Data", pa.binary()),
}


class Batch:
    """The records one read of one shard returned, and where that read left the shard.

    ``records`` are Kinesis dicts (SequenceNumber, ApproximateArrivalTimestamp, Data,
    PartitionKey), ``table`` the same as an Arrow table, ``frame`` as a polars frame; the form the
    application reads in is kept as is and the others are made on first use. ``shard_end`` is True
    for the last batch of a closed shard; ``checkpoint()`` records that this batch is processed
    (at SHARD_END for the last one, which lets the shard's children be read).

    >>> from datetime import UTC, datetime
    >>> when = datetime(2026, 1, 1, tzinfo=UTC)
    >>> batch = Batch("shardId-000000000000", records=[
    ...     {"SequenceNumber": "7", "ApproximateArrivalTimestamp": when, "Data": b"{}",
    ...      "PartitionKey": "k"}])
    >>> batch.table.column_names
    ['sequence_number', 'partition_key', 'approximate_arrival_timestamp', 'data']
    >>> batch.frame.shape, batch.last_sequence_number
    ((1, 4), '7')
    """

    def __init__(
        self,
        shard_id: str,
        *,
        records: list[dict[str, Any]] | None = None,
        table: pa.Table | None = None,
        millis_behind_latest: int = 0,
        child_shards: list[dict[str, Any]] | None = None,
        shard_end: bool = False,
    ) -> None:
        self.shard_id = shard_id
        self._records = records
        self._table = table
        self.millis_behind_latest = millis_behind_latest
        self.child_shards = child_shards or []
        self.shard_end = shard_end
        self.checkpointer: Callable[[Batch], None] | None = None

    def __len__(self) -> int:
        return len(self._records) if self._records is not None else self._table.num_rows

    @property
    def records(self) -> list[dict[str, Any]]:
        """The records as Kinesis dicts."""
        if self._records is None:
            names = {column: key for column, (key, _) in RECORD_COLUMNS.items()}
            table = self._table.select(list(names))
            self._records = [
                {names[column]: value for column, value in row.items()} for row in table.to_pylist()
            ]
        return self._records

    @property
    def table(self) -> pa.Table:
        """The records as an Arrow table (sequence_number, partition_key, arrival time, data)."""
        if self._table is None:
            self._table = pa.table(
                {
                    column: pa.array([r[key] for r in self._records], type=kind)
                    for column, (key, kind) in RECORD_COLUMNS.items()
                }
            )
        return self._table

    @property
    def frame(self):
        """The records as a polars DataFrame (zero-copy from the Arrow table)."""
        import polars as pl

        return pl.from_arrow(self.table)

    def _edge(self, index: int) -> str | None:
        if not len(self):
            return None
        if self._records is not None:
            return self._records[index]["SequenceNumber"]
        return self._table.column("sequence_number")[index].as_py()

    @property
    def first_sequence_number(self) -> str | None:
        return self._edge(0)

    @property
    def last_sequence_number(self) -> str | None:
        return self._edge(-1)

    def checkpoint(self) -> None:
        """Record in the lease table that every record up to this batch's last is processed."""
        if self.checkpointer is None:
            raise ValueError("this batch was not handed out by a consumer application")
        self.checkpointer(self)

    def __repr__(self) -> str:
        end = ", shard_end" if self.shard_end else ""
        return (
            f"Batch({self.shard_id}, {len(self)} records, "
            f"millis_behind_latest={self.millis_behind_latest}{end})"
        )


class Backoff:
    """The wait after a read that found nothing: ``low`` seconds, doubling up to ``high``.

    It waits in real time, not on the workbench clock: records come from other threads and
    processes in real time, and a paused simulated clock must not freeze reading. Setting
    ``stop`` ends a wait at once.
    """

    def __init__(self, low: float, high: float, stop: threading.Event) -> None:
        self.low, self.high = low, max(high, low)
        self._stop = stop
        self._next = low

    def reset(self) -> None:
        self._next = self.low

    def wait(self) -> None:
        self._stop.wait(self._next)
        self._next = min(self._next * 2, self.high)


class ShardReader:
    """Reads one shard of a stream forward from a starting position."""

    def __init__(
        self,
        stream: Any,
        shard_id: str,
        iterator_type: str,
        *,
        sequence_number: str | None = None,
        timestamp: float | None = None,
        arrow: bool = False,
    ) -> None:
        self.stream = stream
        self.shard_id = shard_id
        self._start = (iterator_type, sequence_number, timestamp)
        self._arrow = arrow
        self._iterator: str | None = None
        self.last_sequence_number: str | None = None
        self.millis_behind_latest: int | None = None
        self.ended = False

    def _fresh_iterator(self) -> str:
        if self.last_sequence_number is not None:
            return self.stream.get_shard_iterator(
                self.shard_id,
                "AFTER_SEQUENCE_NUMBER",
                starting_sequence_number=self.last_sequence_number,
            )
        kind, sequence_number, timestamp = self._start
        return self.stream.get_shard_iterator(
            self.shard_id, kind, starting_sequence_number=sequence_number, timestamp=timestamp
        )

    def _get(self, limit: int | None) -> tuple[Any, str | None, int, list | None]:
        if self._arrow:
            got = self.stream.get_records_arrow(self._iterator, limit=limit)
            return got.table, got.next_shard_iterator, got.millis_behind_latest, got.child_shards
        got = self.stream.get_records(self._iterator, limit=limit)
        return (
            got["Records"],
            got.get("NextShardIterator"),
            got.get("MillisBehindLatest", 0),
            got.get("ChildShards"),
        )

    def prime(self) -> None:
        """Get the first shard iterator now (errors in the starting position show here)."""
        if self._iterator is None and not self.ended:
            self._iterator = self._fresh_iterator()

    def read(self, limit: int | None = 10000) -> Batch | None:
        """The next records, an empty batch marking the end of a closed shard, or None if none."""
        if self.ended:
            return None
        self.prime()
        try:
            found, self._iterator, behind, children = self._get(limit)
        except ExpiredIteratorException:
            self._iterator = self._fresh_iterator()
            found, self._iterator, behind, children = self._get(limit)
        self.millis_behind_latest = behind
        self.ended = self._iterator is None
        kind = {"table": found} if self._arrow else {"records": found}
        batch = Batch(
            self.shard_id,
            **kind,
            millis_behind_latest=behind,
            child_shards=children,
            shard_end=self.ended,
        )
        if len(batch):
            self.last_sequence_number = batch.last_sequence_number
        elif not self.ended:
            return None
        return batch
