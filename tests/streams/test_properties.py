"""Property: every acknowledged record is read exactly once, in order per shard, whatever the
mix of puts, reads with small limits and reshards."""

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import SimulatedClock, Workbench

keys = st.text(alphabet="abcdef", min_size=1, max_size=3)
put_one = st.tuples(st.just("put"), keys)
put_many = st.tuples(st.sampled_from(["puts", "answer"]), st.lists(keys, min_size=1, max_size=30))
put_frame = st.tuples(st.just("frame"), st.lists(keys, min_size=1, max_size=30))
split = st.tuples(st.just("split"), st.integers(0, 10**6))
merge = st.tuples(st.just("merge"), st.integers(0, 10**6))
operations = st.lists(st.one_of(put_one, put_many, put_frame, split, merge), max_size=25)


def put_records(stream, op, entries) -> list[dict]:
    """PutRecords' per-record results, as dicts or (for a server) as columns."""
    if op == "puts":
        return stream.put_records(entries)["Records"]
    answer = stream.put_records_answer(entries)
    shard_ids, shard_of, digits = answer.columns()
    records = answer.as_dict()["Records"]
    assert [r["ShardId"] for r in records] == [shard_ids[i] for i in shard_of]
    assert [r["SequenceNumber"].encode() for r in records] == [bytes(row) for row in digits]
    return records


def open_shards(stream):
    return sorted(
        (s for s in stream.list_shards() if "EndingSequenceNumber" not in s["SequenceNumberRange"]),
        key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]),
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations, limit=st.integers(1, 7), shards=st.integers(1, 3))
def test_every_acknowledged_record_is_read_once_in_order(tmp_path_factory, ops, limit, shards):
    wb = Workbench(home=tmp_path_factory.mktemp("h"), clock=SimulatedClock(start=0))
    stream = wb.streams.create_stream("p", shards)
    acked: dict[str, list[tuple[int, bytes]]] = {}
    by_key: dict[str, list[bytes]] = {}
    counter = 0

    def note(key, data, result):
        acked.setdefault(result["ShardId"], []).append((int(result["SequenceNumber"]), data))
        by_key.setdefault(key, []).append(data)

    for op, arg in ops:
        wb.clock.advance("1s")
        if op == "put":
            data = f"{counter}".encode()
            note(arg, data, stream.put_record(data, arg))
            counter += 1
        elif op in ("puts", "answer"):
            entries = [
                {"Data": f"{counter + i}".encode(), "PartitionKey": k} for i, k in enumerate(arg)
            ]
            counter += len(arg)
            for entry, result in zip(entries, put_records(stream, op, entries), strict=True):
                note(entry["PartitionKey"], entry["Data"], result)
        elif op == "frame":
            rows = [{"n": counter + i, "k": k} for i, k in enumerate(arg)]
            counter += len(arg)
            stream.put_frame(rows, "k")
            for row in rows:
                by_key.setdefault(row["k"], []).append(row)
        elif op == "split":
            shard = open_shards(stream)[arg % len(open_shards(stream))]
            start = int(shard["HashKeyRange"]["StartingHashKey"])
            end = int(shard["HashKeyRange"]["EndingHashKey"])
            if end - start > 2:
                stream.split_shard(shard["ShardId"], str(start + 2 + arg % (end - start - 2)))
        elif op == "merge" and len(open_shards(stream)) > 1:
            pair = open_shards(stream)
            i = arg % (len(pair) - 1)
            stream.merge_shards(pair[i]["ShardId"], pair[i + 1]["ShardId"])

    seen_by_shard: dict[str, list[tuple[int, bytes]]] = {}
    seen_by_key: dict[str, list] = {}
    shards_now = {s["ShardId"]: s for s in stream.list_shards()}
    done: set[str] = set()
    while len(done) < len(shards_now):
        for sid, s in sorted(shards_now.items()):
            parents = {s.get("ParentShardId"), s.get("AdjacentParentShardId")} - {None}
            if sid in done or not parents <= done:
                continue
            it = stream.get_shard_iterator(sid, "TRIM_HORIZON")
            while it is not None:
                answer = stream.get_records(it, limit)
                for r in answer["Records"]:
                    seen_by_shard.setdefault(sid, []).append((int(r["SequenceNumber"]), r["Data"]))
                    data = r["Data"]
                    item = data if data.isdigit() else orjson.loads(data)
                    seen_by_key.setdefault(r["PartitionKey"], []).append(item)
                it = answer["NextShardIterator"]
                if not answer["Records"] and answer["MillisBehindLatest"] == 0:
                    break
            done.add(sid)

    for sid, records in acked.items():
        seen = [x for x in seen_by_shard.get(sid, []) if x[1].isdigit()]
        assert seen == records  # exactly once, in put order, with the acknowledged numbers
    for records in seen_by_shard.values():
        assert [n for n, _ in records] == sorted({n for n, _ in records})
    assert seen_by_key == by_key  # per-key order across reshards, reading parents first
