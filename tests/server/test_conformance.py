"""One boto3 suite, run against this endpoint (embedded engine, and the boto3 backend) and
against moto's server: the same observable results where moto follows the reference.

Each ``target`` is a URL; moto's deviations from the reference are in test_moto_deviations.py.
"""

from __future__ import annotations

import hashlib

import pytest
from _raw import client_factory
from botocore.exceptions import ClientError

TOP = 2**128 - 1


@pytest.fixture(params=["endpoint", "moto"])
def kinesis(request, moto_url):
    """A boto3 Kinesis client for each implementation under test."""
    if request.param == "moto":
        return client_factory(moto_url)
    return client_factory(request.getfixturevalue("endpoint").url)


def _code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]["Code"]


def _shard_for(shards: list[dict], key: str) -> str:
    hashed = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
    for shard in shards:
        lo, hi = (int(shard["HashKeyRange"][k]) for k in ("StartingHashKey", "EndingHashKey"))
        if lo <= hashed <= hi:
            return shard["ShardId"]
    raise AssertionError(f"no shard covers {hashed}")


def _read_all(kinesis, name: str, shard_id: str) -> list[dict]:
    iterator = kinesis.get_shard_iterator(
        StreamName=name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[dict] = []
    for _ in range(20):
        answer = kinesis.get_records(ShardIterator=iterator, Limit=10000)
        records += answer["Records"]
        if not answer["Records"] or answer.get("NextShardIterator") is None:
            break
        iterator = answer["NextShardIterator"]
    return records


def test_stream_lifecycle(kinesis, unique):
    name = unique()
    kinesis.create_stream(StreamName=name, ShardCount=3)
    assert name in kinesis.list_streams()["StreamNames"]
    description = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert description["StreamStatus"] == "ACTIVE"
    assert description["RetentionPeriodHours"] == 24
    assert description["StreamARN"].endswith(f":stream/{name}")
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3
    kinesis.delete_stream(StreamName=name)
    assert _code(kinesis.describe_stream, StreamName=name) == "ResourceNotFoundException"


def test_creating_an_existing_stream_is_in_use(kinesis, unique):
    name = unique()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    assert _code(kinesis.create_stream, StreamName=name, ShardCount=1) == ("ResourceInUseException")


def test_unknown_streams_are_not_found(kinesis, unique):
    name = unique("missing")
    assert _code(kinesis.describe_stream_summary, StreamName=name) == "ResourceNotFoundException"
    assert _code(kinesis.put_record, StreamName=name, Data=b"x", PartitionKey="k") == (
        "ResourceNotFoundException"
    )


def test_shards_split_the_hash_space_evenly_and_cover_it(kinesis, unique):
    name = unique()
    kinesis.create_stream(StreamName=name, ShardCount=4)
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-{i:012d}" for i in range(4)]
    starts = [int(s["HashKeyRange"]["StartingHashKey"]) for s in shards]
    assert starts == [i * (2**128 // 4) for i in range(4)]
    assert int(shards[-1]["HashKeyRange"]["EndingHashKey"]) == TOP


def test_the_labs_producer_and_consumer_patterns(kinesis, unique):
    """PutRecords with part-%05d keys, then get_shard_iterator + get_records on every shard."""
    name = unique("retail")
    kinesis.create_stream(StreamName=name, ShardCount=2)
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    sent = [{"Data": f"row {i}".encode(), "PartitionKey": f"part-{i:05d}"} for i in range(300)]
    answer = kinesis.put_records(StreamName=name, Records=sent)
    assert answer["FailedRecordCount"] == 0
    assert len(answer["Records"]) == 300
    for entry, record in zip(answer["Records"], sent, strict=True):
        assert entry["ShardId"] == _shard_for(shards, record["PartitionKey"])
    received = {}
    for shard in shards:
        records = _read_all(kinesis, name, shard["ShardId"])
        sequence = [int(r["SequenceNumber"]) for r in records]
        assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)
        received.update({r["PartitionKey"]: r["Data"] for r in records})
    assert received == {r["PartitionKey"]: r["Data"] for r in sent}


def test_put_record_routes_by_md5_and_explicit_hash_key(kinesis, unique):
    name = unique()
    kinesis.create_stream(StreamName=name, ShardCount=2)
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    put = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="part-00007")
    assert put["ShardId"] == _shard_for(shards, "part-00007")
    low = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="a", ExplicitHashKey="0")
    boundary = shards[0]["HashKeyRange"]["EndingHashKey"]
    edge = kinesis.put_record(
        StreamName=name, Data=b"x", PartitionKey="a", ExplicitHashKey=str(int(boundary) + 1)
    )
    assert (low["ShardId"], edge["ShardId"]) == ("shardId-000000000000", "shardId-000000000001")


