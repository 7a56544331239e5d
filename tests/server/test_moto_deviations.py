"""Where moto's server departs from the reference (kinesis-data-streams.md, "What the emulators
get wrong"): each test shows the reference behaviour on this endpoint and moto's on moto, so a
moto upgrade that fixes one makes its test fail and the note can go."""

from __future__ import annotations

import base64

import pytest
from _raw import client_factory
from botocore.exceptions import ClientError

from workbench import SimulatedClock, Workbench

TOP = 2**128 - 1


@pytest.fixture
def ours(make_endpoint, tmp_path):
    clock = SimulatedClock(start="2026-01-01T00:00:00Z")
    endpoint = make_endpoint(Workbench(home=tmp_path / "sim", clock=clock))
    return client_factory(endpoint.url), clock


@pytest.fixture
def moto(moto_url):
    return client_factory(moto_url)


def _stream(kinesis, name, shards=1):
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return name


def _error(call, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value


def _iterator(kinesis, name, shard="shardId-000000000000", kind="TRIM_HORIZON", **extra):
    return kinesis.get_shard_iterator(
        StreamName=name, ShardId=shard, ShardIteratorType=kind, **extra
    )["ShardIterator"]


def test_sequence_numbers_are_long_decimals_not_1_2_3(ours, moto, unique):
    kinesis, _ = ours
    for client in (kinesis, moto):
        _stream(client, name := unique())
        seqs = [
            client.put_record(StreamName=name, Data=b"x", PartitionKey="k")["SequenceNumber"]
            for _ in range(3)
        ]
        assert [int(s) for s in seqs] == sorted(int(s) for s in seqs)
        if client is moto:
            assert seqs == ["1", "2", "3"]
        else:
            assert all(len(s) >= 20 for s in seqs)


def test_iterators_expire_after_300_s_but_moto_s_never_do(ours, moto, unique):
    kinesis, clock = ours
    iterator = _iterator(kinesis, _stream(kinesis, unique()))
    clock.advance("301s")
    error = _error(kinesis.get_records, ShardIterator=iterator)
    assert error.response["Error"]["Code"] == "ExpiredIteratorException"
    # moto's iterator is base64 of "stream:shard:sequence", with no issue time to expire by.
    moto_iterator = _iterator(moto, name := _stream(moto, unique()))
    assert base64.b64decode(moto_iterator).decode().split(":")[0] == name


def test_the_top_hash_key_belongs_to_the_last_shard(ours, moto, unique):
    """EndingHashKey is inclusive; moto treats it as exclusive and fails on 2^128-1."""
    kinesis, _ = ours
    name = _stream(kinesis, unique(), shards=2)
    put = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k", ExplicitHashKey=str(TOP))
    assert put["ShardId"] == "shardId-000000000001"
    name = _stream(moto, unique(), shards=2)
    error = _error(
        moto.put_record, StreamName=name, Data=b"x", PartitionKey="k", ExplicitHashKey=str(TOP)
    )
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_a_sequence_iterator_without_a_sequence_number_is_an_invalid_argument(ours, moto, unique):
    kinesis, _ = ours
    error = _error(
        kinesis.get_shard_iterator,
        StreamName=_stream(kinesis, unique()),
        ShardId="shardId-000000000000",
        ShardIteratorType="AT_SEQUENCE_NUMBER",
    )
    assert error.response["Error"]["Code"] == "InvalidArgumentException"
    error = _error(
        moto.get_shard_iterator,
        StreamName=_stream(moto, unique()),
        ShardId="shardId-000000000000",
        ShardIteratorType="AT_SEQUENCE_NUMBER",
    )
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_a_closed_shard_read_to_its_end_names_its_children(ours, moto, unique):
    """The reference: ChildShards and a null NextShardIterator; moto never ends a closed shard."""
    kinesis, _ = ours
    for client in (kinesis, moto):
        name = _stream(client, unique())
        client.put_records(
            StreamName=name, Records=[{"Data": b"x", "PartitionKey": f"k{i}"} for i in range(10)]
        )
        client.split_shard(
            StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127)
        )
        iterator, records, answer = _iterator(client, name), 0, {}
        for _ in range(5):
            answer = client.get_records(ShardIterator=iterator)
            records += len(answer["Records"])
            iterator = answer.get("NextShardIterator")
            if iterator is None:
                break
        assert records == 10
        if client is moto:
            assert iterator is not None and "ChildShards" not in answer
        else:
            assert iterator is None
            children = sorted(child["ShardId"] for child in answer["ChildShards"])
            assert children == ["shardId-000000000001", "shardId-000000000002"]


def test_list_shards_next_token_pages_but_moto_refuses_its_own_token(ours, moto, unique):
    kinesis, _ = ours
    name = _stream(kinesis, unique(), shards=5)
    page = kinesis.list_shards(StreamName=name, MaxResults=2)
    ids = [s["ShardId"] for s in page["Shards"]]
    while page.get("NextToken"):
        page = kinesis.list_shards(NextToken=page["NextToken"], MaxResults=2)
        ids += [s["ShardId"] for s in page["Shards"]]
    assert ids == [f"shardId-{i:012d}" for i in range(5)]
    name = _stream(moto, unique(), shards=5)
    token = moto.list_shards(StreamName=name, MaxResults=2)["NextToken"]
    error = _error(moto.list_shards, NextToken=token, MaxResults=2)
    assert error.response["Error"]["Code"] == "InvalidToken"


def test_consumer_arns_end_with_creation_time_and_deregister_by_name(ours, moto, unique):
    kinesis, _ = ours
    for client in (kinesis, moto):
        name = _stream(client, unique())
        arn = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        consumer = client.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]
        client.deregister_stream_consumer(StreamARN=arn, ConsumerName="c")
        left = client.list_stream_consumers(StreamARN=arn)["Consumers"]
        if client is moto:
            assert consumer["ConsumerARN"] == f"{arn}/consumer/c"
            assert [c["ConsumerName"] for c in left] == ["c"]  # by-name deregistration ignored
        else:
            assert consumer["ConsumerARN"].startswith(f"{arn}/consumer/c:")
            assert left == []


def test_subscribe_to_shard_is_served_but_moto_has_none(ours, moto, unique):
    kinesis, _ = ours
    for client in (kinesis, moto):
        name = _stream(client, unique())
        arn = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        consumer = client.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]
        call = {
            "ConsumerARN": consumer["ConsumerARN"],
            "ShardId": "shardId-000000000000",
            "StartingPosition": {"Type": "TRIM_HORIZON"},
        }
        if client is moto:
            assert _error(client.subscribe_to_shard, **call).response["Error"]["Code"]
        else:
            client.put_record(StreamName=name, Data=b"pushed", PartitionKey="k")
            events = client.subscribe_to_shard(**call)["EventStream"]
            first = next(iter(events))["SubscribeToShardEvent"]
            events.close()
            assert [r["Data"] for r in first["Records"]] == [b"pushed"]
