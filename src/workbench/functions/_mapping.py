"""An event source mapping: Lambda's poller that feeds a data stream's records to a function.

Each shard's records go to the function in order, in batches of at most ``batch_size``, once the
batch is full or the batching window has passed. As on AWS, shards are processed concurrently,
one batch per shard at a time: while one shard's batch is being indexed (DuckDB and the disk
work without Python's lock), the next shard's handler runs. A batch that raises is retried
(split in two first with bisect-on-error) until it succeeds, runs out of retries or grows older
than the maximum record age; then its description goes to the on-failure destination and the
shard moves on. Progress is checkpointed in a consumer application named after the function, so
a restart resumes where the last successful batch ended.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from workbench.clock import Clock, parse_duration
from workbench.functions._context import LambdaContext
from workbench.functions._events import arrival, failure_record, kinesis_event
from workbench.streams import Batch, ConsumerApplication, Stream

Handler = Callable[[dict, LambdaContext], Any]
Destination = Callable[[dict], object]
# os.environ is one per process: invocations with their own environment take turns.
_ENVIRONMENT_LOCK = threading.Lock()
# Shards whose batches run at once (each shard has at most one batch in flight).
_CONCURRENT_SHARDS = 8


class _OwnHeap:
    """While any invocation runs, the objects that existed before it are frozen (``gc.freeze``):
    the collector's full collections then look only at what invocations make, as in a function's
    own process on AWS. Each full collection otherwise walked the whole notebook's heap (over
    100,000 objects from polars, DuckDB and pyarrow alone), a sixth of the time of indexing a
    stream at a thousand records a batch. Unfrozen when the last invocation ends, so what became
    garbage meanwhile is collected as before; a process that froze objects itself keeps them
    frozen and is left alone."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._froze = False

    def __enter__(self) -> None:
        with self._lock:
            if not self._running:
                self._froze = not gc.get_freeze_count()
                if self._froze:
                    gc.freeze()
            self._running += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._running -= 1
            if not self._running and self._froze:
                gc.unfreeze()


_OWN_HEAP = _OwnHeap()  # one per process, as the collector is


class _Stopped(Exception):
    """Stop was asked while a batch waited to be retried: leave it unchecked, to be read again."""


@dataclass
class MappingMetrics:
    """What CloudWatch shows for a function fed by a stream."""

    invocations: int = 0
    errors: int = 0
    records: int = 0
    retries: int = 0
    failed_records: int = 0
    iterator_age_ms: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Pending:
    batches: list[Batch] = field(default_factory=list)
    since: float = 0.0

    @property
    def size(self) -> int:
        return sum(len(b) for b in self.batches)


