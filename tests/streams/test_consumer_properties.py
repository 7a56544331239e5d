"""Property: with a checkpoint after each batch, clean restarts process every record exactly once,
in put order per partition key, whatever puts, splits, merges and restarts come in between."""

import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import SimulatedClock, Workbench

KEYS = [f"key-{i}" for i in range(8)]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(1, 40)),
        st.tuples(st.just("consume"), st.integers(1, 60)),
        st.tuples(st.just("split"), st.integers(0, 3)),
        st.tuples(st.just("merge"), st.integers(0, 3)),
        st.tuples(st.just("wait"), st.sampled_from(["1s", "301s"])),
    ),
    min_size=1,
    max_size=12,
)


def reshard(stream, kind, pick):
    shards = sorted(
        (s for s in stream.list_shards() if "EndingSequenceNumber" not in s["SequenceNumberRange"]),
        key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]),
    )
    if kind == "split" and len(shards) < 6:
        shard = shards[pick % len(shards)]
        low, high = (int(shard["HashKeyRange"][k]) for k in ("StartingHashKey", "EndingHashKey"))
        stream.split_shard(shard["ShardId"], str((low + high) // 2))
    elif kind == "merge" and len(shards) > 1:
        i = pick % (len(shards) - 1)
        stream.merge_shards(shards[i]["ShardId"], shards[i + 1]["ShardId"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, shards=st.integers(1, 3), limit=st.integers(1, 25))
def test_every_record_is_processed_exactly_once_in_order_per_key(steps, shards, limit):
    home = tempfile.mkdtemp()
    clock = SimulatedClock(start="2026-01-01T00:00:00Z")
    stream = Workbench(home=home, clock=clock).streams.create_stream("s", shards)
    acked, processed, counter = [], [], {}

    def consume(**bounds):
        # A fresh Workbench each time: a restarted process, reading from the lease table.
        wb = Workbench(home=home, clock=clock)
        with wb.streams.consumer("s", "app", limit=limit) as app:
            app.run(lambda b: processed.extend(r["Data"].decode() for r in b.records), **bounds)

    for step, arg in steps:
        if step == "put":
            for i in range(arg):
                key = KEYS[i % len(KEYS)]
                n = counter[key] = counter.get(key, -1) + 1
                stream.put_record(f"{key}:{n}".encode(), key)
                acked.append(f"{key}:{n}")
        elif step == "consume":
            consume(max_records=arg, until_caught_up=True)
        elif step == "wait":
            clock.advance(arg)
        else:
            reshard(stream, step, arg)
    consume(until_caught_up=True)

    assert sorted(processed) == sorted(acked)  # nothing lost, nothing twice
    last = {}
    for item in processed:
        key, n = item.rsplit(":", 1)
        assert int(n) == last.get(key, -1) + 1, f"{item} after {key}:{last.get(key)}"
        last[key] = int(n)
