"""Enhanced fan-out: registered stream consumers and SubscribeToShard's push of new records.

A registered consumer (RegisterStreamConsumer) has a name unique on its stream and an ARN
``<stream arn>/consumer/<name>:<epoch seconds>``; a stream has at most 20. The registry is a SQLite
file in the home, for the reasons the lease table is (see ``_leases``): several processes
register, list and subscribe at once, and a uniqueness or count check must hold across them.

``subscribe_to_shard`` returns a :class:`Subscription`: an iterator of events shaped as boto3's
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

from workbench.clock import Clock, parse_instant
from workbench.errors import (
    InvalidArgumentException,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from workbench.streams._reader import ShardReader
from workbench.streams._sqlite import Database

MAX_CONSUMERS_PER_STREAM = 20
SUBSCRIPTION_LIFETIME_S = 300.0
RESUBSCRIBE_AFTER_S = 5.0
STARTING_POSITIONS = (
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
    "LATEST",
    "AT_TIMESTAMP",
)
_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
_STREAM_ARN = re.compile(r"arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream/([a-zA-Z0-9_.-]{1,128})")
_CONSUMER_ARN = re.compile(rf"({_STREAM_ARN.pattern})/consumer/([a-zA-Z0-9_.-]{{1,128}}):(\d+)")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS consumers (
    stream_arn TEXT NOT NULL,
    consumer_name TEXT NOT NULL,
    consumer_arn TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    PRIMARY KEY (stream_arn, consumer_name)
);
CREATE TABLE IF NOT EXISTS subscriptions (
    consumer_arn TEXT NOT NULL,
    shard_id TEXT NOT NULL,
    started REAL NOT NULL,
    PRIMARY KEY (consumer_arn, shard_id)
);
"""


def _description(row: tuple, *, with_stream: bool) -> dict[str, Any]:
    stream_arn, name, arn, created = row
    out = {
        "ConsumerName": name,
        "ConsumerARN": arn,
        "ConsumerStatus": "ACTIVE",
        "ConsumerCreationTimestamp": datetime.fromtimestamp(created, UTC),
    }
    if with_stream:
        out["StreamARN"] = stream_arn
    return out


