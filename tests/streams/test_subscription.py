"""Enhanced fan-out: RegisterStreamConsumer and friends, and SubscribeToShard's pushed events."""

import re
import threading
import time
from datetime import datetime

import pytest

from workbench import SimulatedClock, Workbench
from workbench.errors import (
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)


@pytest.fixture
def clock():
    return SimulatedClock(start="2026-01-01T00:00:00Z")


@pytest.fixture
def make_stream(tmp_path, clock):
    """make_stream(shards) -> (streams service, stream) on a fresh home."""

    def make(shards=1, name="retail-trans"):
        wb = Workbench(home=tmp_path / "home", clock=clock)
        return wb.streams, wb.streams.create_stream(name, shards)

    return make


def test_register_gives_a_consumer_arn_of_the_documented_shape(make_stream):
    streams, stream = make_stream()
    consumer = streams.register_stream_consumer(stream.arn, "fan-out")["Consumer"]
    assert consumer["ConsumerName"] == "fan-out"
    assert consumer["ConsumerStatus"] == "ACTIVE"
    assert isinstance(consumer["ConsumerCreationTimestamp"], datetime)
    assert re.fullmatch(
        r"arn:aws:kinesis:[a-z0-9-]+:\d{12}:stream/retail-trans/consumer/fan-out:\d+",
        consumer["ConsumerARN"],
    )
    assert consumer["ConsumerARN"].endswith(
        f":{int(consumer['ConsumerCreationTimestamp'].timestamp())}"
    )


def test_describe_list_and_deregister(make_stream, clock):
    streams, stream = make_stream()
    a = streams.register_stream_consumer(stream.arn, "a")["Consumer"]
    clock.advance("1s")
    b = streams.register_stream_consumer(stream.arn, "b")["Consumer"]
    by_arn = streams.describe_stream_consumer(consumer_arn=a["ConsumerARN"])
    by_name = streams.describe_stream_consumer(stream_arn=stream.arn, consumer_name="a")
    assert by_arn == by_name
    assert by_arn["ConsumerDescription"] == {**a, "StreamARN": stream.arn}
    listed = streams.list_stream_consumers(stream.arn)["Consumers"]
    assert [c["ConsumerName"] for c in listed] == ["a", "b"]
    streams.deregister_stream_consumer(consumer_arn=b["ConsumerARN"])
    streams.deregister_stream_consumer(stream_arn=stream.arn, consumer_name="a")
    assert streams.list_stream_consumers(stream.arn)["Consumers"] == []
    with pytest.raises(ResourceNotFoundException):
        streams.describe_stream_consumer(consumer_arn=a["ConsumerARN"])


def test_a_name_is_unique_on_its_stream_and_a_stream_has_at_most_20(make_stream):
    streams, stream = make_stream()
    for i in range(20):
        streams.register_stream_consumer(stream.arn, f"c{i}")
    with pytest.raises(ResourceInUseException, match="c3"):
        streams.register_stream_consumer(stream.arn, "c3")
    with pytest.raises(LimitExceededException, match="at most 20"):
        streams.register_stream_consumer(stream.arn, "one-too-many")
    assert len(streams.list_stream_consumers(stream.arn)["Consumers"]) == 20


def test_consumers_of_other_streams_do_not_count(make_stream):
    streams, stream = make_stream()
    other = streams.create_stream("clicks", 1)
    streams.register_stream_consumer(stream.arn, "same-name")
    streams.register_stream_consumer(other.arn, "same-name")
    assert len(streams.list_stream_consumers(other.arn)["Consumers"]) == 1


@pytest.mark.parametrize("name", ["", "a/b", "..x/", "x" * 129, "with space"])
def test_bad_consumer_names_are_refused(make_stream, name):
    streams, stream = make_stream()
    with pytest.raises(ValidationException):
        streams.register_stream_consumer(stream.arn, name)


def test_unknown_streams_and_consumers_are_not_found(make_stream):
    streams, stream = make_stream()
    with pytest.raises(ResourceNotFoundException):
        streams.register_stream_consumer(stream.arn.replace("retail-trans", "nope"), "c")
    with pytest.raises(ResourceNotFoundException):
        streams.describe_stream_consumer(consumer_arn=f"{stream.arn}/consumer/ghost:1767225600")
    with pytest.raises(ValidationException):
        streams.describe_stream_consumer(consumer_arn="not-an-arn")


def test_a_stream_with_consumers_is_deleted_only_when_enforced(make_stream):
    streams, stream = make_stream()
    streams.register_stream_consumer(stream.arn, "c")
    with pytest.raises(ResourceInUseException):
        streams.delete_stream("retail-trans")
    streams.delete_stream("retail-trans", enforce_consumer_deletion=True)
    again = streams.create_stream("retail-trans", 1)
    assert streams.list_stream_consumers(again.arn)["Consumers"] == []


