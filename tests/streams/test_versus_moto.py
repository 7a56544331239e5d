"""Differential tests: the same requests to moto's Kinesis (through boto3) and to ours.

moto is a peer, not the reference: where it is known to differ from AWS (its hash ranges end
one early, sequence numbers are 1, 2, 3...) the reference decides and the test says so.
"""

import pytest

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")


@pytest.fixture
def kinesis(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with moto.mock_aws():
        yield boto3.client("kinesis", region_name="us-east-1")


def test_partition_keys_go_to_the_same_shards_as_in_moto(kinesis, make_stream):
    kinesis.create_stream(StreamName="s", ShardCount=3)
    _, ours = make_stream(3)
    for i in range(200):
        key = f"customer-{i}"
        theirs = kinesis.put_record(StreamName="s", Data=b"x", PartitionKey=key)
        assert ours.put_record(b"x", key)["ShardId"] == theirs["ShardId"], key


def test_shard_and_record_shapes_match_moto(kinesis, make_stream):
    kinesis.create_stream(StreamName="s", ShardCount=2)
    _, ours = make_stream(2)
    their_shards = kinesis.list_shards(StreamName="s")["Shards"]
    our_shards = ours.list_shards()
    assert [s["ShardId"] for s in our_shards] == [s["ShardId"] for s in their_shards]
    for mine, theirs in zip(our_shards, their_shards, strict=True):
        assert set(mine) == set(theirs)
        assert mine["HashKeyRange"]["StartingHashKey"] == theirs["HashKeyRange"]["StartingHashKey"]
    put = {"Data": b"hello", "PartitionKey": "k"}
    their_put = kinesis.put_records(StreamName="s", Records=[put])
    our_put = ours.put_records([put])
    assert set(our_put) >= set(their_put) - {"ResponseMetadata"}
    shard = their_put["Records"][0]["ShardId"]
    assert our_put["Records"][0]["ShardId"] == shard
    it = kinesis.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    theirs = kinesis.get_records(ShardIterator=it["ShardIterator"])
    mine = ours.get_records(ours.get_shard_iterator(shard, "TRIM_HORIZON"))
    assert set(mine) >= set(theirs) - {"ResponseMetadata"}
    assert set(mine["Records"][0]) == set(theirs["Records"][0]) - {"EncryptionType"}
    assert mine["Records"][0]["Data"] == theirs["Records"][0]["Data"]


def test_errors_have_moto_s_names(kinesis, make_workbench):
    from botocore.exceptions import ClientError

    from workbench.errors import ServiceError

    wb = make_workbench()
    cases = [
        (
            lambda: kinesis.describe_stream(StreamName="nope"),
            lambda: wb.streams.describe_stream("nope"),
        ),
        (
            lambda: kinesis.create_stream(StreamName="dup", ShardCount=1),
            lambda: wb.streams.create_stream("dup", 1),
        ),
    ]
    kinesis.create_stream(StreamName="dup", ShardCount=1)
    wb.streams.create_stream("dup", 1)
    for theirs, ours in cases:
        with pytest.raises(ClientError) as their_error:
            theirs()
        with pytest.raises(ServiceError) as our_error:
            ours()
        assert our_error.value.code == their_error.value.response["Error"]["Code"]