class StreamConsumers:
    """The enhanced fan-out consumers registered on the streams of one home.

    ``streams`` is the streams service: ``stream(name)`` and ``describe_stream_summary(name)``.
    """

    def __init__(self, path: Path, streams: Any, clock: Clock) -> None:
        self._streams = streams
        self._clock = clock
        self._db = Database(path, _SCHEMA)

    def _stream_name(self, stream_arn: object) -> str:
        """The name of the existing stream ``stream_arn`` points at."""
        match = _STREAM_ARN.fullmatch(stream_arn) if isinstance(stream_arn, str) else None
        if match is None:
            raise InvalidArgumentException(
                f"StreamARN {stream_arn!r} is not valid: expected "
                "arn:aws:kinesis:<region>:<12 digits>:stream/<stream name>."
            )
        name = match.group(1)
        summary = self._streams.describe_stream_summary(name)["StreamDescriptionSummary"]
        if summary["StreamARN"] != stream_arn:
            raise ResourceNotFoundException(f"Stream {stream_arn} not found.")
        return name

    def _row(self, stream_arn: str | None, name: str | None, arn: str | None) -> tuple:
        if arn is not None:
            if stream_arn is not None or name is not None:
                raise InvalidArgumentException(
                    "Give either ConsumerARN, or StreamARN with ConsumerName, not both."
                )
            if not isinstance(arn, str) or not _CONSUMER_ARN.fullmatch(arn):
                raise InvalidArgumentException(
                    f"ConsumerARN {arn!r} is not valid: expected <stream arn>/consumer/<name>:"
                    "<epoch seconds>."
                )
            sql, params = "SELECT * FROM consumers WHERE consumer_arn = ?", (arn,)
        elif stream_arn is not None and name is not None:
            self._stream_name(stream_arn)
            sql = "SELECT * FROM consumers WHERE stream_arn = ? AND consumer_name = ?"
            params = (stream_arn, name)
        else:
            raise InvalidArgumentException(
                "Give ConsumerARN, or StreamARN with ConsumerName, to name a consumer."
            )
        row = self._db.one(sql, params)
        if row is None:
            raise ResourceNotFoundException(
                f"Consumer {arn or name} under stream {stream_arn or ''} not found.".replace(
                    " under stream  ", " "
                )
            )
        return row

    def register_stream_consumer(self, stream_arn: str, consumer_name: str) -> dict[str, Any]:
        """RegisterStreamConsumer: a new consumer of a stream, with its ARN."""
        if not isinstance(consumer_name, str) or not _NAME.fullmatch(consumer_name):
            raise InvalidArgumentException(
                f"ConsumerName {consumer_name!r} is not valid: use 1 to 128 characters from "
                "a-z, A-Z, 0-9, '_', '.' and '-'."
            )
        self._stream_name(stream_arn)
        created = float(int(self._clock.now()))
        arn = f"{stream_arn}/consumer/{consumer_name}:{int(created)}"
        with self._db.transaction() as sql:
            count, taken = sql.execute(
                "SELECT count(*), coalesce(sum(consumer_name = ?), 0) FROM consumers "
                "WHERE stream_arn = ?",
                (consumer_name, stream_arn),
            ).fetchone()
            if taken:
                raise ResourceInUseException(
                    f"Consumer {consumer_name} under stream {stream_arn} already exists."
                )
            if count >= MAX_CONSUMERS_PER_STREAM:
                raise LimitExceededException(
                    f"Stream {stream_arn} has {count} registered consumers already; a stream "
                    f"can have at most {MAX_CONSUMERS_PER_STREAM}. Deregister one first."
                )
            sql.execute(
                "INSERT INTO consumers VALUES (?, ?, ?, ?)",
                (stream_arn, consumer_name, arn, created),
            )
        return {
            "Consumer": _description((stream_arn, consumer_name, arn, created), with_stream=False)
        }

    def describe_stream_consumer(
        self,
        stream_arn: str | None = None,
        consumer_name: str | None = None,
        consumer_arn: str | None = None,
    ) -> dict[str, Any]:
        """DescribeStreamConsumer, by ConsumerARN or by StreamARN and ConsumerName."""
        row = self._row(stream_arn, consumer_name, consumer_arn)
        return {"ConsumerDescription": _description(row, with_stream=True)}

    def list_stream_consumers(self, stream_arn: str) -> dict[str, Any]:
        """ListStreamConsumers: every consumer registered on a stream, oldest first."""
        self._stream_name(stream_arn)
        rows = self._db.all(
            "SELECT * FROM consumers WHERE stream_arn = ? ORDER BY created, consumer_name",
            (stream_arn,),
        )
        return {"Consumers": [_description(row, with_stream=False) for row in rows]}

    def deregister_stream_consumer(
        self,
        stream_arn: str | None = None,
        consumer_name: str | None = None,
        consumer_arn: str | None = None,
    ) -> None:
        """DeregisterStreamConsumer; its subscriptions end at their next read."""
        arn = self._row(stream_arn, consumer_name, consumer_arn)[2]
        with self._db.transaction() as sql:
            sql.execute("DELETE FROM consumers WHERE consumer_arn = ?", (arn,))
            sql.execute("DELETE FROM subscriptions WHERE consumer_arn = ?", (arn,))

    def forget_stream(self, stream_arn: str) -> int:
        """Deregister every consumer of a deleted stream; how many there were."""
        return self._db.change("DELETE FROM consumers WHERE stream_arn = ?", (stream_arn,))

    def _registered(self, consumer_arn: str) -> bool:
        return (
            self._db.one("SELECT 1 FROM consumers WHERE consumer_arn = ?", (consumer_arn,))
            is not None
        )

    def subscribe_to_shard(
        self,
        consumer_arn: str,
        shard_id: str,
        starting_position: dict[str, Any],
        *,
        poll_interval: float = 0.001,
        max_poll_interval: float = 0.02,
    ) -> Subscription:
        """SubscribeToShard: new records of one shard pushed as events, for up to 5 minutes.

        ``starting_position`` is ``{"Type": ..., "SequenceNumber"?: ..., "Timestamp"?: ...}`` as
        in the API. A second subscription of the same consumer to the same shard within 5
        seconds is refused with ResourceInUseException, as on AWS.
        """
        stream_arn = self._row(None, None, consumer_arn)[0]
        stream = self._streams.stream(self._stream_name(stream_arn))
        if not isinstance(starting_position, dict) or starting_position.get("Type") not in (
            STARTING_POSITIONS
        ):
            raise InvalidArgumentException(
                f"StartingPosition {starting_position!r} is not valid: give a Type among "
                f"{', '.join(STARTING_POSITIONS)}."
            )
        timestamp = starting_position.get("Timestamp")
        reader = ShardReader(
            stream,
            shard_id,
            starting_position["Type"],
            sequence_number=starting_position.get("SequenceNumber"),
            timestamp=parse_instant(timestamp) if timestamp is not None else None,
        )
        # Issue the iterator now, so a bad shard or position fails the call, not the first read.
        reader.prime()
        now = self._clock.now()
        with self._db.transaction() as sql:
            row = sql.execute(
                "SELECT started FROM subscriptions WHERE consumer_arn = ? AND shard_id = ?",
                (consumer_arn, shard_id),
            ).fetchone()
            if row is not None and now - row[0] < RESUBSCRIBE_AFTER_S:
                raise ResourceInUseException(
                    f"Another active subscription exists for consumer {consumer_arn} and "
                    f"shard {shard_id}; subscribe again {RESUBSCRIBE_AFTER_S:g} seconds "
                    "after the previous call."
                )
            sql.execute(
                "INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?)",
                (consumer_arn, shard_id, now),
            )
        return Subscription(
            self,
            consumer_arn,
            reader,
            self._clock,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
        )


