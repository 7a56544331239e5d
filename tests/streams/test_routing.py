"""Hash ranges and routing, from the reference: MD5 big-endian, inclusive ends."""

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.streams._routing import md5_hash_keys

TOP = 2**128 - 1


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 10])
def test_create_splits_the_key_space_as_aws_does(make_stream, count):
    _, stream = make_stream(count)
    shards = stream.list_shards()
    step = 2**128 // count
    assert [s["ShardId"] for s in shards] == [f"shardId-{i:012d}" for i in range(count)]
    for i, shard in enumerate(shards):
        start = int(shard["HashKeyRange"]["StartingHashKey"])
        end = int(shard["HashKeyRange"]["EndingHashKey"])
        assert start == i * step
        assert end == (TOP if i == count - 1 else (i + 1) * step - 1)
        assert "EndingSequenceNumber" not in shard["SequenceNumberRange"]


def test_boundary_hash_keys_go_to_the_shard_whose_inclusive_range_holds_them(make_stream):
    _, stream = make_stream(3)
    step = 2**128 // 3
    cases = {0: 0, step - 1: 0, step: 1, 2 * step - 1: 1, 2 * step: 2, TOP: 2}
    for key, shard in cases.items():
        got = stream.put_record(b"x", "ignored", explicit_hash_key=str(key))
        assert got["ShardId"] == f"shardId-{shard:012d}", key


def test_partition_keys_are_routed_by_md5_big_endian(make_stream):
    _, stream = make_stream(4)
    step = 2**128 // 4
    for key in ["17850", "a", "Ünïcode", "x" * 256]:
        expected = min(int.from_bytes(hashlib.md5(key.encode()).digest(), "big") // step, 3)
        assert stream.put_record(b"x", key)["ShardId"] == f"shardId-{expected:012d}"


def test_frames_route_like_single_puts(make_stream):
    _, stream = make_stream(4)
    rows = [{"id": i, "key": f"customer-{i % 37}"} for i in range(300)]
    summary = stream.put_frame(rows, "key")
    expected = {}
    for row in rows:
        shard = stream.put_record(b"probe", row["key"])["ShardId"]
        expected[shard] = expected.get(shard, 0) + 1
    assert {k: v["Records"] for k, v in summary["Shards"].items()} == expected


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=40))
def test_vectorised_md5_equals_hashlib(keys):
    hi, lo = md5_hash_keys(keys)
    for key, h, low in zip(keys, hi, lo, strict=True):
        assert int(h) << 64 | int(low) == int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
