"""The two kinds of delivery stream source: DirectPut's journal and a Kinesis data stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from workbench.errors import ExpiredIteratorException
from workbench.firehose._journal import Journal

DIRECT_SHARD = "DirectPut"
_EMPTY = pa.table(
    {"seq": pa.array([], pa.string()), "arrival": pa.array([], pa.int64()),
     "data": pa.array([], pa.binary())}
)  # fmt: skip


class DirectPutSource:
    """Records put with PutRecord / PutRecordBatch, read back from their durable journal."""

    arn = None

    def __init__(self, folder: Path) -> None:
        self.journal = Journal(folder)

    def shard_ids(self) -> list[str]:
        return [DIRECT_SHARD]

    def read(self, shard: str, after: str | None, limit: int) -> pa.Table:
        start = 0 if after is None else int(after) + 1
        rows = self.journal.read(start, limit)
        if not rows:
            return _EMPTY
        ordinals, arrivals, data = zip(*rows, strict=True)
        return pa.table(
            {
                "seq": pa.array([str(o) for o in ordinals], pa.string()),
                "arrival": pa.array(arrivals, pa.int64()),
                "data": pa.array(data, pa.binary()),
            }
        )

    def release(self, shard: str, delivered_through: str) -> None:
        self.journal.release(int(delivered_through) + 1)


class KinesisSource:
    """A data stream read shard by shard, parents before children, from TRIM_HORIZON or from
    the delivery stream's own checkpoint (the watermark of its delivery journal)."""

    def __init__(self, stream: Any, arn: str) -> None:
        self.stream = stream
        self.arn = arn
        self._iterators: dict[str, tuple[str | None, str | None]] = {}
        self._finished: set[str] = set()
        self._behind: dict[str, int] = {}

    def shard_ids(self) -> list[str]:
        shards = self.stream.list_shards()
        known = {s["ShardId"] for s in shards}
        ready = []
        for shard in shards:
            parents = [shard.get("ParentShardId"), shard.get("AdjacentParentShardId")]
            parents_done = all(p is None or p not in known or p in self._finished for p in parents)
            if parents_done and shard["ShardId"] not in self._finished:
                ready.append(shard["ShardId"])
        return ready

    def _iterator(self, shard: str, after: str | None) -> str:
        cached = self._iterators.get(shard)
        if cached is not None and cached[0] == after and cached[1] is not None:
            return cached[1]
        if after is None:
            return self.stream.get_shard_iterator(shard, "TRIM_HORIZON")
        return self.stream.get_shard_iterator(
            shard, "AFTER_SEQUENCE_NUMBER", starting_sequence_number=after
        )

    def read(self, shard: str, after: str | None, limit: int) -> pa.Table:
        try:
            result = self.stream.get_records_arrow(self._iterator(shard, after), limit=limit)
        except ExpiredIteratorException:
            self._iterators.pop(shard, None)
            result = self.stream.get_records_arrow(self._iterator(shard, after), limit=limit)
        table = result.table
        self._behind[shard] = int(result.millis_behind_latest or 0)
        last = table.column("sequence_number")[-1].as_py() if table.num_rows else after
        self._iterators[shard] = (last, result.next_shard_iterator)
        if result.next_shard_iterator is None:
            self._finished.add(shard)
        if table.num_rows == 0:
            return _EMPTY
        arrival = table.column("approximate_arrival_timestamp").cast(pa.timestamp("ms", "UTC"))
        return pa.table(
            {
                "seq": table.column("sequence_number").cast(pa.string()),
                "arrival": arrival.cast(pa.int64()),
                "data": table.column("data").cast(pa.binary()),
                "partition_key": table.column("partition_key").cast(pa.string()),
            }
        )

    def millis_behind(self) -> int:
        return max(self._behind.values(), default=0)

    def release(self, shard: str, delivered_through: str) -> None:
        """Data streams keep records for their retention period; nothing to free here."""
