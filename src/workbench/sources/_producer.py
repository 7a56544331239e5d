"""Producers: a source written into a stream at the pace of its event times, like the lab's.

The lab's ``gen_kinesis_data.py`` sends JSON lines with PutRecords, a random partition key
``part-%05d`` (1..1024) per record, and retries failed entries up to 3 times. A Producer does
the same from any source, reading time only from the workbench clock: on a wall clock records
go out when their arrival time comes, on a running simulated clock N times faster, and with
``fast=True`` as fast as the sink takes them (event times still advance on the simulated
timeline from the clock's now).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from workbench.clock import Clock, WallClock
from workbench.errors import InvalidArgumentException, ServiceError

if TYPE_CHECKING:
    from workbench.sources._source import Source

MAX_BATCH = 500  # PutRecords' limit
RETRIES = 3
PARTITIONS = 1024
_BACKOFF_S = 0.01


class Sink(Protocol):
    """Where a producer writes: ``put`` returns an error code per entry, None when accepted."""

    def put(self, entries: list[dict[str, Any]]) -> list[str | None]: ...


class StreamSink:
    """A Kinesis stream (anything with ``put_records``), as PutRecords batches."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def put(self, entries: list[dict[str, Any]]) -> list[str | None]:
        result = self.stream.put_records(entries)
        return [r.get("ErrorCode") for r in result["Records"]]

    def __repr__(self) -> str:
        return repr(getattr(self.stream, "name", self.stream))


class DeliveryStreamSink:
    """A Firehose delivery stream (anything with ``put_record_batch``), as PutRecordBatch calls.

    >>> class Recorder:
    ...     def put_record_batch(self, records):
    ...         return {"FailedPutCount": 1, "RequestResponses": [
    ...             {"RecordId": "1"}, {"ErrorCode": "ServiceUnavailableException"}]}
    >>> DeliveryStreamSink(Recorder()).put([{"Data": b"a"}, {"Data": b"b"}])
    [None, 'ServiceUnavailableException']
    """

    def __init__(self, delivery_stream: Any) -> None:
        self.delivery_stream = delivery_stream

    def put(self, entries: list[dict[str, Any]]) -> list[str | None]:
        # Firehose takes no partition key: records are only their data.
        result = self.delivery_stream.put_record_batch([{"Data": e["Data"]} for e in entries])
        return [r.get("ErrorCode") for r in result["RequestResponses"]]

    def __repr__(self) -> str:
        return repr(getattr(self.delivery_stream, "name", self.delivery_stream))


class LineSink:
    """Records written as lines to a function (``print`` for the console, None for a dry run),
    then passed on to another sink or stream if ``then`` is given (the lab's ``--verbose``).

    >>> lines = []
    >>> LineSink(lines.append).put([{"Data": b'{"a":1}\\n', "PartitionKey": "part-00001"}])
    [None]
    >>> lines
    ['{"a":1}']
    """

    def __init__(self, write: Callable[[str], object] | None = None, then: Any = None) -> None:
        self.write = write
        self.then = None if then is None else as_sink(then)

    def put(self, entries: list[dict[str, Any]]) -> list[str | None]:
        if self.write is not None:
            for entry in entries:
                self.write(entry["Data"].decode().rstrip("\n"))
        return [None] * len(entries) if self.then is None else self.then.put(entries)

    def __repr__(self) -> str:
        if self.then is not None:
            return repr(self.then)
        return "console" if self.write is not None else "dry run"


def as_sink(target: Any) -> Sink:
    """A stream (``put_records``), a delivery stream (``put_record_batch``) or a Sink (``put``)."""
    if hasattr(target, "put_records"):
        return StreamSink(target)
    if hasattr(target, "put_record_batch"):
        return DeliveryStreamSink(target)
    if hasattr(target, "put"):
        return target
    raise InvalidArgumentException(
        f"cannot produce into {target!r}: give a Stream (put_records), a delivery stream "
        "(put_record_batch) or a Sink (put)"
    )


