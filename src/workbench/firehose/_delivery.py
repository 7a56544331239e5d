"""Delivery: source records through transform, partitioning and conversion into buffers, and
buffers into lake objects, exactly once.

Records move as Arrow tables with three bookkeeping columns (``_shard``, ``_ordinal``,
``_arrival`` in epoch ms) beside their payload, so the common path (no transform) never loops
over records in Python. Each buffer flushes on its own when it reaches BufferingHints' size or
its age reaches the interval; see :mod:`workbench.firehose._state` for how a flush is made
durable.
"""

from __future__ import annotations

import base64
import copy
import fcntl
import gzip
import io
import os
import threading
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import cramjam
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from workbench.errors import ResourceInUseException
from workbench.firehose import _transform
from workbench.firehose._config import Destination, lambda_arn
from workbench.firehose._convert import ERROR_CODE as CONVERSION_ERROR
from workbench.firehose._convert import concat_binary, convert
from workbench.firehose._partition import ERROR_CODE as PARTITION_ERROR
from workbench.firehose._partition import check_keys, keys_from_query
from workbench.firehose._state import (
    KINDS,
    StateFile,
    add_ranges,
    in_ranges,
    prune_ranges,
)
from workbench.lake import Lake, make_uri

MAX_ACTIVE_PARTITIONS = 500
READ_LIMIT = 100_000
_TRANSFORM_BATCH_BYTES = 1 << 20  # the Lambda processor's default BufferSizeInMBs
_EXTENSIONS = {"UNCOMPRESSED": "", "GZIP": ".gz", "ZIP": ".zip", "Snappy": ".snappy",
               "HADOOP_SNAPPY": ".snappy"}  # fmt: skip
PROCESSING_FAILED = "processing-failed"
CONVERSION_FAILED = "format-conversion-failed"
PARTITIONING_FAILED = "partitioning-failed"
PARTITIONS_EXCEEDED = "activePartitionExceeded"


class Source(Protocol):
    """Where a delivery stream's records come from: ordered shards of records."""

    arn: str | None

    def poll(self, positions: dict[str, str | None], limit: int) -> list[tuple[str, pa.Table]]:
        """New records per shard, after the sequence number in ``positions`` (absent: from
        the start), as tables with ``seq`` (string), ``arrival`` (int64 epoch ms), ``data``
        (binary) and optionally ``partition_key`` (string); parents' records before
        children's."""

    def millis_behind(self) -> int:
        """How far behind the newest record the last poll left off (0: caught up)."""

    def release(self, shard: str, delivered_through: str, everything_read: bool) -> None:
        """Every record up to ``delivered_through`` is in the lake (and, with
        ``everything_read``, every record read so far): the source may checkpoint or forget."""

    def rewind(self) -> None:
        """Forget read positions kept inside the source: the next poll starts from the
        positions it is given (or from the source's checkpoint, behind them)."""

    def close(self) -> None:
        """Let go of what the source holds (leases)."""


@dataclass
class Buffer:
    kind: str  # "main", "error" or "backup"
    label: str  # partition keys (JSON), error output type or ""
    opened_at: float
    keys: dict[str, dict[str, str]] = field(default_factory=dict)
    chunks: list[pa.Table] = field(default_factory=list)
    size: int = 0

    @property
    def rows(self) -> int:
        return sum(c.num_rows for c in self.chunks)

    def table(self) -> pa.Table:
        return pa.concat_tables(self.chunks) if len(self.chunks) > 1 else self.chunks[0]


@dataclass
class Metrics:
    """What a delivery stream has done, as CloudWatch would count it."""

    incoming_records: int = 0
    delivered_records: int = 0
    delivered_bytes: int = 0
    delivered_objects: int = 0
    dropped_records: int = 0
    failed_records: dict[str, int] = field(default_factory=dict)
    backup_objects: int = 0
    data_freshness_s: float = 0.0
    buffered_records: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, failed_records=dict(self.failed_records))


def _meta(table: pa.Table) -> pa.Table:
    return table.select(["_shard", "_ordinal", "_arrival"])


def _error_line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record) + b"\n"


