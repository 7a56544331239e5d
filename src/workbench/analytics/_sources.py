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

import json
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from workbench.errors import ValidationException

# A source whose input has partitions (a stream's shards) lists a batch's runs of records per
# partition in this schema metadata key, as JSON [[partition, rows], ...]; the watermark is then
# the least of the partitions' watermarks. Metadata rather than a column: no cost per record.
PARTITIONS = b"workbench.partitions"


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
    """An in-memory input cut into batches: for tests, notebooks and replays.

    With ``ends=False`` it behaves as a live input that has gone quiet after its rows, so
    windows close only as the watermark moves (or the query's idle timeout passes).
    """

    def __init__(self, data: object, batch_size: int = 10_000, *, ends: bool = True) -> None:
        if batch_size <= 0:
            raise ValidationException(f"batch_size must be positive, got {batch_size}")
        self.table = as_arrow(data)
        self.batch_size = batch_size
        self.ends = ends
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
        return self.ends and self._offset >= self.table.num_rows

    def __repr__(self) -> str:
        return f"ArraySource({self._offset}/{self.table.num_rows} rows read)"


class StreamSource:
    """A data stream read shard by shard with ``get_records_arrow``; position = per-shard
    sequence numbers.

    The position is the query's own (committed with its state), not a consumer application's
    lease checkpoint, so state and position move together. A child shard is read once its
    parents are read to their end, so records of one partition key stay in order across a
    reshard. Batches say which runs of records came from which shard: the query keeps a
    watermark per shard and follows the least of them, as Flink does per partition.
    """

    def __init__(self, stream: Any, initial_position: str = "TRIM_HORIZON") -> None:
        if initial_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValidationException(
                f"initial_position {initial_position!r}: use TRIM_HORIZON or LATEST"
            )
        self.stream = stream
        self.initial_position = initial_position
        self._after: dict[str, str] = {}
        self._finished: set[str] = set()
        self._iterators: dict[str, str] = {}
        self._shards: list[dict] = []
        self.millis_behind_latest = 0

    def _refresh(self) -> None:
        self._shards = self.stream.list_shards()

    def _ready(self) -> list[str]:
        known = {s["ShardId"] for s in self._shards}
        ready = []
        for shard in self._shards:
            parents = [shard.get("ParentShardId"), shard.get("AdjacentParentShardId")]
            waiting = [p for p in parents if p and p in known and p not in self._finished]
            if shard["ShardId"] not in self._finished and not waiting:
                ready.append(shard["ShardId"])
        return ready

    def _iterator(self, shard: str) -> str:
        if shard not in self._iterators:
            if shard in self._after:
                self._iterators[shard] = self.stream.get_shard_iterator(
                    shard, "AFTER_SEQUENCE_NUMBER", starting_sequence_number=self._after[shard]
                )
            else:
                self._iterators[shard] = self.stream.get_shard_iterator(
                    shard, self.initial_position
                )
        return self._iterators[shard]

    def read(self, limit: int) -> pa.Table | None:
        from workbench.errors import ExpiredIteratorException

        if not self._shards:
            self._refresh()
        tables, runs, behind = [], [], 0
        ready = self._ready()
        # Small turns per shard keep shards near each other in event time: the watermark is
        # taken over records in the order read.
        share = max(1, limit // max(1, len(ready)))
        for shard in ready:
            try:
                got = self.stream.get_records_arrow(self._iterator(shard), limit=share)
            except ExpiredIteratorException:
                self._iterators.pop(shard)
                got = self.stream.get_records_arrow(self._iterator(shard), limit=share)
            behind = max(behind, got.millis_behind_latest)
            if got.table.num_rows:
                tables.append(got.table)
                runs.append([shard, got.table.num_rows])
                self._after[shard] = got.table["sequence_number"][-1].as_py()
            if got.next_shard_iterator is None:
                self._finished.add(shard)
                self._iterators.pop(shard, None)
                self._refresh()
            else:
                self._iterators[shard] = got.next_shard_iterator
        self.millis_behind_latest = behind
        if not tables:
            self._refresh()
            return None
        return pa.concat_tables(tables).replace_schema_metadata({PARTITIONS: json.dumps(runs)})

    @property
    def finished_partitions(self) -> set[str]:
        """Shards read to their end (closed by a reshard): they no longer hold the watermark."""
        return self._finished

    def position(self) -> dict[str, Any]:
        return {"after": dict(self._after), "finished": sorted(self._finished)}

    def seek(self, position: Any) -> None:
        position = position or {}
        self._after = dict(position.get("after", {}))
        self._finished = set(position.get("finished", []))
        self._iterators = {}

    @property
    def exhausted(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"StreamSource({self.stream.name!r}, {len(self._after)} shards read)"
