"""Consumer applications: the Kinesis Client Library's job, built in.

A named application reads every shard of one stream and remembers, per shard, how far it got
(its checkpoint) in a lease table in the home. Any number of worker processes can run the same
application: they share the shards through leases, and a worker that dies loses its leases after
``lease_timeout`` seconds to the live ones. A child shard is read only after its parents are
checkpointed at SHARD_END, so records of one partition key come out in order across a split or a
merge. Applications with different names read the same stream independently.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import socket
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.clock import Clock, parse_duration, parse_instant
from workbench.errors import InvalidArgumentException, ServiceError
from workbench.streams._coordinator import Held, LeaseCoordinator
from workbench.streams._leases import (
    AT_TIMESTAMP,
    INITIAL_POSITIONS,
    LATEST,
    SHARD_END,
    LeaseLost,
    LeaseTable,
)
from workbench.streams._reader import Backoff, Batch, ShardReader

_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
FORMATS = ("records", "arrow")


def _parents(shard: dict[str, Any]) -> tuple[str, ...]:
    return tuple(shard[key] for key in ("ParentShardId", "AdjacentParentShardId") if shard.get(key))


class _Shard:
    """A held lease and the reader that goes with it."""

    def __init__(self, held: Held, reader: ShardReader) -> None:
        self.held = held
        self.reader = reader
        self.checkpointed = held.checkpoint
        self.pending: Batch | None = None  # processed, its checkpoint not written yet


class ConsumerApplication:
    """One worker of a named consumer application over a stream.

    Made by ``wb.streams.consumer(stream_name, application_name, ...)``. Read with
    :meth:`batches` (a for loop), :meth:`run` (a handler per batch) or :meth:`start` /
    :meth:`stop` (in the background, for a notebook). :meth:`close` hands the leases over.

    initial_position: where a new application starts: TRIM_HORIZON (the oldest record),
        LATEST (records put from the application's first start on, that very millisecond
        included; its leases show AT_TIMESTAMP until the first checkpoint) or AT_TIMESTAMP (with
        ``timestamp``). Once the lease table exists its checkpoints decide, whatever is passed.
    lease_timeout: seconds (workbench clock) without renewal after which another worker may
        take a lease; a live worker renews every third of it.
    format: "records" reads Kinesis dicts, "arrow" reads Arrow tables; a batch offers both.
    limit: records per read (a batch): 1 to 10,000 as GetRecords allows; with "arrow" any
        number, or None for everything there is (zero-copy, the fastest way through a backlog).
    poll_interval, max_poll_interval: the wait after a round that found nothing, doubling up
        to the maximum while the stream stays idle.
    checkpoint_interval: how often (workbench clock) the checkpoints of processed batches are
        written while records keep coming; they are written at once when reading goes idle or
        stops, and when a shard ends.
    """

    def __init__(
        self,
        stream: Any,
        application_name: str,
        *,
        directory: Path,
        clock: Clock,
        initial_position: str = "TRIM_HORIZON",
        timestamp: str | float | datetime | None = None,
        worker_id: str | None = None,
        lease_timeout: str | float = 10.0,
        max_leases: int | None = None,
        format: str = "records",
        limit: int | None = 10000,
        poll_interval: str | float = 0.001,
        max_poll_interval: str | float = 0.02,
        checkpoint_interval: str | float = 0.2,
    ) -> None:
        if not isinstance(application_name, str) or not _NAME.fullmatch(application_name):
            raise InvalidArgumentException(
                f"Application name {application_name!r} is not valid: use 1 to 128 characters "
                "from a-z, A-Z, 0-9, '_', '.' and '-'."
            )
        if initial_position not in INITIAL_POSITIONS:
            raise InvalidArgumentException(
                f"Initial position {initial_position!r} is not valid: use one of "
                f"{', '.join(INITIAL_POSITIONS)}."
            )
        if (initial_position == AT_TIMESTAMP) != (timestamp is not None):
            raise InvalidArgumentException(
                "A timestamp goes with initial position AT_TIMESTAMP, and only with it."
            )
        if format not in FORMATS:
            raise InvalidArgumentException(
                f"Format {format!r} is not valid: use 'records' (Kinesis dicts) or 'arrow'."
            )
        if not (limit is None and format == "arrow") and not (
            isinstance(limit, int) and 1 <= limit <= (10000 if format == "records" else 1 << 62)
        ):
            raise InvalidArgumentException(
                f"Limit {limit!r} is not valid: use 1 to 10000 records per read, or any positive "
                "number or None (all there is) with format='arrow'."
            )
        self.stream = stream
        self.stream_name: str = stream.name
        self.application_name = application_name
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.initial_position = initial_position
        self._timestamp = parse_instant(timestamp) if timestamp is not None else None
        self.format = format
        self.limit = limit
        self.lease_timeout = parse_duration(lease_timeout)
        if self.lease_timeout <= 0:
            raise InvalidArgumentException("The lease timeout must be a positive duration.")
        self._poll_interval = parse_duration(poll_interval)
        self._max_poll_interval = parse_duration(max_poll_interval)
        self._checkpoint_interval = parse_duration(checkpoint_interval)
        self._flushed_at = clock.now()
        self.table = LeaseTable(directory / f"{application_name}.sqlite")
        self._coordinator = LeaseCoordinator(
            self.table,
            self.worker_id,
            clock,
            lease_timeout=self.lease_timeout,
            max_leases=max_leases,
        )
        self._shards: dict[str, _Shard] = {}
        self._want_shard_sync = True
        self._stopping = threading.Event()
        self._closing = threading.Event()
        self._maintainer: threading.Thread | None = None
        self._background: threading.Thread | None = None
        self._background_error: BaseException | None = None
        self._reading = False
        self.processed = 0
        atexit.register(_close_at_exit, weakref.ref(self))

    # -- leases ---------------------------------------------------------------------------------

    def leases(self) -> list[dict[str, Any]]:
        """The application's lease table, one KCL-shaped dict per shard."""
        return [lease.to_dict() for lease in self.table.leases()]

    def _sync_shards(self) -> None:
        shards = self.stream.list_shards()
        closed = {
            s["ShardId"] for s in shards if "EndingSequenceNumber" in s["SequenceNumberRange"]
        }
        start, timestamp = self.initial_position, self._timestamp
        if start == LATEST:
            # LATEST is pinned to the instant the application began, so records put while no
            # worker runs (before the first checkpoint) are not skipped by a restart.
            start, timestamp = AT_TIMESTAMP, self.clock.now()

        def first_checkpoint(shard_id: str) -> str:
            # From LATEST, a closed shard has nothing new to give: it starts finished.
            if self.initial_position == LATEST and shard_id in closed:
                return SHARD_END
            return start

        settings = {"initial_position": self.initial_position}
        if timestamp is not None:
            settings["timestamp"] = repr(timestamp)
        self._coordinator.sync(
            {s["ShardId"]: _parents(s) for s in shards}, first_checkpoint, settings=settings
        )

    def _coordinate(self) -> None:
        if self._want_shard_sync:
            self._want_shard_sync = False
            self._sync_shards()
        self._coordinator.take_leases()

    def _maintain(self) -> None:
        every = self.lease_timeout / 3
        while self.clock.sleep(every, cancel=self._closing):
            self._coordinator.renew()
            # A deleted stream or a passing error must not stop renewals: the next round
            # tries again, and the reading loop reports errors to the user.
            try:
                self._sync_shards()
                self._coordinator.take_leases()
            except ServiceError:
                continue

    def _ensure_started(self) -> None:
        if self._maintainer is not None and self._maintainer.is_alive():
            return
        self._closing.clear()
        self._want_shard_sync = True
        self._coordinate()
        self._maintainer = threading.Thread(
            target=self._maintain, name=f"leases-{self.application_name}", daemon=True
        )
        self._maintainer.start()

    # -- reading --------------------------------------------------------------------------------

    def _reader_for(self, held: Held) -> ShardReader:
        checkpoint = held.checkpoint
        arrow = self.format == "arrow"
        if checkpoint == AT_TIMESTAMP:
            stored = self.table.setting("timestamp")
            timestamp = float(stored) if stored is not None else self._timestamp
            return ShardReader(
                self.stream, held.lease_key, AT_TIMESTAMP, timestamp=timestamp, arrow=arrow
            )
        if checkpoint in INITIAL_POSITIONS:
            return ShardReader(self.stream, held.lease_key, checkpoint, arrow=arrow)
        return ShardReader(
            self.stream,
            held.lease_key,
            "AFTER_SEQUENCE_NUMBER",
            sequence_number=checkpoint,
            arrow=arrow,
        )

    def _reconcile(self) -> list[_Shard]:
        held = self._coordinator.held()
        for key in [k for k, s in self._shards.items() if held.get(k) is not s.held]:
            del self._shards[key]
        for key, hold in held.items():
            if key not in self._shards:
                self._shards[key] = _Shard(hold, self._reader_for(hold))
        return list(self._shards.values())

    def checkpoint(self, batch: Batch) -> None:
        """Record that ``batch`` and everything before it on its shard is processed.

        The same as ``batch.checkpoint()``. Raises :class:`LeaseLost` if another worker has
        taken the shard since the batch was read.
        """
        batch.checkpoint()

    def _checkpoint_shard(self, shard: _Shard, batch: Batch) -> None:
        if batch.shard_end:
            value = SHARD_END
        elif not len(batch) or _before(batch.last_sequence_number, shard.checkpointed):
            return
        else:
            value = batch.last_sequence_number
        self._coordinator.checkpoint(shard.held, value)
        shard.checkpointed = value
        if value == SHARD_END:
            self._want_shard_sync = True

    def _checkpoint_held(self, batch: Batch) -> None:
        # A lost lease's new owner reads these records again from the last checkpoint.
        with contextlib.suppress(LeaseLost):
            self.checkpoint(batch)

    def _processed(self, shard: _Shard, batch: Batch) -> None:
        """Note ``batch`` as processed; its checkpoint is written by :meth:`_flush`.

        Writing every batch's checkpoint at once would put a SQLite commit (and now and then a
        WAL checkpoint with fsync) on the reading path of every batch; deferring it costs only
        re-reading up to ``checkpoint_interval`` of records after a crash. A shard's end is
        written at once, as its children wait for it.
        """
        shard.pending = batch
        if batch.shard_end:
            self._flush()

    def _flush(self) -> None:
        self._flushed_at = self.clock.now()
        for shard in list(self._shards.values()):
            if shard.pending is not None:
                batch, shard.pending = shard.pending, None
                self._checkpoint_held(batch)

    def _caught_up(self) -> bool:
        if any(
            not s.reader.ended and s.reader.millis_behind_latest != 0 for s in self._shards.values()
        ):
            return False
        self._want_shard_sync = False
        self._sync_shards()
        taken = self._coordinator.take_leases()
        return not taken and set(self._coordinator.held()) <= set(self._shards)

    def batches(
        self,
        *,
        max_batches: int | None = None,
        max_records: int | None = None,
        duration: str | float | None = None,
        until_caught_up: bool = False,
        checkpoint: bool = True,
    ) -> Iterator[Batch]:
        """Batches from every shard this worker holds, as they arrive, until a bound is reached.

        Bounds: ``max_batches``, ``max_records`` (reads are cut to fit), ``duration`` on the
        workbench clock, ``until_caught_up`` (stop once no held shard has anything left to read),
        or :meth:`stop` from another thread. Empty reads are not handed out.

        With ``checkpoint=True`` a batch counts as processed when the loop asks for the next one,
        that is, after its body ran without an error (a ``break`` leaves the last batch
        unprocessed, so it is read again later: at least once); its checkpoint is written within
        ``checkpoint_interval``, and at once when reading goes idle or the loop ends. With
        ``checkpoint=False`` call ``batch.checkpoint()`` yourself (written at once); then the
        empty last batch of each closed shard is handed out too, so its SHARD_END can be
        checkpointed.
        """
        if self._reading:
            raise RuntimeError("this worker is already reading; stop() it first")
        self._reading = True
        self._stopping.clear()
        try:
            self._ensure_started()
            yield from self._loop(max_batches, max_records, duration, until_caught_up, checkpoint)
        finally:
            # Only batches whose loop body completed are pending, so this is right after a
            # break or an error too.
            self._flush()
            self._reading = False

    def _loop(
        self,
        max_batches: int | None,
        max_records: int | None,
        duration: str | float | None,
        until_caught_up: bool,
        auto: bool,
    ) -> Iterator[Batch]:
        deadline = None if duration is None else self.clock.now() + parse_duration(duration)
        batches = records = 0
        backoff = Backoff(self._poll_interval, self._max_poll_interval, self._stopping)

        def done() -> bool:
            return (
                self._stopping.is_set()
                or (max_batches is not None and batches >= max_batches)
                or (max_records is not None and records >= max_records)
                or (deadline is not None and self.clock.now() >= deadline)
            )

        while not done():
            if self._want_shard_sync:
                self._coordinate()
            found = behind = False
            for shard in self._reconcile():
                if done():
                    return
                room = self.limit
                if max_records is not None:
                    room = min(room or max_records, max_records - records)
                batch = shard.reader.read(room)
                if batch is None or not self._coordinator.holds(shard.held):
                    continue
                found = True
                behind = behind or batch.millis_behind_latest > 0
                batch.checkpointer = lambda b, s=shard: self._checkpoint_shard(s, b)
                if auto and not len(batch):
                    self._processed(shard, batch)
                    continue
                yield batch
                batches += 1
                records += len(batch)
                self.processed += len(batch)
                if auto:
                    self._processed(shard, batch)
            if found:
                if self.clock.now() - self._flushed_at >= self._checkpoint_interval:
                    self._flush()
                backoff.reset()
                if not behind:
                    # Caught up: a short pause lets records gather (and producers run) instead
                    # of spinning on a core; a backlog is read without pause.
                    backoff.wait()
                continue
            self._flush()  # idle: a good moment to write checkpoints
            if until_caught_up and self._caught_up():
                return
            backoff.wait()

    def run(self, handler: Callable[[Batch], object], **bounds: Any) -> int:
        """Call ``handler(batch)`` for each batch, checkpointing after each call that returns.

        Takes the bounds of :meth:`batches`; returns how many records were handled. A handler
        that raises stops the run with that batch unchecked, so it is read again next time.
        """
        handled = 0
        for batch in self.batches(checkpoint=True, **bounds):
            handler(batch)
            handled += len(batch)
        return handled

    # -- background -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a :meth:`start`-ed background run is going on."""
        return self._background is not None and self._background.is_alive()

    def start(self, handler: Callable[[Batch], object], **bounds: Any) -> ConsumerApplication:
        """Run ``handler`` on every batch in a background thread; returns at once.

        Stop it with :meth:`stop`, which also reports an error the handler raised.
        """
        if self.running:
            raise RuntimeError("this worker is running already; stop() it first")
        self._background_error = None

        def work() -> None:
            try:
                self.run(handler, **bounds)
            except BaseException as error:  # handed to the caller of stop()
                self._background_error = error

        self._background = threading.Thread(
            target=work, name=f"consumer-{self.application_name}", daemon=True
        )
        self._background.start()
        return self

    def stop(self, timeout: float = 30.0) -> int:
        """Stop reading (a background run or a loop in another thread); records handled so far.

        Raises the error a background handler stopped with, if any.
        """
        self._stopping.set()
        if self._background is not None:
            self._background.join(timeout)
            self._background = None
        error, self._background_error = self._background_error, None
        if error is not None:
            raise error
        return self.processed

    def close(self) -> None:
        """Stop reading and hand every lease over, so other workers take the shards at once."""
        try:
            self.stop()
        finally:
            self._closing.set()
            if self._maintainer is not None:
                self._maintainer.join()
                self._maintainer = None
            self._flush()
            self._coordinator.release_all()
            self._shards.clear()

    def __enter__(self) -> ConsumerApplication:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"ConsumerApplication({self.application_name!r} on {self.stream_name!r}, "
            f"worker {self.worker_id!r}, {len(self._coordinator.held())} leases held)"
        )


def _before(sequence_number: str | None, checkpoint: str) -> bool:
    """Whether a sequence number is at or before a checkpoint (compared as integers)."""
    if sequence_number is None or not checkpoint.isdigit():
        return False
    return int(sequence_number) <= int(checkpoint)


def _close_at_exit(ref: weakref.ref[ConsumerApplication]) -> None:
    app = ref()
    if app is not None and app._maintainer is not None:
        app.close()