class Delivery:
    """The running part of one delivery stream (one per process; see ``Firehose``)."""

    def __init__(
        self,
        *,
        name: str,
        arn: str,
        version: int,
        folder: Path,
        destination: Destination,
        source: Source,
        lake: Lake,
        clock: Any,
        functions: Callable[[str], Callable[..., Any] | None],
        catalog: Callable[[dict[str, Any]], list[dict[str, str]]] | None = None,
    ) -> None:
        self.name, self.arn, self.version = name, arn, version
        self.dest = destination
        self.source = source
        self.lake = lake
        self.clock = clock
        self._functions = functions
        self._catalog = catalog
        self._folder = folder
        self._state_file = StateFile(folder / "state.json")
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_fd: int | None = None
        self._state: dict[str, Any] | None = None
        self._buffers: dict[tuple[str, str], Buffer] = {}
        self._sealed: list[Buffer] = []
        self._staged: list[tuple] = []
        self._read: dict[str, tuple[str | None, int]] = {}
        self._seqs: dict[str, list[tuple[int, pa.Array]]] = {}
        self._behind_ms = 0
        self.metrics = Metrics()
        self.last_error: str | None = None

    # -- public ---------------------------------------------------------------------------------
    def step(self) -> int:
        """Read what the source has now, flush the buffers that are due; records read."""
        with self._lock:
            self._recover()
            read = self._pull()
            self._flush([b for b in self._due()])
            return read

    def run_until_idle(self) -> dict[str, Any]:
        """Read until the source has nothing more, flushing buffers as they become due."""
        with self._lock:
            while self.step():
                pass
            return self.metrics.as_dict()

    def flush(self) -> dict[str, Any]:
        """Read everything available and deliver every buffer now, whatever the hints say."""
        with self._lock:
            self.run_until_idle()
            self._flush([*self._sealed, *self._buffers.values()])
            return self.metrics.as_dict()

    def start(self, poll_s: float = 0.05) -> None:
        """Deliver in a background thread until :meth:`stop`."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, args=(poll_s,), name=f"firehose-{self.name}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop background delivery (buffered records stay buffered; nothing is lost)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        self.stop()
        self.source.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _loop(self, poll_s: float) -> None:
        while not self._stop.is_set():
            try:
                self.step()
                self.last_error = None
            except Exception as error:  # keep delivering; the error is shown in metrics
                self.last_error = f"{type(error).__name__}: {error}"
            # Polls in real time: new records can arrive while a simulated clock stands still.
            self._wake.wait(poll_s)
            self._wake.clear()

    # -- recovery -------------------------------------------------------------------------------
    @property
    def recovered(self) -> bool:
        return self._state is not None

    def committed_metrics(self) -> dict[str, Any]:
        saved = self._state_file.load().get("metrics") or {}
        fields = Metrics.__dataclass_fields__
        return Metrics(**{k: v for k, v in saved.items() if k in fields}).as_dict()

    def _recover(self) -> None:
        if self._state is not None:
            return
        self._take_lock()
        state = self._state_file.load()
        pending = state.get("pending")
        if pending:
            uris = pending["objects"]
            if all(self.lake.exists(uri) for uri in uris):
                state = pending["state"]
            else:
                for uri in uris:
                    self.lake.delete(uri)
            state["pending"] = None
            self._state_file.save(state)
        self._state = state
        for shard, mark in state["shards"].items():
            self._read[shard] = (mark["seq"], mark["ordinal"])
        saved = state.get("metrics") or {}
        self.metrics = Metrics(
            **{k: v for k, v in saved.items() if k in Metrics.__dataclass_fields__}
        )

    def _forget(self) -> None:
        """After a failed flush, start over from the journal as after a crash: the next step
        recovers the pending flush and reads again from the watermark."""
        self._state = None
        self._buffers.clear()
        self._sealed.clear()
        self._read.clear()
        self._seqs.clear()
        self.source.rewind()

    def _take_lock(self) -> None:
        if self._lock_fd is not None:
            return
        fd = os.open(self._folder / "deliver.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ResourceInUseException(
                f"Delivery stream {self.name} is being delivered by another process; one "
                "process delivers a delivery stream at a time."
            ) from None
        self._lock_fd = fd

    # -- reading and routing --------------------------------------------------------------------
    def _pull(self) -> int:
        total = 0
        positions = {shard: seq for shard, (seq, _) in self._read.items()}
        for shard, table in self.source.poll(positions, READ_LIMIT):
            self._behind_ms = self.source.millis_behind()
            seq, ordinal = self._read.get(shard, (None, -1))
            n = table.num_rows
            ordinals = pa.array(np.arange(ordinal + 1, ordinal + 1 + n, dtype=np.int64))
            self._read[shard] = (table.column("seq")[n - 1].as_py(), ordinal + n)
            self._seqs.setdefault(shard, []).append((ordinal + 1, table.column("seq")))
            chunk = table.append_column("_shard", pa.array([shard] * n, pa.string()))
            chunk = chunk.append_column("_ordinal", ordinals)
            chunk = chunk.append_column("_arrival", table.column("arrival").cast(pa.int64()))
            high = self._state["metrics"].get("high", {}).get(shard, -1)
            before = copy.deepcopy(self.metrics)
            self.metrics.incoming_records += int(max(0, ordinal + n - max(high, ordinal)))
            self._staged = []
            try:
                self._ingest(chunk)
            except Exception:
                # Nothing of a chunk that failed half way stays: it is read again next time.
                self._staged = []
                self.metrics = before
                self._read[shard] = (seq, ordinal)
                self._seqs[shard].pop()
                self.source.rewind()
                raise
            for staged in self._staged:
                self._buffer_rows(*staged)
            self._staged = []
            total += n
        return total

    def _ingest(self, chunk: pa.Table) -> None:
        shard = chunk.column("_shard")[0].as_py()
        ordinals = chunk.column("_ordinal").to_numpy()
        delivered = self._state["delivered"]
        if self.dest.backup is not None:
            fresh = ~in_ranges(delivered["backup"].get(shard, []), ordinals)
            backup = chunk.filter(pa.array(fresh))
            self._add(
                "backup", "", _meta(backup).append_column("data", backup.column("data")), None
            )
        chunk = chunk.filter(pa.array(~in_ranges(delivered["primary"].get(shard, []), ordinals)))
        if chunk.num_rows == 0:
            return
        lambda_keys: list[dict[str, str]] | None = None
        if self.dest.lambda_function is not None:
            chunk, lambda_keys = self._transform(chunk)
        if self.dest.append_delimiter and chunk.num_rows:
            chunk = _with_data(
                chunk,
                pc.binary_join_element_wise(chunk.column("data"), pa.scalar(b""), pa.scalar(b"\n")),
            )
        if chunk.num_rows == 0:
            return
        if self.dest.dynamic_partitioning:
            self._partition(chunk, lambda_keys)
        else:
            self._route("", {}, chunk)

    def _transform(self, chunk: pa.Table) -> tuple[pa.Table, list[dict[str, str]]]:
        self.function = self._functions(self.dest.lambda_function)
        if self.function is None:
            raise ResourceInUseException(
                f"Delivery stream {self.name} transforms with function "
                f"{self.dest.lambda_function!r}, which is not registered in this process: call "
                f"wb.firehose.register_function({self.dest.lambda_function!r}, fn) first."
            )
        rows = chunk.to_pylist()
        outcomes: list[_transform.Outcome] = []
        batch: list[_transform.Incoming] = []
        size = 0
        for row in rows:
            kinesis = None
            if self.source.arn is not None:
                kinesis = {
                    "shardId": row["_shard"],
                    "partitionKey": row.get("partition_key"),
                    "approximateArrivalTimestamp": row["_arrival"],
                    "sequenceNumber": row["seq"],
                    "subsequenceNumber": "",
                }
            batch.append(_transform.Incoming(row["data"], row["_arrival"], kinesis))
            size += len(row["data"])
            if size >= _TRANSFORM_BATCH_BYTES:
                outcomes += self._invoke(batch)
                batch, size = [], 0
        if batch:
            outcomes += self._invoke(batch)
        ok = np.array([o.result == "Ok" for o in outcomes], dtype=bool)
        failed = [i for i, o in enumerate(outcomes) if o.result == "ProcessingFailed"]
        self.metrics.dropped_records += sum(o.result == "Dropped" for o in outcomes)
        if failed:
            now_ms = self.clock.now_ms()
            lines = [
                _error_line(
                    {
                        "attemptsMade": outcomes[i].attempts,
                        "arrivalTimestamp": rows[i]["_arrival"],
                        "errorCode": outcomes[i].error_code,
                        "errorMessage": outcomes[i].error_message,
                        "attemptEndingTimestamp": now_ms,
                        "rawData": base64.b64encode(rows[i]["data"]).decode(),
                        "lambdaArn": lambda_arn(self.dest.lambda_function or ""),
                    }
                )
                for i in failed
            ]
            self._error(PROCESSING_FAILED, chunk.take(failed), lines)
        kept = chunk.filter(pa.array(ok))
        data = pa.array([o.data for o in outcomes if o.result == "Ok"], pa.binary())
        keys = [o.partition_keys for o in outcomes if o.result == "Ok"]
        return _with_data(kept, data), keys

    def _invoke(self, batch: list[_transform.Incoming]) -> list[_transform.Outcome]:
        return _transform.invoke(
            self.function,
            batch,
            self.arn,
            self.source.arn,
            retries=self.dest.lambda_retries,
            now_ms=self.clock.now_ms,
        )

    def _partition(self, chunk: pa.Table, lambda_keys: list[dict[str, str]] | None) -> None:
        prefixes = self.dest.prefixes
        n = chunk.num_rows
        keys: list[dict[str, dict[str, str]] | None] = [{} for _ in range(n)]
        errors: dict[int, str] = {}
        if self.dest.query is not None:
            found = keys_from_query(
                self.dest.query, chunk.column("data").to_pylist(), prefixes.query_keys
            )
            for i, (query_keys, why) in enumerate(found):
                if query_keys is None:
                    errors[i] = why
                else:
                    keys[i]["query"] = query_keys
        if prefixes.lambda_keys:
            for i in range(n):
                if i in errors:
                    continue
                given, why = check_keys((lambda_keys or [{}] * n)[i], prefixes.lambda_keys)
                if given is None:
                    errors[i] = why
                else:
                    keys[i]["lambda"] = given
        if errors:
            self._fail_records(PARTITIONING_FAILED, PARTITION_ERROR, chunk, errors)
        groups: dict[bytes, list[int]] = {}
        for i, k in enumerate(keys):
            if i not in errors:
                groups.setdefault(orjson.dumps(k, option=orjson.OPT_SORT_KEYS), []).append(i)
        for label, rows in groups.items():
            key = label.decode()
            if ("main", key) not in self._buffers and self._active() >= MAX_ACTIVE_PARTITIONS:
                self._fail_records(
                    PARTITIONS_EXCEEDED,
                    "DynamicPartitioning.ActivePartitionsLimitExceeded",
                    chunk.take(rows),
                    dict.fromkeys(
                        range(len(rows)),
                        f"The delivery stream has {MAX_ACTIVE_PARTITIONS} active partitions, "
                        "its limit; the record's partition would be one more.",
                    ),
                )
                continue
            self._route(key, orjson.loads(label), chunk.take(rows))

    def _active(self) -> int:
        labels = {label for kind, label in self._buffers if kind == "main"}
        labels |= {staged[1] for staged in self._staged if staged[0] == "main"}
        return len(labels)

    def _route(self, label: str, keys: dict[str, dict[str, str]], chunk: pa.Table) -> None:
        """Into the partition's buffer, converted to typed rows first when configured."""
        sizes = pc.binary_length(chunk.column("data")).to_numpy(zero_copy_only=False)
        if self.dest.conversion is None:
            self._add("main", label, _meta(chunk).append_column("data", chunk.column("data")),
                      sizes, keys)  # fmt: skip
            return
        deserializer = self.dest.conversion["InputFormatConfiguration"]["Deserializer"]
        options = deserializer.get("OpenXJsonSerDe", {})
        rows, failures = convert(chunk.column("data"), self._columns(), options)
        if failures:
            self._fail_records(CONVERSION_FAILED, CONVERSION_ERROR, chunk, failures)
            good = np.ones(chunk.num_rows, dtype=bool)
            good[list(failures)] = False
            chunk, sizes = chunk.filter(pa.array(good)), sizes[good]
        if chunk.num_rows:
            table = _meta(chunk)
            for name in rows.column_names:
                table = table.append_column(name, rows.column(name))
            self._add("main", label, table, sizes, keys)

    def _columns(self) -> list[dict[str, str]]:
        schema = self.dest.conversion["SchemaConfiguration"]
        if schema.get("Columns"):
            return schema["Columns"]
        if self._catalog is None:
            raise ResourceInUseException(
                f"Delivery stream {self.name} converts with the catalog table "
                f"{schema['DatabaseName']}.{schema['TableName']}, but this workbench has no "
                "catalog; give SchemaConfiguration Columns explicitly."
            )
        return self._catalog(schema)

    def _fail_records(
        self, error_type: str, code: str, chunk: pa.Table, errors: dict[int, str]
    ) -> None:
        """Records that failed at ``error_type``, in the error output in AWS's record format."""
        now_ms = self.clock.now_ms()
        rows = sorted(errors)
        data = chunk.column("data").to_pylist()
        arrival = chunk.column("_arrival").to_pylist()
        seqs = chunk.column("seq").to_pylist()
        lines = []
        for i in rows:
            raw = base64.b64encode(data[i]).decode()
            if error_type == CONVERSION_FAILED:
                record: dict[str, Any] = {
                    "attemptsMade": 1,
                    "arrivalTimestamp": arrival[i],
                    "lastErrorCode": code,
                    "lastErrorMessage": errors[i],
                    "attemptEndingTimestamp": now_ms,
                    "rawData": raw,
                    "sequenceNumber": seqs[i] if self.source.arn else None,
                    "subSequenceNumber": None,
                    "dataCatalogTable": self._catalog_table(),
                }
            else:
                record = {
                    "attemptsMade": 1,
                    "arrivalTimestamp": arrival[i],
                    "errorCode": code,
                    "errorMessage": errors[i],
                    "attemptEndingTimestamp": now_ms,
                    "rawData": raw,
                }
            lines.append(_error_line(record))
        self._error(error_type, chunk.take(rows), lines)

    def _catalog_table(self) -> dict[str, Any]:
        schema = self.dest.conversion["SchemaConfiguration"]
        database, table = schema.get("DatabaseName"), schema.get("TableName")
        return {
            "catalogId": schema.get("CatalogId", "000000000000"),
            "databaseName": database,
            "tableName": table,
            "region": schema.get("Region", "us-east-1"),
            "versionId": schema.get("VersionId", "LATEST"),
            "catalogArn": f"arn:aws:glue:us-east-1:000000000000:table/{database}/{table}"
            if database
            else None,
        }

    def _error(self, error_type: str, chunk: pa.Table, lines: list[bytes]) -> None:
        self.metrics.failed_records[error_type] = self.metrics.failed_records.get(
            error_type, 0
        ) + len(lines)
        data = pa.array(lines, pa.binary())
        self._add("error", error_type, _meta(chunk).append_column("data", data), None)

    def _add(
        self,
        kind: str,
        label: str,
        table: pa.Table,
        sizes: np.ndarray | None,
        keys: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """Stage rows for a buffer; they go in once their whole chunk is routed."""
        if table.num_rows:
            self._staged.append((kind, label, table, sizes, keys))

    def _buffer_rows(
        self,
        kind: str,
        label: str,
        table: pa.Table,
        sizes: np.ndarray | None,
        keys: dict[str, dict[str, str]] | None,
    ) -> None:
        """Append rows to a buffer, sealing it each time it reaches the size hint."""
        if sizes is None:
            sizes = pc.binary_length(table.column("data")).to_numpy(zero_copy_only=False)
        limit = self.dest.size_bytes
        while table.num_rows:
            buffer = self._buffers.get((kind, label))
            if buffer is None:
                buffer = Buffer(kind, label, self._opening_time(table), keys or {})
                self._buffers[(kind, label)] = buffer
            cumulative = np.cumsum(sizes)
            crossing = int(np.searchsorted(cumulative, limit - buffer.size, side="left"))
            take = min(crossing + 1, table.num_rows)
            buffer.chunks.append(table.slice(0, take))
            buffer.size += int(cumulative[take - 1])
            table, sizes = table.slice(take), sizes[take:]
            if buffer.size >= limit:
                self._sealed.append(self._buffers.pop((kind, label)))

    def _opening_time(self, table: pa.Table) -> float:
        """When a new buffer's interval starts: when its first record reached the delivery
        stream (its arrival) while the source is caught up, or now while reading a backlog."""
        now = self.clock.now()
        if self._behind_ms:
            return now
        return min(now, table.column("_arrival")[0].as_py() / 1000)

    def _due(self) -> list[Buffer]:
        now = self.clock.now()
        due = list(self._sealed)
        due += [b for b in self._buffers.values() if now - b.opened_at >= self.dest.interval_s]
        return due

    # -- writing --------------------------------------------------------------------------------
    def _flush(self, buffers: list[Buffer]) -> None:
        if not buffers:
            self._refresh_gauges()
            return
        objects = [(self._uri(b), self._body(b), b) for b in buffers]
        for b in buffers:
            if b in self._sealed:
                self._sealed.remove(b)
            elif self._buffers.get((b.kind, b.label)) is b:
                del self._buffers[(b.kind, b.label)]
        state = self._next_state(buffers, objects)
        current = dict(self._state, pending={"objects": [u for u, _, _ in objects], "state": state})
        try:
            self._state_file.save(current)
            for uri, body, _ in objects:
                self.lake.put(uri, body)
            self._state_file.save(state)
        except Exception:
            self._forget()
            raise
        self._state = state
        self._release()
        self._refresh_gauges()

    def _next_state(self, buffers: list[Buffer], objects: list) -> dict[str, Any]:
        lowest: dict[str, int] = {}
        for b in [*self._sealed, *self._buffers.values()]:
            for chunk in b.chunks:
                for shard, ordinal in _lowest(chunk).items():
                    lowest[shard] = min(ordinal, lowest.get(shard, ordinal))
        shards = {}
        for shard, (_seq, ordinal) in self._read.items():
            mark = lowest[shard] - 1 if shard in lowest else ordinal
            shards[shard] = {"seq": self._seq_at(shard, mark), "ordinal": mark}
        delivered = {
            kind: {
                shard: prune_ranges(ranges, shards[shard]["ordinal"])
                for shard, ranges in self._state["delivered"][kind].items()
            }
            for kind in KINDS
        }
        for b in buffers:
            kind = "backup" if b.kind == "backup" else "primary"
            for chunk in b.chunks:
                column, ordinals = chunk.column("_shard"), chunk.column("_ordinal")
                for shard in pc.unique(column).to_pylist():
                    mine = (
                        ordinals if len(shards) == 1 else ordinals.filter(pc.equal(column, shard))
                    )
                    # Ordinals at or below the watermark are implied: only the rest is kept.
                    above = mine.to_numpy()
                    above = above[above > shards[shard]["ordinal"]]
                    if len(above):
                        delivered[kind][shard] = add_ranges(delivered[kind].get(shard, []), above)
        metrics = self.metrics
        for _uri, body, b in objects:
            if b.kind == "main":
                metrics.delivered_records += b.rows
                metrics.delivered_objects += 1
                metrics.delivered_bytes += len(body)
            elif b.kind == "backup":
                metrics.backup_objects += 1
        saved = metrics.as_dict()
        saved["high"] = {s: max(o, self._state["metrics"].get("high", {}).get(s, -1))
                         for s, (_, o) in self._read.items()}  # fmt: skip
        return {
            "format": self._state.get("format", 1),
            "shards": shards,
            "delivered": delivered,
            "metrics": saved,
            "pending": None,
        }

    def _seq_at(self, shard: str, ordinal: int) -> str | None:
        mark = self._state["shards"].get(shard)
        if mark is not None and mark["ordinal"] == ordinal:
            return mark["seq"]
        if ordinal < 0:
            return None
        logs = self._seqs.get(shard, [])
        for first, seqs in logs:
            if first <= ordinal < first + len(seqs):
                return seqs[ordinal - first].as_py()
        raise AssertionError(f"no sequence number kept for ordinal {ordinal} of {shard}")

    def _release(self) -> None:
        for shard, mark in self._state["shards"].items():
            logs = self._seqs.get(shard, [])
            while logs and logs[0][0] + len(logs[0][1]) - 1 < mark["ordinal"]:
                logs.pop(0)
            if mark["seq"] is not None:
                everything = mark["ordinal"] == self._read[shard][1]
                self.source.release(shard, mark["seq"], everything)

    def _refresh_gauges(self) -> None:
        buffers = [*self._sealed, *self._buffers.values()]
        self.metrics.buffered_records = sum(b.rows for b in buffers)
        oldest = min(
            (pc.min(c.column("_arrival")).as_py() for b in buffers for c in b.chunks),
            default=None,
        )
        freshness = 0.0 if oldest is None else max(0.0, self.clock.now() - oldest / 1000)
        self.metrics.data_freshness_s = max(freshness, self._behind_ms / 1000)

    def _uri(self, buffer: Buffer) -> str:
        oldest = min(pc.min(c.column("_arrival")).as_py() for c in buffer.chunks) / 1000
        dest = self.dest
        if buffer.kind == "backup":
            prefix, bucket = dest.backup.evaluate(oldest), dest.backup_bucket
        elif buffer.kind == "error":
            prefix, bucket = dest.prefixes.evaluate_error(oldest, buffer.label), dest.bucket
        else:
            keys = buffer.keys
            prefix = dest.prefixes.evaluate(oldest, keys.get("query"), keys.get("lambda"))
            bucket = dest.bucket
        stamp = datetime.fromtimestamp(self.clock.now(), UTC).strftime("%Y-%m-%d-%H-%M-%S")
        name = f"{self.name}-{self.version}-{stamp}-{uuid.uuid4()}"
        return make_uri(bucket, f"{prefix}{name}{self._extension(buffer)}")

    def _extension(self, buffer: Buffer) -> str:
        if buffer.kind == "main" and self.dest.conversion is not None:
            return ".parquet"
        if buffer.kind == "main":
            return _EXTENSIONS[self.dest.compression]
        return ""

    def _body(self, buffer: Buffer) -> bytes:
        table = buffer.table()
        if buffer.kind == "main" and self.dest.conversion is not None:
            serde = self.dest.conversion["OutputFormatConfiguration"]["Serializer"]["ParquetSerDe"]
            sink = io.BytesIO()
            pq.write_table(
                table.drop_columns(["_shard", "_ordinal", "_arrival"]),
                sink,
                compression=serde["Compression"].lower().replace("uncompressed", "none"),
                use_dictionary=serde.get("EnableDictionaryCompression", True),
                data_page_size=serde.get("PageSizeBytes", 1 << 20),
                data_page_version="2.0" if serde.get("WriterVersion") == "V2" else "1.0",
            )
            return sink.getvalue()
        body = concat_binary(table.column("data"))
        return compress(body, self.dest.compression) if buffer.kind == "main" else body


def compress(body: bytes, how: str) -> bytes:
    """``body`` in one of Firehose's CompressionFormat values.

    >>> import gzip
    >>> gzip.decompress(compress(b"abc", "GZIP"))
    b'abc'
    """
    if how == "GZIP":
        return gzip.compress(body, mtime=0)
    if how == "Snappy":
        return bytes(cramjam.snappy.compress(body))  # the framing format, as Firehose writes
    if how == "HADOOP_SNAPPY":
        raw = bytes(cramjam.snappy.compress_raw(body))
        return len(body).to_bytes(4, "big") + len(raw).to_bytes(4, "big") + raw
    if how == "ZIP":
        sink = io.BytesIO()
        with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("data", body)
        return sink.getvalue()
    return body


def _lowest(chunk: pa.Table) -> dict[str, int]:
    shards = chunk.column("_shard")
    if len(shards) and pc.count_distinct(shards).as_py() == 1:
        return {shards[0].as_py(): pc.min(chunk.column("_ordinal")).as_py()}
    grouped = chunk.group_by("_shard").aggregate([("_ordinal", "min")])
    shard_ids = grouped.column("_shard").to_pylist()
    return dict(zip(shard_ids, grouped.column("_ordinal_min").to_pylist(), strict=True))


def _with_data(table: pa.Table, data: pa.Array) -> pa.Table:
    index = table.column_names.index("data")
    return table.set_column(index, "data", data)
