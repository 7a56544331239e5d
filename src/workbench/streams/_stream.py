"""One data stream: puts, shard iterators, reads, retention and resharding.

>>> import tempfile
>>> from workbench import SimulatedClock, Workbench
>>> wb = Workbench(home=tempfile.mkdtemp(), clock=SimulatedClock(start="2026-01-01"))
>>> stream = wb.streams.create_stream("retail-trans", 2)
>>> stream.put_record(b'{"Invoice": "536365"}', "17850")["ShardId"]
'shardId-000000000001'
>>> it = stream.get_shard_iterator("shardId-000000000001", "TRIM_HORIZON")
>>> [r["Data"] for r in stream.get_records(it)["Records"]]
[b'{"Invoice": "536365"}']
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from workbench._files import locked
from workbench.errors import (
    InvalidArgumentException,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)
from workbench.streams import _resharding as resharding
from workbench.streams._frames import (
    PartitionKey,
    frame_rows,
    gather,
    json_chunks,
    side_by_side,
)
from workbench.streams._iterators import ITERATOR_TYPES, Position
from workbench.streams._log import Batch, ShardLog
from workbench.streams._metadata import MetaFile, ShardInfo, Snapshot, StreamMeta
from workbench.streams._records import (
    ArrowRecords,
    PutEntries,
    PutRecordsAnswer,
    ShardRun,
    arrow_batch,
    empty_table,
    json_columns,
    plain_records,
)
from workbench.streams._routing import (
    hash_key_of,
    md5_hash_keys,
    split_hash_keys,
)
from workbench.streams._sequence import (
    parse_sequence_number,
    sequence_number,
)
from workbench.streams._validation import (
    ACCOUNT,
    as_bytes,
    check_hash_key,
    check_int,
    check_length,
    check_partition_key,
    invalid,
    shard_index,
    shard_name,
    stream_arn,
)

if TYPE_CHECKING:
    from workbench.streams._streams import Streams

PUT_RECORDS_MAX = 500
PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024
GET_RECORDS_MAX = 10_000
GET_RECORDS_MAX_BYTES = 10 * 1024 * 1024
MIN_RETENTION_HOURS = 24
MAX_RETENTION_HOURS = 8760
SCALINGS_PER_DAY = 10
_FRAME_CHUNK_ROWS = 262_144
_TRIM_EVERY_MS = 60_000
_DAY_MS = 86_400_000


class Stream:
    """A Kinesis data stream in the home; every process that opens it sees the same records."""

    def __init__(self, streams: Streams, name: str, folder: Path) -> None:
        self._streams = streams
        self._clock = streams.clock
        self.name = name
        self.folder = folder
        self._meta_file = MetaFile(folder / "stream.json")
        self._logs: dict[int, ShardLog] = {}
        self._last_trim_ms = -(1 << 62)
        self._created_ms: int | None = None

    def __repr__(self) -> str:
        return f"Stream({self.name!r})"

    @property
    def arn(self) -> str:
        return stream_arn(self.name)

    def close(self) -> None:
        """Release the files this process holds open for the stream."""
        for log in self._logs.values():
            log.close()
        self._logs.clear()

    # -- metadata ------------------------------------------------------------------------------

    def _meta(self) -> StreamMeta:
        return self._snapshot().meta

    def _snapshot(self) -> Snapshot:
        snapshot = self._meta_file.load()
        if snapshot is None:
            raise ResourceNotFoundException(
                f"Stream {self.name} under account {ACCOUNT} not found."
            )
        if snapshot.meta.created_ms != self._created_ms:
            # Deleted and created again (maybe by another process): the open files are stale.
            self.close()
            self._created_ms = snapshot.meta.created_ms
        return snapshot

    def _not_found_shard(self, shard: str) -> ResourceNotFoundException:
        return ResourceNotFoundException(
            f"Shard {shard} in stream {self.name} under account {ACCOUNT} does not exist"
        )

    def _shard(self, shard: str, field: str = "shardId") -> ShardInfo:
        info = self._meta().shard(shard_index(shard, self.name, field))
        if info is None:
            raise self._not_found_shard(shard)
        return info

    def _log(self, index: int) -> ShardLog:
        log = self._logs.get(index)
        if log is None:
            meta = self._meta()
            log = ShardLog(self.folder / "shards" / shard_name(index), fsync=meta.fsync)
            log = self._logs.setdefault(index, log)
        return log

    @contextlib.contextmanager
    def _changing(self) -> Iterator[StreamMeta]:
        """The metadata, locked against other changers, saved when the block succeeds."""
        with locked(self.folder / "lock"):
            meta = self._meta()
            yield meta
            self._meta_file.save(meta)

    def _shard_dict(self, meta: StreamMeta, info: ShardInfo) -> dict:
        shard: dict = {"ShardId": info.id}
        if info.parent is not None:
            shard["ParentShardId"] = shard_name(info.parent)
        if info.adjacent_parent is not None:
            shard["AdjacentParentShardId"] = shard_name(info.adjacent_parent)
        shard["HashKeyRange"] = {
            "StartingHashKey": str(info.start),
            "EndingHashKey": str(info.end),
        }
        prefix = meta.prefix(info.index)
        seq_range = {"StartingSequenceNumber": sequence_number(prefix, 0)}
        if info.end_position is not None:
            seq_range["EndingSequenceNumber"] = sequence_number(
                prefix, max(info.end_position - 1, 0)
            )
        shard["SequenceNumberRange"] = seq_range
        return shard

    def list_shards(self) -> list[dict]:
        """Every shard not yet expired, open and closed, as AWS Shard dicts."""
        self.trim()
        meta = self._meta()
        return [self._shard_dict(meta, s) for s in sorted(meta.shards, key=lambda s: s.index)]

    def describe(self) -> dict:
        """DescribeStream's answer."""
        shards = self.list_shards()
        meta = self._meta()
        return {
            "StreamDescription": {
                "StreamName": self.name,
                "StreamARN": self.arn,
                "StreamStatus": meta.status,
                "StreamModeDetails": {"StreamMode": meta.mode},
                "Shards": shards,
                "HasMoreShards": False,
                "RetentionPeriodHours": meta.retention_hours,
                "StreamCreationTimestamp": datetime.fromtimestamp(meta.created_ms / 1000, UTC),
                "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
                "EncryptionType": "NONE",
            }
        }

    def describe_summary(self) -> dict:
        """DescribeStreamSummary's answer."""
        meta = self._meta()
        return {
            "StreamDescriptionSummary": {
                "StreamName": self.name,
                "StreamARN": self.arn,
                "StreamStatus": meta.status,
                "StreamModeDetails": {"StreamMode": meta.mode},
                "RetentionPeriodHours": meta.retention_hours,
                "StreamCreationTimestamp": datetime.fromtimestamp(meta.created_ms / 1000, UTC),
                "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
                "EncryptionType": "NONE",
                "OpenShardCount": len(meta.open_shards()),
                "ConsumerCount": self._streams.consumer_count(self.name),
                "MaxRecordSizeInKiB": meta.max_record_size_kib,
            }
        }

    # -- tags ----------------------------------------------------------------------------------

    def add_tags(self, tags: dict[str, str]) -> None:
        """AddTagsToStream: up to 50 tags per stream."""
        if not isinstance(tags, dict) or not 1 <= len(tags) <= 10:
            raise invalid(tags, "tags", "have length between 1 and 10")
        for key, value in tags.items():
            check_tag(key, value)
        with self._changing() as meta:
            merged = {**meta.tags, **tags}
            if len(merged) > 50:
                raise InvalidArgumentException(
                    f"Failed to add tags to stream {self.name} under account {ACCOUNT} because "
                    f"a given stream cannot have more than 50 tags."
                )
            meta.tags = merged

    def remove_tags(self, keys: Sequence[str]) -> None:
        """RemoveTagsFromStream."""
        with self._changing() as meta:
            meta.tags = {k: v for k, v in meta.tags.items() if k not in set(keys)}

    def list_tags(self) -> dict:
        """ListTagsForStream's answer."""
        tags = self._meta().tags
        return {
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
            "HasMoreTags": False,
        }

    # -- putting -------------------------------------------------------------------------------

    def _check_record(self, data: bytes, key: str, max_bytes: int, where: str) -> None:
        if len(data) > max_bytes:
            raise invalid(
                f"java.nio.HeapByteBuffer[pos=0 lim={len(data)} cap={len(data)}]",
                f"{where}data",
                f"have length less than or equal to {max_bytes}",
            )
        if len(data) + len(key.encode()) > max_bytes:
            raise InvalidArgumentException(
                f"Record size {len(data) + len(key.encode())} bytes (data plus partition key) "
                f"exceeds the maximum record size of {max_bytes} bytes for stream {self.name}."
            )

    def _append(self, info: ShardInfo, prefix: str, batch: Batch, now_ms: int) -> tuple | None:
        def still_open() -> bool:
            return info.index in self._snapshot().open_indices

        return self._log(info.index).append(batch, now_ms, prefix, still_open)

    def _now_ms(self) -> int:
        """The clock's time, trimming expired data first when it was not done for a while."""
        now_ms = self._clock.now_ms()
        if now_ms - self._last_trim_ms > _TRIM_EVERY_MS:
            self.trim()
        return now_ms

    def put_record(
        self,
        data: bytes | str,
        partition_key: str,
        *,
        explicit_hash_key: str | None = None,
        sequence_number_for_ordering: str | None = None,
    ) -> dict:
        """PutRecord: one record; returns its ShardId and SequenceNumber.

        ``sequence_number_for_ordering`` is accepted for AWS compatibility; records of one key
        are in order anyway, as every put appends under the shard's lock.
        """
        data = as_bytes(data)
        key = check_partition_key(partition_key)
        if sequence_number_for_ordering is not None:
            parse_sequence_number(sequence_number_for_ordering, "sequenceNumberForOrdering")
        # The cached metadata is enough to route: the shard's lock-held check refreshes it.
        snapshot = self._meta_file.snapshot or self._snapshot()
        meta = snapshot.meta
        self._check_record(data, key, meta.max_record_size_kib * 1024, "")
        encoded = key.encode()
        hash_key = (
            hash_key_of(key) if explicit_hash_key is None else check_hash_key(explicit_hash_key)
        )
        now_ms = self._now_ms()
        batch = Batch(data, [0, len(data)], encoded, [0, len(encoded)])
        while True:
            info = snapshot.open_shards[snapshot.router.shard_of(hash_key)]
            prefix = meta.prefix(info.index)
            done = self._append(info, prefix, batch, now_ms)
            if done is not None:
                return {
                    "ShardId": info.id,
                    "SequenceNumber": done[2][0],
                    "EncryptionType": "NONE",
                }
            snapshot = self._snapshot()
            meta = snapshot.meta

    def put_records(self, records: Sequence[dict]) -> dict:
        """PutRecords: up to 500 records and 5 MiB in one call; per-record results in order."""
        return self._put_records(records).as_dict()

    def put_records_answer(self, records: Sequence[dict]) -> PutRecordsAnswer:
        """PutRecords answering column-wise (shard and sequence number of each record as
        arrays), for a server that writes the answer out without a dict per record."""
        return self._put_records(records)

    def _put_records(self, records: Sequence[dict]) -> PutRecordsAnswer:
        if not isinstance(records, Sequence) or isinstance(records, str | bytes):
            raise invalid(type(records).__name__, "records", "be a list of records")
        if not 1 <= len(records) <= PUT_RECORDS_MAX:
            bound = "greater than or equal to 1" if not records else "less than or equal to 500"
            raise invalid(f"[{len(records)} records]", "records", f"have length {bound}")
        meta = self._meta()
        max_bytes = meta.max_record_size_kib * 1024
        entries = plain_records(records, max_bytes) or self._checked_records(records, max_bytes)
        total = entries.total
        if total > PUT_RECORDS_MAX_BYTES:
            raise InvalidArgumentException(
                f"Records size exceeds 5 MB limit: the request holds {total} bytes of data and "
                f"partition keys, at most {PUT_RECORDS_MAX_BYTES} are allowed."
            )
        now_ms = self._now_ms()
        runs: list[ShardRun] = []
        pending = np.arange(len(records))
        while len(pending):
            snapshot = self._snapshot()
            meta, shards = snapshot.meta, snapshot.open_shards
            ranks, counts = snapshot.router.shard_order(entries.hi[pending], entries.lo[pending])
            order = pending[ranks]
            refused = []
            start = 0
            for position, batch in enumerate(entries.shard_batches(order, counts)):
                count = counts[position]
                if not count:
                    continue
                members = order[start : start + count]
                start += count
                info = shards[position]
                prefix = meta.prefix(info.index)
                done = self._append(info, prefix, batch, now_ms)
                if done is None:
                    refused.append(members)
                else:
                    runs.append(ShardRun(info.id, members, done[2]))
            pending = np.concatenate(refused) if refused else order[:0]
        return PutRecordsAnswer(len(records), runs)

    def _checked_records(self, records: Sequence, max_bytes: int) -> PutEntries:
        """Each record checked on its own, so the error names the first bad one."""
        datas: list[bytes] = []
        keys: list[str] = []
        hash_keys: list[int] = []
        for i, entry in enumerate(records, start=1):
            if not isinstance(entry, dict):
                raise invalid(entry, f"records.{i}.member", "be a record dict")
            data = as_bytes(entry.get("Data"), f"records.{i}.member.data")
            key = check_partition_key(entry.get("PartitionKey"), f"records.{i}.member.partitionKey")
            self._check_record(data, key, max_bytes, f"records.{i}.member.")
            explicit = entry.get("ExplicitHashKey")
            hash_keys.append(
                hash_key_of(key)
                if explicit is None
                else check_hash_key(explicit, f"records.{i}.member.explicitHashKey")
            )
            datas.append(data)
            keys.append(key)
        return PutEntries(
            datas,
            keys,
            np.array([len(d) for d in datas], dtype=np.int64),
            np.array([len(k.encode()) for k in keys], dtype=np.int64),
            *split_hash_keys(hash_keys),
        )

    def put_frame(self, frame: object, partition_key: PartitionKey = None) -> dict:
        """Put every row of a polars/pandas frame, Arrow table or iterable of dicts as one JSON
        record; ``partition_key`` names a column, is a function of the row, or None (rows
        keyed by their number). Returns how many records went to which shard.

        All rows are checked before any is written, so a bad row loses nothing and adds
        nothing. Rows are written in batches per shard, in frame order within each shard.
        A frame's rows are sorted by shard before they become JSON: moving the typed columns
        costs less than moving the documents, and the shards' chunks encode side by side.
        """
        rows, keys = frame_rows(frame, partition_key)
        total = len(keys)
        key_chars = pc.utf8_length(keys).to_numpy(zero_copy_only=False)
        for row in np.flatnonzero((key_chars < 1) | (key_chars > 256))[:1]:
            check_partition_key(keys[int(row)].as_py(), f"rows.{int(row)}.partitionKey")
        max_bytes = self._meta().max_record_size_kib * 1024
        hi, lo = md5_hash_keys(keys)
        summary: dict[str, dict] = {}
        checked = False
        while len(keys):  # again for the rows of shards that closed meanwhile (resharding)
            snapshot = self._snapshot()
            shards = snapshot.open_shards
            order, counts = snapshot.router.shard_order(hi, lo)
            if len(shards) > 1:
                rows, keys = gather(rows, order), keys.take(pa.array(order))
                hi, lo = hi[order], lo[order]
            chunks = _chunks(counts)
            documents = json_chunks(rows, [(start, count) for _, start, count in chunks])
            if not checked:
                for (_, start, count), data in zip(chunks, documents, strict=True):
                    self._check_sizes(data, keys.slice(start, count), max_bytes, order[start:])
                self._now_ms()
                checked = True
            refused = self._append_chunks(snapshot, keys, chunks, documents, summary)
            if not refused:
                break
            again = np.concatenate([members for _, members in refused])
            rows = pa.concat_arrays([data for data, _ in refused])
            keys, hi, lo = keys.take(pa.array(again)), hi[again], lo[again]
        return {"Records": total, "Shards": summary}

    def _check_sizes(
        self, data: pa.Array, keys: pa.Array, max_bytes: int, rows: np.ndarray
    ) -> None:
        """Each record within the size limit; ``rows`` numbers them in the frame."""
        sizes = pc.add(pc.binary_length(data), pc.binary_length(keys)).to_numpy(
            zero_copy_only=False
        )
        for at in np.flatnonzero(sizes > max_bytes)[:1]:
            self._check_record(
                data[int(at)].as_py().encode(),
                keys[int(at)].as_py(),
                max_bytes,
                f"rows.{int(rows[at])}.",
            )

    def _append_chunks(
        self,
        snapshot: Snapshot,
        keys: pa.Array,
        chunks: list[tuple[int, int, int]],
        documents: list[pa.Array],
        summary: dict[str, dict],
    ) -> list[tuple[pa.Array, np.ndarray]]:
        """Append each shard's chunks in order, the shards side by side (each has its own files
        and lock), and count them in ``summary``; returns the chunks a shard refused because
        it closed meanwhile, with their row numbers."""
        by_shard: dict[int, list[tuple[int, int, pa.Array]]] = {}
        for (position, start, count), data in zip(chunks, documents, strict=True):
            by_shard.setdefault(position, []).append((start, count, data))

        targets = {}
        for position in by_shard:
            info = snapshot.open_shards[position]
            self._log(info.index)  # opened here, not by the threads racing to open it
            targets[position] = info, snapshot.meta.prefix(info.index)

        def append(position: int) -> list[tuple | None]:
            info, prefix = targets[position]
            return [
                self._append(info, prefix, arrow_batch(data, keys.slice(start, count)), now_ms)
                for start, count, data in by_shard[position]
            ]

        now_ms = self._clock.now_ms()
        refused = []
        for position, appended in zip(
            by_shard, side_by_side(append, list(by_shard), len(keys)), strict=True
        ):
            info, prefix = targets[position]
            for (start, count, data), done in zip(by_shard[position], appended, strict=True):
                if done is None:
                    refused.append((data, np.arange(start, start + count)))
                    continue
                entry = summary.setdefault(info.id, {"Records": 0, "FirstSequenceNumber": None})
                entry["Records"] += count
                entry["FirstSequenceNumber"] = entry["FirstSequenceNumber"] or (
                    sequence_number(prefix, done[0])
                )
                entry["LastSequenceNumber"] = sequence_number(prefix, done[0] + count - 1)
        return refused

    # -- iterators and reads -------------------------------------------------------------------

    def get_shard_iterator(
        self,
        shard_id: str,
        iterator_type: str,
        *,
        starting_sequence_number: str | None = None,
        timestamp: float | datetime | str | None = None,
    ) -> str:
        """GetShardIterator: a token valid for 300 s on the workbench clock."""
        if iterator_type not in ITERATOR_TYPES:
            raise invalid(
                iterator_type,
                "shardIteratorType",
                f"satisfy enum value set: [{', '.join(ITERATOR_TYPES)}]",
            )
        by_sequence = iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
        if by_sequence != (starting_sequence_number is not None):
            raise InvalidArgumentException(
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
                "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no "
                f"StartingSequenceNumber. Request specified {iterator_type} and "
                f"{'a' if starting_sequence_number is not None else 'no'} StartingSequenceNumber."
            )
        if (iterator_type == "AT_TIMESTAMP") != (timestamp is not None):
            raise InvalidArgumentException(
                "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP "
                "and only for it. Current request has "
                f"{'a' if timestamp is not None else 'no'} timestamp parameter with type "
                f"{iterator_type}."
            )
        info = self._shard(shard_id)
        self.trim()
        meta = self._meta()
        log = self._log(info.index)
        now_ms = self._clock.now_ms()
        if iterator_type == "TRIM_HORIZON":
            position = self._first_position(log, meta)
        elif iterator_type == "LATEST":
            position = log.end() if info.end_position is None else info.end_position
        elif iterator_type == "AT_TIMESTAMP":
            from workbench.clock import parse_instant

            at_ms = math.floor(parse_instant(timestamp) * 1000)  # type: ignore[arg-type]
            if at_ms > now_ms:
                raise InvalidArgumentException(
                    f"The timestampInMillis parameter cannot be greater than the "
                    f"currentTimestampInMillis. timestampInMillis: {at_ms}, "
                    f"currentTimestampInMillis: {now_ms}"
                )
            position = max(log.first_at_or_after(at_ms), self._first_position(log, meta))
        else:
            created, index, position = parse_sequence_number(starting_sequence_number)
            if created != meta.created_ms or meta.shard(index) is None:
                raise InvalidArgumentException(
                    f"Invalid StartingSequenceNumber. The sequence number "
                    f"{starting_sequence_number} was not issued by stream {self.name}."
                )
            if index != info.index:
                raise InvalidArgumentException(
                    f"Invalid StartingSequenceNumber. It encodes {shard_name(index)}, while it "
                    f"was used in a call to a shard with {info.id}"
                )
            position += iterator_type == "AFTER_SEQUENCE_NUMBER"
        where = Position(self.name, meta.created_ms, info.index, position)
        return self._streams.signer.issue(where, now_ms)

    def _newest_sequence_number(self, shard_id: str) -> str | None:
        """The sequence number of the last record put into a shard, None if none ever was: where
        a consumer application that starts at LATEST pins each shard."""
        info = self._shard(shard_id)
        end = self._log(info.index).end() if info.end_position is None else info.end_position
        if not end:
            return None
        return sequence_number(self._meta().prefix(info.index), end - 1)

    def _first_position(self, log: ShardLog, meta: StreamMeta, segments: list | None = None) -> int:
        horizon = self._clock.now_ms() - meta.retention_hours * 3_600_000
        return log.first_at_or_after(horizon, segments)

    def _open_iterator(self, shard_iterator: str) -> tuple[Position, StreamMeta, ShardInfo]:
        where = self._streams.signer.open(shard_iterator, self._clock.now_ms())
        meta = self._meta()
        if where.stream != self.name or where.created_ms != meta.created_ms:
            raise InvalidArgumentException("Invalid ShardIterator.")
        info = meta.shard(where.shard_index)
        if info is None:
            raise self._not_found_shard(shard_name(where.shard_index))
        return where, meta, info

    def _read(
        self, shard_iterator: str, limit: int | None, max_bytes: int | None
    ) -> tuple[list[pa.Table], str | None, int, list[dict] | None]:
        where, meta, info = self._open_iterator(shard_iterator)
        log = self._log(info.index)
        segments = log.segments()
        start = max(where.position, self._first_position(log, meta, segments))
        stop = info.end_position
        if stop is not None:
            limit = max(0, min(limit if limit is not None else stop, stop - start))
        tables = log.read(start, limit, max_bytes, segments) if limit != 0 else []
        after = start + sum(t.num_rows for t in tables)
        tip = log.end(segments) if stop is None else stop
        now_ms = self._clock.now_ms()
        behind = 0
        if after < tip:
            # Zero means caught up, so records still unread are at least 1 ms behind, also when
            # they arrived this very millisecond (always so on a paused simulated clock).
            arrival = log.arrival_ms(after, segments)
            behind = max(1, now_ms - arrival) if arrival is not None else 1
        if stop is not None and after >= stop:
            children = self._children(meta, info)
            return tables, None, behind, children
        nxt = self._streams.signer.issue(where._replace(position=after), now_ms)
        return tables, nxt, behind, None

    def _children(self, meta: StreamMeta, info: ShardInfo) -> list[dict]:
        children = []
        for s in sorted(meta.shards, key=lambda s: s.index):
            if info.index in (s.parent, s.adjacent_parent):
                parents = [shard_name(p) for p in (s.parent, s.adjacent_parent) if p is not None]
                children.append(
                    {
                        "ShardId": s.id,
                        "ParentShards": parents,
                        "HashKeyRange": {
                            "StartingHashKey": str(s.start),
                            "EndingHashKey": str(s.end),
                        },
                    }
                )
        return children

    def get_records(self, shard_iterator: str, limit: int = GET_RECORDS_MAX) -> dict:
        """GetRecords: up to ``limit`` records (1..10,000, at most 10 MiB) as Kinesis dicts."""
        check_int(limit, "limit", 1, GET_RECORDS_MAX)
        tables, nxt, behind, children = self._read(shard_iterator, limit, GET_RECORDS_MAX_BYTES)
        records: list[dict] = []
        stamps: dict[int, datetime] = {}
        for table in tables:
            seqs, keys = table.column(0).to_pylist(), table.column(1).to_pylist()
            ts = table.column(2).cast(pa.int64()).to_pylist()
            data = table.column(3).to_pylist()
            for seq, key, ms, body in zip(seqs, keys, ts, data, strict=True):
                stamp = stamps.get(ms)
                if stamp is None:
                    stamp = stamps[ms] = datetime.fromtimestamp(ms / 1000, UTC)
                records.append(
                    {
                        "SequenceNumber": seq,
                        "ApproximateArrivalTimestamp": stamp,
                        "Data": body,
                        "PartitionKey": key,
                    }
                )
        answer: dict = {
            "Records": records,
            "NextShardIterator": nxt,
            "MillisBehindLatest": behind,
        }
        if children is not None:
            answer["ChildShards"] = children
        return answer

    def get_records_arrow(
        self,
        shard_iterator: str,
        limit: int | None = None,
        *,
        decode_json: bool | dict | pl.Schema = False,
    ) -> ArrowRecords:
        """GetRecords into one Arrow table, zero-copy from the segment files.

        ``limit`` None reads everything up to the newest record. ``decode_json`` True adds one
        typed column per JSON field of the data (decoded in bulk by polars); a dict or polars
        schema fixes those columns' types instead of inferring them.
        """
        if limit is not None:
            check_int(limit, "limit", 1, 1 << 62)
        tables, nxt, behind, children = self._read(shard_iterator, limit, None)
        table = pa.concat_tables(tables) if tables else empty_table()
        if decode_json is not False:
            table = json_columns(table, None if decode_json is True else decode_json)
        return ArrowRecords(table, nxt, behind, children)

    # -- retention -----------------------------------------------------------------------------

    def trim(self) -> None:
        """Delete what retention expired: whole old segments, and closed shards whose every
        record has expired. Runs by itself now and then; reads never return expired records."""
        now_ms = self._clock.now_ms()
        self._last_trim_ms = now_ms
        meta = self._meta()
        horizon = now_ms - meta.retention_hours * 3_600_000
        expired = []
        for info in meta.shards:
            log = self._log(info.index)
            log.trim(horizon)
            if info.closed_ms is not None and info.closed_ms < horizon:
                last = log.arrival_ms(log.end() - 1)
                if last is None or last < horizon:
                    expired.append(info.index)
        if expired:
            with self._changing() as meta:
                meta.shards = [s for s in meta.shards if s.index not in expired]
            for index in expired:
                self._log(index).destroy()
                self._logs.pop(index, None)

    def _retention(self, hours: object, field: str) -> int:
        check_int(hours, field, 1, 1 << 31)
        assert isinstance(hours, int)
        if hours < MIN_RETENTION_HOURS:
            raise InvalidArgumentException(
                f"Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. Requested "
                f"retention period ({hours} hours) is too short."
            )
        if hours > MAX_RETENTION_HOURS:
            raise InvalidArgumentException(
                f"Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested "
                f"retention period ({hours} hours) is too long."
            )
        return hours

    def increase_retention_period(self, hours: int) -> None:
        """IncreaseStreamRetentionPeriod (24..8,760 h, not below the current period)."""
        self._retention(hours, "retentionPeriodHours")
        with self._changing() as meta:
            if hours < meta.retention_hours:
                raise InvalidArgumentException(
                    f"Requested retention period ({hours} hours) for stream {self.name} can not "
                    f"be shorter than existing retention period ({meta.retention_hours} hours). "
                    "Use DecreaseRetentionPeriod API."
                )
            meta.retention_hours = hours

    def decrease_retention_period(self, hours: int) -> None:
        """DecreaseStreamRetentionPeriod (24..8,760 h, not above the current period)."""
        self._retention(hours, "retentionPeriodHours")
        with self._changing() as meta:
            if hours > meta.retention_hours:
                raise InvalidArgumentException(
                    f"Requested retention period ({hours} hours) for stream {self.name} can not "
                    f"be longer than existing retention period ({meta.retention_hours} hours). "
                    "Use IncreaseRetentionPeriod API."
                )
            meta.retention_hours = hours
        self.trim()

    def update_stream_mode(self, mode: str) -> None:
        """UpdateStreamMode: ``"PROVISIONED"`` or ``"ON_DEMAND"`` (shards stay as they are)."""
        if mode not in ("PROVISIONED", "ON_DEMAND"):
            raise invalid(
                mode,
                "streamModeDetails.streamMode",
                "satisfy enum value set: [PROVISIONED, ON_DEMAND]",
            )
        with self._changing() as meta:
            meta.mode = mode

    # -- resharding ----------------------------------------------------------------------------

    def _provisioned(self, meta: StreamMeta, action: str) -> None:
        if meta.mode != "PROVISIONED":
            raise ValidationException(
                f"{action} is not supported for stream {self.name} under account {ACCOUNT} "
                "because it is in ON_DEMAND mode; switch it to PROVISIONED first."
            )
        if meta.status != "ACTIVE":
            raise ResourceInUseException(
                f"Stream {self.name} under account {ACCOUNT} not ACTIVE, instead in state "
                f"{meta.status}"
            )

    def _open_shard(self, meta: StreamMeta, shard: str, field: str) -> ShardInfo:
        info = meta.shard(shard_index(shard, self.name, field))
        if info is None:
            raise self._not_found_shard(shard)
        if not info.is_open:
            raise InvalidArgumentException(
                f"Shard {shard} in stream {self.name} under account {ACCOUNT} has already been "
                "merged or split, and thus is not eligible for merging or splitting."
            )
        return info

    def _closer(self, meta: StreamMeta, now_ms: int) -> Callable[[ShardInfo], None]:
        """How resharding closes a parent: under its shard lock, so no put lands after its
        recorded end (writers check the metadata with that lock held)."""

        def close(info: ShardInfo) -> None:
            log = self._log(info.index)
            with log._locked():
                info.end_position = log.end()
                info.closed_ms = now_ms
                self._meta_file.save(meta)

        return close

    def split_shard(self, shard_to_split: str, new_starting_hash_key: str) -> None:
        """SplitShard: close a shard and create two children at ``new_starting_hash_key``."""
        at = check_hash_key(new_starting_hash_key, "newStartingHashKey")
        with self._changing() as meta:
            self._provisioned(meta, "SplitShard")
            parent = self._open_shard(meta, shard_to_split, "shardToSplit")
            if not parent.start + 1 < at < parent.end:
                raise InvalidArgumentException(
                    f"NewStartingHashKey {at} used in SplitShard() on shard {parent.id} in "
                    f"stream {self.name} under account {ACCOUNT} is not both greater than one "
                    f"plus the shard's StartingHashKey {parent.start} and less than the shard's "
                    f"EndingHashKey {parent.end}."
                )
            self._check_shard_limit(meta, 1)
            now_ms = self._clock.now_ms()
            resharding.split(meta, parent, at, now_ms, self._closer(meta, now_ms))

    def merge_shards(self, shard_to_merge: str, adjacent_shard_to_merge: str) -> None:
        """MergeShards: close two adjacent shards and create one child covering both."""
        with self._changing() as meta:
            self._provisioned(meta, "MergeShards")
            a = self._open_shard(meta, shard_to_merge, "shardToMerge")
            b = self._open_shard(meta, adjacent_shard_to_merge, "adjacentShardToMerge")
            if a.end + 1 != b.start and b.end + 1 != a.start:
                raise InvalidArgumentException(
                    f"Shards {a.id} and {b.id} in stream {self.name} under account {ACCOUNT} "
                    "are not an adjacent pair of shards eligible for merging"
                )
            now_ms = self._clock.now_ms()
            resharding.merge(meta, a, b, now_ms, self._closer(meta, now_ms))

    def _check_shard_limit(self, meta: StreamMeta, more: int) -> None:
        from workbench.streams._streams import SHARD_LIMIT

        if len(meta.open_shards()) + more > SHARD_LIMIT:
            raise LimitExceededException(
                f"This request would exceed the shard limit for stream {self.name} under "
                f"account {ACCOUNT}: {SHARD_LIMIT} open shards at most."
            )

    def update_shard_count(
        self, target_shard_count: int, scaling_type: str = "UNIFORM_SCALING"
    ) -> dict:
        """UpdateShardCount (UNIFORM_SCALING): between half and double the open shards, at most
        ten times per rolling 24 hours. Done as AWS does it, by splits and merges, so every
        new shard has at most two parents."""
        if scaling_type != "UNIFORM_SCALING":
            raise invalid(scaling_type, "scalingType", "satisfy enum value set: [UNIFORM_SCALING]")
        check_int(target_shard_count, "targetShardCount", 1, 10000)
        with self._changing() as meta:
            self._provisioned(meta, "UpdateShardCount")
            current = len(meta.open_shards())
            now_ms = self._clock.now_ms()
            recent = [t for t in meta.scalings_ms if now_ms - t < _DAY_MS]
            if target_shard_count > 2 * current or 2 * target_shard_count < current:
                raise LimitExceededException(
                    f"UpdateShardCount of stream {self.name} under account {ACCOUNT} to "
                    f"{target_shard_count} shards: the target must be between half ("
                    f"{math.ceil(current / 2)}) and double ({2 * current}) the current "
                    f"{current} open shards."
                )
            if len(recent) >= SCALINGS_PER_DAY:
                raise LimitExceededException(
                    f"Stream {self.name} under account {ACCOUNT} has already been scaled "
                    f"{SCALINGS_PER_DAY} times in the last 24 hours."
                )
            self._check_shard_limit(meta, target_shard_count - current)
            resharding.rescale(meta, target_shard_count, now_ms, self._closer(meta, now_ms))
            meta.scalings_ms = [*recent, now_ms]
        return {
            "StreamName": self.name,
            "CurrentShardCount": current,
            "TargetShardCount": target_shard_count,
            "StreamARN": self.arn,
        }


def check_tag(key: object, value: object) -> None:
    check_length(key, "tags.key", 1, 128)
    check_length(value, "tags.value", 0, 256)


def _chunks(counts: list[int]) -> list[tuple[int, int, int]]:
    """(shard position, start, count) of the rows sorted by shard, in chunks of at most
    _FRAME_CHUNK_ROWS: a segment's offsets are 32-bit, and each chunk is one append."""
    chunks = []
    start = 0
    for position, count in enumerate(counts):
        for offset in range(0, count, _FRAME_CHUNK_ROWS):
            chunks.append((position, start + offset, min(_FRAME_CHUNK_ROWS, count - offset)))
        start += count
    return chunks