def test_records_keep_data_key_and_order_within_a_shard(kinesis, unique):
    name = unique()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    payloads = [bytes([i]) * (i + 1) for i in range(50)]
    for i, data in enumerate(payloads):
        kinesis.put_record(StreamName=name, Data=data, PartitionKey=f"k{i % 7}")
    records = _read_all(kinesis, name, "shardId-000000000000")
    assert [r["Data"] for r in records] == payloads
    assert [r["PartitionKey"] for r in records] == [f"k{i % 7}" for i in range(50)]
    assert all(r["ApproximateArrivalTimestamp"].tzinfo is not None for r in records)


def test_iterator_types(kinesis, unique):
    name = unique()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    shard = "shardId-000000000000"
    seqs = [
        kinesis.put_record(StreamName=name, Data=f"{i}".encode(), PartitionKey="k")[
            "SequenceNumber"
        ]
        for i in range(5)
    ]

    def first(kind, **extra):
        iterator = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard, ShardIteratorType=kind, **extra
        )["ShardIterator"]
        return [r["Data"] for r in kinesis.get_records(ShardIterator=iterator)["Records"]]

    assert first("TRIM_HORIZON") == [b"0", b"1", b"2", b"3", b"4"]
    assert first("AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[2]) == [b"2", b"3", b"4"]
    assert first("AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[2]) == [b"3", b"4"]
    assert first("LATEST") == []


def test_latest_sees_only_later_records_and_limit_pages(kinesis, unique):
    name = unique()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.put_record(StreamName=name, Data=b"before", PartitionKey="k")
    iterator = kinesis.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="LATEST"
    )["ShardIterator"]
    for i in range(3):
        kinesis.put_record(StreamName=name, Data=f"after{i}".encode(), PartitionKey="k")
    page = kinesis.get_records(ShardIterator=iterator, Limit=2)
    assert [r["Data"] for r in page["Records"]] == [b"after0", b"after1"]
    rest = kinesis.get_records(ShardIterator=page["NextShardIterator"])
    assert [r["Data"] for r in rest["Records"]] == [b"after2"]


def test_unknown_shard_is_not_found(kinesis, unique):
    name = unique()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    code = _code(
        kinesis.get_shard_iterator,
        StreamName=name,
        ShardId="shardId-000000000009",
        ShardIteratorType="TRIM_HORIZON",
    )
    assert code == "ResourceNotFoundException"


def test_retention_can_grow_and_shrink_within_bounds(kinesis, unique):
    name = unique()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["RetentionPeriodHours"] == 48
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["RetentionPeriodHours"] == 24


def test_tags(kinesis, unique):
    name = unique()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.add_tags_to_stream(StreamName=name, Tags={"team": "lab", "env": "dev"})
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["env"])
    tags = kinesis.list_tags_for_stream(StreamName=name)["Tags"]
    assert tags == [{"Key": "team", "Value": "lab"}]


def test_split_and_merge_close_parents_and_link_children(kinesis, unique):
    name = unique()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.split_shard(
        StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127)
    )
    shards = {s["ShardId"]: s for s in kinesis.list_shards(StreamName=name)["Shards"]}
    assert "EndingSequenceNumber" in shards["shardId-000000000000"]["SequenceNumberRange"]
    children = [s for s in shards.values() if s.get("ParentShardId") == "shardId-000000000000"]
    assert len(children) == 2
    left, right = sorted(children, key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))
    kinesis.merge_shards(
        StreamName=name, ShardToMerge=left["ShardId"], AdjacentShardToMerge=right["ShardId"]
    )
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    merged = [s for s in shards if s.get("AdjacentParentShardId") == right["ShardId"]]
    assert len(merged) == 1 and merged[0]["ParentShardId"] == left["ShardId"]


def test_update_shard_count_doubles(kinesis, unique):
    name = unique()
    kinesis.create_stream(StreamName=name, ShardCount=2)
    answer = kinesis.update_shard_count(
        StreamName=name, TargetShardCount=4, ScalingType="UNIFORM_SCALING"
    )
    assert (answer["CurrentShardCount"], answer["TargetShardCount"]) == (2, 4)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4


def test_stream_arn_parameters_are_accepted(kinesis, unique):
    name = unique()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    put = kinesis.put_record(StreamARN=arn, Data=b"by arn", PartitionKey="k")
    assert put["ShardId"] == "shardId-000000000000"
    assert len(kinesis.list_shards(StreamARN=arn)["Shards"]) == 1


def test_stream_consumers_register_describe_list_deregister(kinesis, unique):
    name = unique()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="dash")["Consumer"]
    assert consumer["ConsumerARN"].startswith(f"{arn}/consumer/dash")
    described = kinesis.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
    assert described["ConsumerDescription"]["ConsumerName"] == "dash"
    listed = kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]
    assert [c["ConsumerName"] for c in listed] == ["dash"]
    kinesis.deregister_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
    assert kinesis.list_stream_consumers(StreamARN=arn)["Consumers"] == []
