"""Split, merge and UpdateShardCount, from the reference."""

import pytest

from workbench.errors import (
    InvalidArgumentException,
    LimitExceededException,
    ResourceNotFoundException,
    ValidationException,
)

S0, S1, S2, S3 = (f"shardId-{i:012d}" for i in range(4))


def shards_by_id(stream):
    return {s["ShardId"]: s for s in stream.list_shards()}


def test_split_closes_the_parent_and_routes_new_records_to_children(make_stream, read_shard):
    _, stream = make_stream(1)
    stream.put_record(b"before", "k", explicit_hash_key="5")
    stream.split_shard(S0, str(2**127))
    shards = shards_by_id(stream)
    parent, left, right = shards[S0], shards[S1], shards[S2]
    assert "EndingSequenceNumber" in parent["SequenceNumberRange"]
    assert left["ParentShardId"] == right["ParentShardId"] == S0
    assert left["HashKeyRange"] == {"StartingHashKey": "0", "EndingHashKey": str(2**127 - 1)}
    assert right["HashKeyRange"] == {
        "StartingHashKey": str(2**127),
        "EndingHashKey": str(2**128 - 1),
    }
    assert stream.put_record(b"a", "k", explicit_hash_key=str(2**127 - 1))["ShardId"] == S1
    assert stream.put_record(b"b", "k", explicit_hash_key=str(2**127))["ShardId"] == S2
    assert [r["Data"] for r in read_shard(stream, S0)] == [b"before"]


def test_a_closed_shard_ends_with_child_shards_and_no_next_iterator(make_stream):
    _, stream = make_stream(1)
    stream.put_record(b"x", "k")
    stream.split_shard(S0, str(2**127))
    it = stream.get_shard_iterator(S0, "TRIM_HORIZON")
    answer = stream.get_records(it, limit=1)
    assert [r["Data"] for r in answer["Records"]] == [b"x"]
    assert answer["NextShardIterator"] is None
    assert [c["ShardId"] for c in answer["ChildShards"]] == [S1, S2]
    assert answer["ChildShards"][0]["ParentShards"] == [S0]
    latest = stream.get_shard_iterator(S0, "LATEST")
    assert stream.get_records(latest)["NextShardIterator"] is None


def test_merge_creates_one_child_with_both_parents(make_stream):
    _, stream = make_stream(3)
    stream.merge_shards(S1, S2)
    child = shards_by_id(stream)[S3]
    assert child["ParentShardId"] == S1 and child["AdjacentParentShardId"] == S2
    step = 2**128 // 3
    assert child["HashKeyRange"] == {"StartingHashKey": str(step), "EndingHashKey": str(2**128 - 1)}
    with pytest.raises(InvalidArgumentException, match="adjacent"):
        stream.merge_shards(S0, S0)


def test_resharding_errors(make_stream, make_workbench):
    _, stream = make_stream(3)
    with pytest.raises(InvalidArgumentException, match="not an adjacent pair"):
        stream.merge_shards(S0, S2)
    with pytest.raises(ResourceNotFoundException):
        stream.split_shard("shardId-000000000042", "10")
    step = 2**128 // 3
    for bad in ("0", "1", str(step - 1), str(step)):  # start + 1 and the end are excluded
        with pytest.raises(InvalidArgumentException, match="NewStartingHashKey"):
            stream.split_shard(S0, bad)
    stream.split_shard(S1, str(2 * step - 2))  # the largest legal key: end - 1
    stream.split_shard(S0, "2")  # the smallest legal key: start + 2
    with pytest.raises(InvalidArgumentException, match="already been merged or split"):
        stream.split_shard(S0, "10")
    with pytest.raises(InvalidArgumentException, match="already been merged or split"):
        stream.merge_shards(S0, S1)
    od = make_workbench().streams.create_stream("od", on_demand=True)
    with pytest.raises(ValidationException, match="ON_DEMAND"):
        od.split_shard(S0, str(2**100))
    with pytest.raises(ValidationException, match="ON_DEMAND"):
        od.update_shard_count(8)


@pytest.mark.parametrize(("before", "after"), [(4, 8), (4, 2), (5, 3), (3, 5), (2, 3), (1, 2)])
def test_update_shard_count_ends_with_uniform_open_shards(make_stream, before, after):
    _, stream = make_stream(before)
    answer = stream.update_shard_count(after)
    assert (answer["CurrentShardCount"], answer["TargetShardCount"]) == (before, after)
    shards = stream.list_shards()
    open_ranges = sorted(
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in shards
        if "EndingSequenceNumber" not in s["SequenceNumberRange"]
    )
    step = 2**128 // after
    assert open_ranges == [
        (i * step, 2**128 - 1 if i == after - 1 else (i + 1) * step - 1) for i in range(after)
    ]
    ids = {s["ShardId"] for s in shards}
    for s in shards:
        for parent in (s.get("ParentShardId"), s.get("AdjacentParentShardId")):
            assert parent is None or parent in ids


def test_update_shard_count_limits(make_workbench):
    wb = make_workbench()
    stream = wb.streams.create_stream("s", 4)
    for bad in (9, 1):
        with pytest.raises(LimitExceededException, match="between half"):
            stream.update_shard_count(bad)
    with pytest.raises(ValidationException, match="UNIFORM_SCALING"):
        stream.update_shard_count(4, "OTHER")
    counts = [8, 4] * 5
    for count in counts:
        stream.update_shard_count(count)
    with pytest.raises(LimitExceededException, match="10 times"):
        stream.update_shard_count(8)
    wb.clock.advance("24h")
    wb.clock.advance("1s")
    stream.update_shard_count(8)


def test_per_key_order_holds_for_a_reader_that_finishes_parents_first(make_stream, read_shard):
    _, stream = make_stream(2)
    keys = [f"key-{i}" for i in range(20)]
    sent = {k: [] for k in keys}
    counter = 0

    def put_round():
        nonlocal counter
        for k in keys:
            stream.put_record(f"{k}:{counter}".encode(), k)
            sent[k].append(counter)
            counter += 1

    put_round()
    stream.split_shard(S0, str(2**126))
    put_round()
    stream.update_shard_count(6)
    put_round()
    open_shards = sorted(
        (s for s in stream.list_shards() if "EndingSequenceNumber" not in s["SequenceNumberRange"]),
        key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]),
    )
    stream.merge_shards(open_shards[0]["ShardId"], open_shards[1]["ShardId"])
    put_round()
    shards = shards_by_id(stream)
    done: set[str] = set()
    seen = {k: [] for k in keys}
    while len(done) < len(shards):
        for sid, s in sorted(shards.items()):
            parents = {s.get("ParentShardId"), s.get("AdjacentParentShardId")} - {None}
            if sid in done or not parents <= done:
                continue
            for r in read_shard(stream, sid):
                key, n = r["Data"].decode().split(":")
                seen[key].append(int(n))
            done.add(sid)
    assert seen == sent


def test_update_stream_mode_switches_resharding_on_and_off(make_workbench):
    stream = make_workbench().streams.create_stream("od", on_demand=True)
    stream.update_stream_mode("PROVISIONED")
    stream.update_shard_count(8)
    assert stream.describe_summary()["StreamDescriptionSummary"]["OpenShardCount"] == 8
    stream.update_stream_mode("ON_DEMAND")
    with pytest.raises(ValidationException, match="ON_DEMAND"):
        stream.split_shard("shardId-000000000004", str(2**120))
    with pytest.raises(ValidationException, match="enum value set"):
        stream.update_stream_mode("SERVERLESS")