def subscribe(streams, stream, position=None, shard="shardId-000000000000", name="fan-out"):
    arn = streams.register_stream_consumer(stream.arn, name)["Consumer"]["ConsumerARN"]
    return arn, streams.subscribe_to_shard(arn, shard, position or {"Type": "LATEST"})


def test_records_are_pushed_as_they_arrive(tmp_path):
    # Wall time here: the point is how soon an event follows a put from another thread.
    wb = Workbench(home=tmp_path / "home")
    stream = wb.streams.create_stream("s", 1)
    _, subscription = subscribe(wb.streams, stream)
    put_at = {}

    def produce():
        for i in range(20):
            time.sleep(0.02)
            put_at[f"r{i}".encode()] = time.perf_counter()
            stream.put_record(f"r{i}".encode(), "k")

    producer = threading.Thread(target=produce)
    producer.start()
    got, delays = [], []
    for event in subscription:
        records = event["SubscribeToShardEvent"]["Records"]
        delays += [time.perf_counter() - put_at[r["Data"]] for r in records]
        got += [r["Data"] for r in records]
        last = event["SubscribeToShardEvent"]
        assert last["ContinuationSequenceNumber"] == records[-1]["SequenceNumber"]
        assert last["MillisBehindLatest"] >= 0
        if len(got) == 20:
            subscription.close()
    producer.join()
    assert got == [f"r{i}".encode() for i in range(20)]
    assert sorted(delays)[len(delays) // 2] < 0.25  # prompt, with room for a loaded machine


def test_starting_positions(make_stream):
    streams, stream = make_stream()
    first = stream.put_record(b"0", "k")["SequenceNumber"]
    stream.put_record(b"1", "k")
    cases = [
        ({"Type": "TRIM_HORIZON"}, [b"0", b"1"]),
        ({"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": first}, [b"0", b"1"]),
        ({"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": first}, [b"1"]),
        ({"Type": "AT_TIMESTAMP", "Timestamp": "2026-01-01T00:00:00Z"}, [b"0", b"1"]),
    ]
    for i, (position, expected) in enumerate(cases):
        _, subscription = subscribe(streams, stream, position, name=f"c{i}")
        event = next(iter(subscription))["SubscribeToShardEvent"]
        assert [r["Data"] for r in event["Records"]] == expected
    with pytest.raises(ValidationException):
        subscribe(streams, stream, {"Type": "SOMEWHERE"}, name="bad")


def test_a_second_subscription_within_5_seconds_is_refused(make_stream, clock):
    streams, stream = make_stream()
    arn, _ = subscribe(streams, stream)
    with pytest.raises(ResourceInUseException):
        streams.subscribe_to_shard(arn, "shardId-000000000000", {"Type": "LATEST"})
    clock.advance("5s")
    streams.subscribe_to_shard(arn, "shardId-000000000000", {"Type": "LATEST"})


def test_a_subscription_ends_after_5_minutes(make_stream, clock):
    streams, stream = make_stream()
    stream.put_record(b"0", "k")
    _, subscription = subscribe(streams, stream, {"Type": "TRIM_HORIZON"})
    events = iter(subscription)
    assert next(events)["SubscribeToShardEvent"]["Records"]
    clock.advance("300s")
    stream.put_record(b"1", "k")
    assert list(events) == []


def test_a_subscription_ends_with_the_child_shards_of_a_closed_shard(make_stream):
    streams, stream = make_stream()
    stream.put_record(b"0", "k")
    stream.split_shard("shardId-000000000000", str(2**127))
    _, subscription = subscribe(streams, stream, {"Type": "TRIM_HORIZON"})
    events = [e["SubscribeToShardEvent"] for e in subscription]
    assert [r["Data"] for e in events for r in e["Records"]] == [b"0"]
    assert events[-1]["ContinuationSequenceNumber"] is None
    assert [c["ShardId"] for c in events[-1]["ChildShards"]] == [
        "shardId-000000000001",
        "shardId-000000000002",
    ]


def test_deregistering_ends_its_subscriptions(make_stream):
    streams, stream = make_stream()
    arn, subscription = subscribe(streams, stream)
    streams.deregister_stream_consumer(consumer_arn=arn)
    assert list(subscription) == []


def test_unknown_shard_is_not_found(make_stream):
    streams, stream = make_stream()
    with pytest.raises(ResourceNotFoundException):
        subscribe(streams, stream, shard="shardId-000000000009")
