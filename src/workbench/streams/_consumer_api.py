"""The consumer side of ``wb.streams``: consumer applications and enhanced fan-out.

:class:`Streams` takes these methods from :class:`ConsumerAPI`; they need only its ``clock`` and
``stream(name_or_arn)``.

>>> import tempfile
>>> from workbench import SimulatedClock, Workbench
>>> wb = Workbench(home=tempfile.mkdtemp(), clock=SimulatedClock(start="2026-01-01"))
>>> stream = wb.streams.create_stream("retail-trans", shard_count=2)
>>> _ = stream.put_record(b'{"Invoice": 1}', "k")
>>> with wb.streams.consumer("retail-trans", "dashboard") as app:
...     [len(batch) for batch in app.batches(until_caught_up=True)]
[1]
>>> arn = wb.streams.register_stream_consumer(stream.arn, "fan-out")["Consumer"]["ConsumerARN"]
>>> arn
'arn:aws:kinesis:us-east-1:000000000000:stream/retail-trans/consumer/fan-out:1767225600'
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from workbench.clock import Clock, parse_instant
from workbench.errors import InvalidArgumentException
from workbench.streams._consumer import ConsumerApplication
from workbench.streams._reader import ShardReader
from workbench.streams._subscription import (
    CONSUMER_ARN,
    ConsumerRegistry,
    Subscription,
)
from workbench.streams._validation import check_stream_name, invalid

if TYPE_CHECKING:
    from workbench.streams._stream import Stream

STARTING_POSITIONS = (
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
    "LATEST",
    "AT_TIMESTAMP",
)


class ConsumerAPI:
    """Consumer applications (the KCL's job) and registered consumers (enhanced fan-out)."""

    clock: Clock

    def stream(self, name: str) -> Stream:  # provided by Streams
        raise NotImplementedError

    def consumer(
        self,
        stream_name: str,
        application_name: str,
        *,
        initial_position: str = "TRIM_HORIZON",
        timestamp: str | float | datetime | None = None,
        **options: Any,
    ) -> ConsumerApplication:
        """A worker of the consumer application ``application_name`` reading ``stream_name``.

        The application's lease table lives with the stream (``applications/<name>.sqlite``);
        every worker process that names the same application shares it. Options:
        ``worker_id``, ``lease_timeout`` (default 10 s), ``max_leases``, ``format``
        ("records" or "arrow"), ``limit``, ``poll_interval``, ``max_poll_interval``; see
        :class:`ConsumerApplication`.
        """
        stream = self.stream(stream_name)
        return ConsumerApplication(
            stream,
            application_name,
            directory=stream.folder / "applications",
            clock=self.clock,
            initial_position=initial_position,
            timestamp=timestamp,
            **options,
        )

    def _registry(self, stream_arn: str) -> ConsumerRegistry:
        stream = self.stream(stream_arn)
        return ConsumerRegistry(stream.folder / "consumers", stream.arn)

    def _consumer(
        self, stream_arn: str | None, consumer_name: str | None, consumer_arn: str | None
    ) -> tuple[ConsumerRegistry, str, str | None]:
        if consumer_arn is not None:
            if stream_arn is not None or consumer_name is not None:
                raise InvalidArgumentException(
                    "Give either ConsumerARN, or StreamARN with ConsumerName, not both."
                )
            match = CONSUMER_ARN.fullmatch(consumer_arn) if isinstance(consumer_arn, str) else None
            if match is None:
                raise invalid(
                    consumer_arn,
                    "consumerARN",
                    "satisfy regular expression pattern: "
                    "arn:aws:kinesis:<region>:<account>:stream/<name>/consumer/<name>:<seconds>",
                )
            return self._registry(match.group(1)), match.group(2), consumer_arn
        if stream_arn is None or consumer_name is None:
            raise InvalidArgumentException(
                "Give ConsumerARN, or StreamARN with ConsumerName, to name a consumer."
            )
        name = check_stream_name(consumer_name, "consumerName")
        return self._registry(stream_arn), name, None

    def register_stream_consumer(self, stream_arn: str, consumer_name: str) -> dict[str, Any]:
        """RegisterStreamConsumer: a consumer for enhanced fan-out, with its ConsumerARN.

        At most 20 per stream (LimitExceededException); a name in use gives
        ResourceInUseException.
        """
        name = check_stream_name(consumer_name, "consumerName")
        registry = self._registry(stream_arn)
        return {"Consumer": registry.register(name, self.clock.now())}

    def describe_stream_consumer(
        self,
        stream_arn: str | None = None,
        consumer_name: str | None = None,
        consumer_arn: str | None = None,
    ) -> dict[str, Any]:
        """DescribeStreamConsumer, by ConsumerARN or by StreamARN and ConsumerName."""
        registry, name, arn = self._consumer(stream_arn, consumer_name, consumer_arn)
        return {"ConsumerDescription": registry.describe(name, arn)}

    def list_stream_consumers(self, stream_arn: str) -> dict[str, Any]:
        """ListStreamConsumers: the consumers registered on a stream, oldest first."""
        return {"Consumers": self._registry(stream_arn).list()}

    def deregister_stream_consumer(
        self,
        stream_arn: str | None = None,
        consumer_name: str | None = None,
        consumer_arn: str | None = None,
    ) -> None:
        """DeregisterStreamConsumer; the consumer's subscriptions end at their next read."""
        registry, name, arn = self._consumer(stream_arn, consumer_name, consumer_arn)
        registry.deregister(name, arn)

    def subscribe_to_shard(
        self,
        consumer_arn: str,
        shard_id: str,
        starting_position: dict[str, Any],
        *,
        poll_interval: float = 0.001,
        max_poll_interval: float = 0.02,
    ) -> Subscription:
        """SubscribeToShard: the shard's records pushed as events as they arrive, for 5 minutes.

        ``starting_position`` is ``{"Type": ..., "SequenceNumber"?: ..., "Timestamp"?: ...}``.
        Subscribing the same consumer to the same shard again within 5 seconds gives
        ResourceInUseException, as on AWS.
        """
        registry, name, arn = self._consumer(None, None, consumer_arn)
        registry.entry(name, arn)
        kind = starting_position.get("Type") if isinstance(starting_position, dict) else None
        if kind not in STARTING_POSITIONS:
            raise invalid(
                kind,
                "startingPosition.type",
                f"satisfy enum value set: [{', '.join(STARTING_POSITIONS)}]",
            )
        timestamp = starting_position.get("Timestamp")
        reader = ShardReader(
            self.stream(registry.stream_arn),
            shard_id,
            kind,
            sequence_number=starting_position.get("SequenceNumber"),
            timestamp=parse_instant(timestamp) if timestamp is not None else None,
        )
        # The first iterator now, so a bad shard or position fails this call, not the first read.
        reader.prime()
        registry.start_subscription(name, consumer_arn, shard_id, self.clock.now())
        return Subscription(
            registry,
            name,
            consumer_arn,
            reader,
            self.clock,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
        )
