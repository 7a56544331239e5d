"""The two kinds of delivery stream source: DirectPut's journal and a Kinesis data stream."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from workbench.firehose._journal import Journal
from workbench.streams import LeaseLost

DIRECT_SHARD = "DirectPut"
_SEQ = pa.decimal256(76, 0)  # sequence numbers have up to 56 digits: compared as numbers


class DirectPutSource:
    """Records put with PutRecord / PutRecordBatch, read back from their durable journal."""

    arn = None

    def __init__(self, folder: Path) -> None:
        self.journal = Journal(folder)

    def poll(self, positions: dict[str, str | None], limit: int) -> list[tuple[str, pa.Table]]:
        after = positions.get(DIRECT_SHARD)
        rows = self.journal.read(0 if after is None else int(after) + 1, limit)
        if not rows:
            return []
        ordinals, arrivals, data = zip(*rows, strict=True)
        table = pa.table(
            {
                "seq": pa.array([str(o) for o in ordinals], pa.string()),
                "arrival": pa.array(arrivals, pa.int64()),
                "data": pa.array(data, pa.binary()),
            }
        )
        return [(DIRECT_SHARD, table)]

    def millis_behind(self) -> int:
        return 0

    def release(self, shard: str, delivered_through: str, everything_read: bool) -> None:
        self.journal.release(int(delivered_through) + 1)

    def rewind(self) -> None:
        """Nothing to do: every poll reads from the position it is given."""

    def close(self) -> None:
        """Nothing to let go: the journal holds no resources between calls."""


class StreamSource:
    """A data stream read by a consumer application of its own (``firehose-<name>``), which
    hands out shards parents first and keeps checkpoints in its lease table.

    The delivery journal's watermark is the truth about what is delivered; the application's
    checkpoint follows it (a batch is checkpointed once every record in it is in the lake), so
    after a crash the application may hand out records again that are already delivered: they
    are skipped here by sequence number.
    """

    def __init__(self, open_application: Callable[[], Any], arn: str) -> None:
        self._open_application = open_application
        self.application = open_application()
        self.arn = arn
        self._held: dict[str, deque[Any]] = {}
        self._behind: dict[str, int] = {}

    def poll(self, positions: dict[str, str | None], limit: int) -> list[tuple[str, pa.Table]]:
        out: list[tuple[str, pa.Table]] = []
        fresh = 0
        # until_caught_up trusts MillisBehindLatest, which is 0 when the clock stands at the
        # next record's arrival: go round again until a round reads nothing at all.
        while fresh < limit:
            read = 0
            for batch in self.application.batches(
                max_records=limit - fresh, until_caught_up=True, checkpoint=False
            ):
                read += len(batch)
                table = self._take(batch, positions)
                if table is not None:
                    out.append((batch.shard_id, table))
                    fresh += table.num_rows
            if read == 0:
                break
        # One table per shard: conversion runs faster on fewer, larger batches.
        shards: dict[str, list[pa.Table]] = {}
        for shard, table in out:
            shards.setdefault(shard, []).append(table)
        return [(shard, pa.concat_tables(tables)) for shard, tables in shards.items()]

    def _take(self, batch: Any, positions: dict[str, str | None]) -> pa.Table | None:
        shard = batch.shard_id
        self._held.setdefault(shard, deque()).append(batch)
        self._behind[shard] = int(batch.millis_behind_latest or 0)
        if not len(batch):
            return None
        table = batch.table
        after = positions.get(shard)
        if after is not None:
            seqs = pc.cast(table.column("sequence_number"), _SEQ)
            if pc.max(seqs).as_py() <= int(after):
                return None
            table = table.filter(pc.greater(seqs, pa.scalar(int(after), _SEQ)))
        arrival = table.column("approximate_arrival_timestamp").cast(pa.timestamp("ms", "UTC"))
        positions[shard] = table.column("sequence_number")[-1].as_py()
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

    def release(self, shard: str, delivered_through: str, everything_read: bool) -> None:
        """Checkpoint the last batch whose records are all delivered (SHARD_END included)."""
        held = self._held.get(shard)
        last = None
        while held and (
            (len(held[0]) and int(held[0].last_sequence_number) <= int(delivered_through))
            or (not len(held[0]) and everything_read)
        ):
            last = held.popleft()
        if last is not None:
            with contextlib.suppress(LeaseLost):
                last.checkpoint()

    def rewind(self) -> None:
        """Read again from the application's checkpoint (after a failed step)."""
        self.application.close()
        self._held.clear()
        self.application = self._open_application()

    def close(self) -> None:
        self.application.close()