class Subscription:
    """The event stream of one SubscribeToShard call: iterate it for events as records arrive.

    Ends after 5 minutes on the workbench clock, after the event that carries ChildShards (the
    shard is closed and read to its end), when the consumer is deregistered, or on :meth:`close`.
    """

    def __init__(
        self,
        registry: StreamConsumers,
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
        self._reader = reader
        self._clock = clock
        self._ends_at = clock.now() + SUBSCRIPTION_LIFETIME_S
        self._poll = (poll_interval, max_poll_interval)
        self._closed = threading.Event()
        self.continuation_sequence_number: str | None = None

    def close(self) -> None:
        """End the subscription; an iteration in progress stops at its next wait."""
        self._closed.set()

    def _open(self) -> bool:
        return (
            not self._closed.is_set()
            and self._clock.now() < self._ends_at
            and self._registry._registered(self.consumer_arn)
        )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        wait, most = self._poll
        while self._open():
            batch = self._reader.read()
            if batch is None:
                # Real time: records arrive from other processes in real time (see _consumer).
                self._closed.wait(wait)
                wait = min(wait * 2, most)
                continue
            wait = self._poll[0]
            if batch.last_sequence_number is not None:
                self.continuation_sequence_number = batch.last_sequence_number
            event: dict[str, Any] = {
                "Records": batch.records,
                "ContinuationSequenceNumber": None
                if batch.shard_end
                else self.continuation_sequence_number,
                "MillisBehindLatest": batch.millis_behind_latest,
            }
            if batch.shard_end:
                event["ChildShards"] = batch.child_shards
            yield {"SubscribeToShardEvent": event}
            if batch.shard_end:
                return

    def __repr__(self) -> str:
        return f"Subscription({self.consumer_arn}, {self.shard_id})"