class EventSourceMapping:
    """Feeds a stream to a handler ``handler(event, context)`` as AWS Lambda does.

    Made by ``wb.functions.create_event_source_mapping(...)``. Run it stepwise with
    :meth:`poll` (bounded by ``duration`` or ``until_caught_up``) or in the background with
    :meth:`start` / :meth:`stop`; read :attr:`metrics`.
    """

    def __init__(
        self,
        *,
        uuid: str,
        handler: Handler,
        function_name: str,
        stream: Stream,
        application: ConsumerApplication,
        clock: Clock,
        batch_size: int,
        maximum_batching_window: float,
        maximum_retry_attempts: int,
        maximum_record_age: float,
        bisect_batch_on_function_error: bool,
        on_failure: Destination | None,
        environment: dict[str, str],
        report_batch_item_failures: bool,
        timeout: float,
    ) -> None:
        self.uuid = uuid
        self.handler = handler
        self.function_name = function_name
        self.stream = stream
        self.application = application
        self.clock = clock
        self.batch_size = batch_size
        self.maximum_batching_window = maximum_batching_window
        self.maximum_retry_attempts = maximum_retry_attempts
        self.maximum_record_age = maximum_record_age
        self.bisect_batch_on_function_error = bisect_batch_on_function_error
        self.on_failure = on_failure
        self.environment = environment
        self.report_batch_item_failures = report_batch_item_failures
        self.timeout = timeout
        self.metrics = MappingMetrics()
        self._pending: dict[str, _Pending] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight: dict[str, Future] = {}
        self._metrics_lock = threading.Lock()

    # -- running -----------------------------------------------------------------------------
    def poll(self, *, duration: str | float | None = None, until_caught_up: bool = False) -> int:
        """Read and invoke until ``duration`` passes on the clock, or until caught up with the
        stream; every batch read is delivered before returning. Returns records delivered."""
        before = self.metrics.records + self.metrics.failed_records
        end = None if duration is None else self.clock.now() + parse_duration(duration)
        if not self.running:  # a stepwise poll after an earlier stop()
            self._stop.clear()
        self._pool = ThreadPoolExecutor(
            _CONCURRENT_SHARDS, thread_name_prefix=f"lambda-{self.function_name}"
        )
        try:
            try:
                self._poll(end, until_caught_up)
            finally:
                self._settle()
        except _Stopped:
            self._pending.clear()  # unchecked: the next poll reads these records again
        finally:
            self._pool.shutdown()
            self._pool = None
        return self.metrics.records + self.metrics.failed_records - before

    def _poll(self, end: float | None, until_caught_up: bool) -> None:
        while not self._stop.is_set():
            left = None if end is None else end - self.clock.now()
            if left is not None and left <= 0:
                break
            window = self.maximum_batching_window or 1.0
            slice_ = None if until_caught_up else min(window, left) if left is not None else window
            for batch in self.application.batches(
                checkpoint=False, duration=slice_, until_caught_up=until_caught_up
            ):
                self._take(batch)
            self._flush(expired_only=True)
            if until_caught_up:
                break
        self._flush(expired_only=False)

    def start(self) -> EventSourceMapping:
        """Poll in a background thread until :meth:`stop`; the notebook cell returns at once."""
        if self.running:
            return self
        self._stop.clear()

        def work() -> None:
            try:
                self.poll()
            except BaseException as error:  # handed to the caller of stop()
                self._error = error

        self._thread = threading.Thread(
            target=work, name=f"lambda-{self.function_name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> MappingMetrics:
        """Stop polling after delivering what was read; raises what the poller died of."""
        self._stop.set()
        self.application.stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        error, self._error = self._error, None
        if error is not None:
            raise error
        return self.metrics

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def pending_records(self) -> int:
        """Records read and held until their batch fills or its batching window passes."""
        return sum(p.size for p in list(self._pending.values()))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        self.application.close()

    # -- batching ----------------------------------------------------------------------------
    def _take(self, batch: Batch) -> None:
        pending = self._pending.setdefault(batch.shard_id, _Pending())
        if not len(batch):  # the end of a closed shard: deliver what is held, then mark it done
            self._deliver_pending(batch.shard_id)
            self._settle(batch.shard_id)
            batch.checkpoint()
            return
        if pending.size + len(batch) > self.batch_size:
            self._deliver_pending(batch.shard_id)
        if not pending.batches:
            pending.since = self.clock.now()
        pending.batches.append(batch)
        full = pending.size >= self.batch_size
        if full or self.maximum_batching_window == 0:
            self._deliver_pending(batch.shard_id)

    def _flush(self, *, expired_only: bool) -> None:
        now = self.clock.now()
        for shard_id, pending in list(self._pending.items()):
            expired = now - pending.since >= self.maximum_batching_window
            if pending.batches and (expired or not expired_only):
                self._deliver_pending(shard_id)

    def _deliver_pending(self, shard_id: str) -> None:
        pending = self._pending.pop(shard_id, None)
        if pending is None or not pending.batches:
            return
        self._settle(shard_id)  # the shard's previous batch first: one at a time, in order
        records = pa.concat_tables([b.table for b in pending.batches])
        last = pending.batches[-1]

        def deliver() -> None:
            self._deliver(records, shard_id, attempts=0)
            last.checkpoint()

        self._in_flight[shard_id] = self._pool.submit(deliver)  # only called while polling

    def _settle(self, shard_id: str | None = None) -> None:
        """Wait for the batch in flight on ``shard_id`` (on every shard: None) and raise what
        its delivery raised."""
        shards = list(self._in_flight) if shard_id is None else [shard_id]
        errors = []
        for shard in shards:
            future = self._in_flight.pop(shard, None)
            if future is not None and future.exception() is not None:
                errors.append(future.exception())
        if errors:
            raise errors[0]

    def _count(self, **increments: int) -> None:
        with self._metrics_lock:  # shards report from their own threads
            for name, amount in increments.items():
                setattr(self.metrics, name, getattr(self.metrics, name) + amount)

    # -- invoking ----------------------------------------------------------------------------
    def _deliver(self, records: pa.Table, shard_id: str, attempts: int) -> None:
        while records.num_rows:
            try:
                failed_from = self._invoke(records, shard_id)
            except Exception as error:
                failed_from, failure = 0, error
            else:
                if failed_from is None:
                    return
                failure = RuntimeError(f"batch item failure at record {failed_from}")
            attempts += 1
            self._count(records=failed_from)
            records = records.slice(failed_from)
            if self.bisect_batch_on_function_error and records.num_rows > 1:
                half = records.num_rows // 2
                self._deliver(records.slice(0, half), shard_id, attempts)
                self._deliver(records.slice(half), shard_id, attempts)
                return
            if self._give_up(records, attempts):
                self._send_to_destination(records, shard_id, failure, attempts)
                return
            self._count(retries=1)
            # Lambda backs off between retries; here they follow at once, since a backoff sleep
            # on a paused simulated clock would wait for a notebook that never advances it.
            if self._stop.is_set():
                raise _Stopped

    def _give_up(self, records: pa.Table, attempts: int) -> bool:
        if 0 <= self.maximum_retry_attempts < attempts:
            return True
        if self.maximum_record_age >= 0:
            oldest = arrival(records, 0).timestamp()
            return self.clock.now() - oldest > self.maximum_record_age
        return False

    def _invoke(self, records: pa.Table, shard_id: str) -> int | None:
        """Call the handler once; the index of the first failed record, or None for success."""
        with _OWN_HEAP:
            return self._invoke_once(records, shard_id)

    def _invoke_once(self, records: pa.Table, shard_id: str) -> int | None:
        event = kinesis_event(records, shard_id, self.stream.arn)
        context = LambdaContext(self.function_name, self.clock, self.timeout)
        self._count(invocations=1)
        newest = arrival(records, -1).timestamp()
        self.metrics.iterator_age_ms = max(0, int((self.clock.now() - newest) * 1000))
        try:
            with self._environment():
                response = self.handler(event, context)
        except Exception as error:
            self._count(errors=1)
            self.metrics.last_error = "".join(traceback.format_exception_only(error)).strip()
            raise
        if self.report_batch_item_failures and isinstance(response, dict):
            failures = response.get("batchItemFailures") or []
            sequence_numbers = records.column("sequence_number").to_pylist()
            positions = {number: i for i, number in enumerate(sequence_numbers)}
            failed = [positions.get(f.get("itemIdentifier"), 0) for f in failures]
            if failed:
                return min(failed)
        self._count(records=records.num_rows)
        return None

    @contextlib.contextmanager
    def _environment(self) -> Iterator[None]:
        if not self.environment:
            yield
            return
        with _ENVIRONMENT_LOCK:
            saved = {k: os.environ.get(k) for k in self.environment}
            os.environ.update(self.environment)
            try:
                yield
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value

    def _send_to_destination(
        self, records: pa.Table, shard_id: str, error: BaseException, attempts: int
    ) -> None:
        self._count(failed_records=records.num_rows)
        if self.on_failure is None:
            return
        condition = "RetryAttemptsExhausted"
        if not 0 <= self.maximum_retry_attempts < attempts:
            condition = "RecordAgeExceeded"
        self.on_failure(
            failure_record(
                request_id=LambdaContext(self.function_name, self.clock).aws_request_id,
                function_name=self.function_name,
                condition=condition,
                attempts=attempts,
                error=error,
                records=records,
                shard_id=shard_id,
                stream_arn=self.stream.arn,
                timestamp=self.clock.isoformat(),
            )
        )

    # -- description -------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """The mapping as GetEventSourceMapping shows it."""
        return {
            "UUID": self.uuid,
            "EventSourceArn": self.stream.arn,
            "FunctionArn": LambdaContext(self.function_name, self.clock).invoked_function_arn,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": int(self.maximum_batching_window),
            "MaximumRetryAttempts": self.maximum_retry_attempts,
            "MaximumRecordAgeInSeconds": int(self.maximum_record_age),
            "BisectBatchOnFunctionError": self.bisect_batch_on_function_error,
            "FunctionResponseTypes": ["ReportBatchItemFailures"]
            if self.report_batch_item_failures
            else [],
            "State": "Enabled" if self.running else "Disabled",
        }


def stream_destination(stream: Stream) -> Destination:
    """An on-failure destination that puts each failure record into a data stream."""

    def put(record: dict) -> None:
        stream.put_record(orjson.dumps(record), record["KinesisBatchInfo"]["shardId"])

    return put