class Producer:
    """Writes a source into a sink in a background thread; counts are live.

    ``start()`` returns at once (a notebook cell is not blocked), ``stop()`` asks it to finish
    after the batch in hand, ``join()`` waits and re-raises a failure, ``run()`` does the whole
    job in the calling thread. ``sent``, ``failed`` (given up after 3 retries), ``retried`` and
    ``batches`` count as it goes.

    >>> from workbench import SimulatedClock
    >>> from workbench.sources import retail
    >>> lines = []
    >>> producer = retail(clock=SimulatedClock(start="2026-01-01")).producer(
    ...     LineSink(lines.append), max_count=1000, fast=True)
    >>> producer.start().join().sent, len(lines)
    (1000, 1000)
    """

    def __init__(
        self,
        source: Source,
        sink: Any,
        *,
        max_count: int | None = None,
        fast: bool = False,
        partition_key: str | None = None,
        batch_size: int = MAX_BATCH,
        progress: bool = False,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise InvalidArgumentException(f"batch_size must be 1..{MAX_BATCH}, got {batch_size}")
        if max_count is not None and max_count < 0:
            raise InvalidArgumentException(f"max_count must be 0 or more, got {max_count}")
        self.source, self.sink = source, as_sink(sink)
        self.clock: Clock = source.clock if source.clock is not None else WallClock()
        self.max_count, self.fast, self.batch_size = max_count, fast, batch_size
        self.partition_key, self.progress = partition_key, progress
        self.sent = self.failed = self.retried = self.batches = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def counts(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "retried": self.retried,
            "batches": self.batches,
        }

    def start(self) -> Producer:
        """Produce in a background thread; returns at once."""
        if self._thread is not None:
            raise InvalidArgumentException("this producer has been started already")
        self._thread = threading.Thread(
            target=self._background, name=f"producer-{self.source.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> Producer:
        """Ask the producer to finish after the batch in hand."""
        self._stop.set()
        return self

    def join(self, timeout: float | None = None) -> Producer:
        """Wait for the producer to end (or ``timeout`` real seconds); re-raise its failure."""
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self

    def _background(self) -> None:
        try:
            self.run()
        except BaseException as error:  # handed to join(), where the notebook sees it
            self.error = error

    def run(self) -> dict[str, int]:
        """Produce in this thread until ``max_count`` records or ``stop()``; the counts."""
        source = self.source
        start = source.timeline_start() if source.start is not None else self.clock.now()
        keys = np.random.default_rng([source.seed, 1])
        bar = _progress_bar(self.max_count, source.name) if self.progress else None
        try:
            for chunk in source.chunks(start, self.max_count):
                data = [(line + "\n").encode() for line in source.render(chunk, text=True)]
                if self.partition_key is None:
                    key_numbers = keys.integers(1, PARTITIONS + 1, len(data))
                    names = [f"part-{k:05d}" for k in key_numbers.tolist()]
                else:
                    names = [str(v) for v in chunk[self.partition_key].to_list()]
                arrival = chunk["_arrival"].to_numpy()
                if not self._send_paced(data, names, arrival, bar):
                    break
        finally:
            if bar is not None:
                bar.close()
        return self.counts

    def _send_paced(self, data: list[bytes], keys: list[str], arrival: np.ndarray, bar) -> bool:
        done = 0
        while done < len(data):
            if self._stop.is_set():
                return False
            end = min(done + self.batch_size, len(data))
            if not self.fast:
                now = self.clock.now()
                if arrival[done] > now:
                    self.clock.sleep(float(arrival[done] - now), cancel=self._stop)
                    continue
                end = min(end, int(np.searchsorted(arrival, now, side="right")))
            entries = [
                {"Data": d, "PartitionKey": k}
                for d, k in zip(data[done:end], keys[done:end], strict=True)
            ]
            self._put_with_retries(entries)
            if bar is not None:
                bar.update(end - done)
            done = end
        return True

    def _put_with_retries(self, entries: list[dict[str, Any]]) -> None:
        self.batches += 1
        for attempt in range(RETRIES + 1):
            try:
                codes = self.sink.put(entries)
            except ServiceError as error:  # throttled or unavailable: the whole batch failed
                codes = [error.code] * len(entries)
            failed = [e for e, code in zip(entries, codes, strict=True) if code]
            self.sent += len(entries) - len(failed)
            if not failed:
                return
            if attempt == RETRIES:
                self.failed += len(failed)
                return
            self.retried += len(failed)
            entries = failed
            # Back off on the clock, except when running flat out on a clock that may be paused.
            if not self.fast:
                self.clock.sleep(_BACKOFF_S * 2**attempt, cancel=self._stop)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped" if self._thread else "not started"
        return (
            f"Producer({self.source.name} -> {self.sink!r}: {self.sent:,} sent, "
            f"{self.failed:,} failed, {state})"
        )


def _progress_bar(total: int | None, name: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="rec", desc=f"produce {name}")
