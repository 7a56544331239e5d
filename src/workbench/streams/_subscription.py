"""Enhanced fan-out: registered stream consumers and SubscribeToShard's push of new records.

A registered consumer (RegisterStreamConsumer) has a name unique on its stream and an ARN
``<stream arn>/consumer/<name>:<epoch seconds>``; a stream has at most 20. Each is a small JSON
file in the stream's ``consumers/`` folder, written atomically under the folder's lock, so every
process of the home sees the same consumers, a check-then-create cannot race, and deleting the
stream deletes its consumers with it.

A :class:`Subscription` is what SubscribeToShard returns: an iterator of events shaped as boto3's
event stream yields them, ``{"SubscribeToShardEvent": {"Records", "ContinuationSequenceNumber",
"MillisBehindLatest", "ChildShards"?}}``, one as soon as new records are in the shard. Like AWS's
it lasts at most 5 minutes (workbench clock); resubscribe from ``ContinuationSequenceNumber``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench._files import atomic_write_json, locked, read_json
from workbench.clock import Clock
from workbench.errors import (
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from workbench.streams._reader import Backoff, ShardReader

MAX_CONSUMERS_PER_STREAM = 20
SUBSCRIPTION_LIFETIME_S = 300.0
RESUBSCRIBE_AFTER_S = 5.0
CONSUMER_ARN = re.compile(
    r"(arn:aws:kinesis:[a-z0-9-]+:\d{12}:stream/[a-zA-Z0-9_.-]+)/consumer/([a-zA-Z0-9_.-]+):\d+"
)


class ConsumerRegistry:
    """The enhanced fan-out consumers of one stream, a JSON file each in ``folder``."""

    def __init__(self, folder: Path, stream_arn: str) -> None:
        self.folder = folder
        self.stream_arn = stream_arn

    def _file(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def _locked(self):
        self.folder.mkdir(exist_ok=True)
        return locked(self.folder / ".lock")

    def _describe(self, entry: dict[str, Any], *, with_stream: bool) -> dict[str, Any]:
        out = {
            "ConsumerName": entry["ConsumerName"],
            "ConsumerARN": entry["ConsumerARN"],
            "ConsumerStatus": "ACTIVE",
            "ConsumerCreationTimestamp": datetime.fromtimestamp(entry["Created"], UTC),
        }
        if with_stream:
            out["StreamARN"] = self.stream_arn
        return out

    def _entries(self) -> list[dict[str, Any]]:
        try:
            files = sorted(p for p in self.folder.iterdir() if p.suffix == ".json")
        except FileNotFoundError:
            return []
        return [e for e in (read_json(p) for p in files) if e is not None]

    def register(self, name: str, now: float) -> dict[str, Any]:
        created = int(now)
        entry = {
            "ConsumerName": name,
            "ConsumerARN": f"{self.stream_arn}/consumer/{name}:{created}",
            "Created": created,
        }
        with self._locked():
            if self._file(name).exists():
                raise ResourceInUseException(
                    f"Consumer {name} under stream {self.stream_arn} already exists."
                )
            count = len(self._entries())
            if count >= MAX_CONSUMERS_PER_STREAM:
                raise LimitExceededException(
                    f"Stream {self.stream_arn} has {count} registered consumers already; a "
                    f"stream can have at most {MAX_CONSUMERS_PER_STREAM}. Deregister one first."
                )
            atomic_write_json(self._file(name), entry)
        return self._describe(entry, with_stream=False)

    def entry(self, name: str, arn: str | None = None) -> dict[str, Any]:
        """The consumer called ``name`` (whose ARN is ``arn``, when given)."""
        entry = read_json(self._file(name))
        if not isinstance(entry, dict) or (arn is not None and entry["ConsumerARN"] != arn):
            raise ResourceNotFoundException(
                f"Consumer {arn or name} under stream {self.stream_arn} not found."
            )
        return entry

    def describe(self, name: str, arn: str | None = None) -> dict[str, Any]:
        return self._describe(self.entry(name, arn), with_stream=True)

    def list(self) -> list[dict[str, Any]]:
        entries = sorted(self._entries(), key=lambda e: (e["Created"], e["ConsumerName"]))
        return [self._describe(e, with_stream=False) for e in entries]

    def deregister(self, name: str, arn: str | None = None) -> None:
        with self._locked():
            self.entry(name, arn)
            self._file(name).unlink()
            self._subscriptions_file(name).unlink(missing_ok=True)

    def _subscriptions_file(self, name: str) -> Path:
        # Not ``.json``: the folder's ``*.json`` files are the consumers themselves.
        return self.folder / f"{name}.subscriptions"

    def start_subscription(self, name: str, arn: str, shard_id: str, now: float) -> None:
        """Note a new subscription; refused within 5 s of the last one to the same shard."""
        with self._locked():
            self.entry(name, arn)
            path = self._subscriptions_file(name)
            started = read_json(path, {})
            if now - started.get(shard_id, float("-inf")) < RESUBSCRIBE_AFTER_S:
                raise ResourceInUseException(
                    f"Another active subscription exists for consumer {arn} and shard "
                    f"{shard_id}; subscribe again {RESUBSCRIBE_AFTER_S:g} seconds after the "
                    "previous call."
                )
            atomic_write_json(path, {**started, shard_id: now}, fsync=False)

    def registered(self, name: str, arn: str) -> bool:
        entry = read_json(self._file(name))
        return isinstance(entry, dict) and entry["ConsumerARN"] == arn


class Subscription:
    """The event stream of one SubscribeToShard call: iterate it for events as records arrive.

    Ends after 5 minutes on the workbench clock, after the event that carries ChildShards (the
    shard is closed and read to its end), when the consumer is deregistered, or on :meth:`close`.
    """

    def __init__(
        self,
        registry: ConsumerRegistry,
        consumer_name: str,
        consumer_arn: str,
        reader: ShardReader,
        clock: Clock,
        *,
        poll_interval: float,
        max_poll_interval: float,
    ) -> None:
        self.consumer_arn = consumer_arn
        self.shard_id = reader.shard_id
        self._registry = registry
        self._consumer_name = consumer_name
        self._reader = reader
        self._clock = clock
        self._ends_at = clock.now() + SUBSCRIPTION_LIFETIME_S
        self._closed = threading.Event()
        self._backoff = Backoff(poll_interval, max_poll_interval, self._closed)
        self.continuation_sequence_number: str | None = None

    def close(self) -> None:
        """End the subscription; an iteration in progress stops at its next wait."""
        self._closed.set()

    def _open(self) -> bool:
        return (
            not self._closed.is_set()
            and self._clock.now() < self._ends_at
            and self._registry.registered(self._consumer_name, self.consumer_arn)
        )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while self._open():
            batch = self._reader.read()
            if batch is None:
                self._backoff.wait()
                continue
            self._backoff.reset()
            if batch.last_sequence_number is not None:
                self.continuation_sequence_number = batch.last_sequence_number
            event: dict[str, Any] = {
                "Records": batch.records,
                "ContinuationSequenceNumber": (
                    None if batch.shard_end else self.continuation_sequence_number
                ),
                "MillisBehindLatest": batch.millis_behind_latest,
            }
            if batch.shard_end:
                event["ChildShards"] = batch.child_shards
            yield {"SubscribeToShardEvent": event}
            if batch.shard_end:
                return

    def __repr__(self) -> str:
        return f"Subscription({self.consumer_arn}, {self.shard_id})"
