"""Consumer applications on real streams: checkpoints, restarts, resharding order, formats."""

import threading
import time

import polars as pl
import pytest

from workbench import SimulatedClock, Workbench
from workbench.errors import InvalidArgumentException
from workbench.streams import Batch, ConsumerApplication, LeaseLost
from workbench.streams._coordinator import LeaseCoordinator
from workbench.streams._leases import LeaseTable


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def make_wb(home):
    """Workbenches on one home; each call opens it afresh, as a restarted process would."""

    def make(clock=None):
        return Workbench(home=home, clock=clock or SimulatedClock(start="2026-01-01T00:00:00Z"))

    return make


def put_keyed(stream, keys, per_key, start=0):
    """Put ``per_key`` records for each key, interleaved; data is b"<key>:<n>" with n rising."""
    acked = []
    for n in range(start, start + per_key):
        for key in keys:
            stream.put_record(f"{key}:{n}".encode(), key)
            acked.append(f"{key}:{n}")
    return acked


def data_of(batches):
    return [r["Data"].decode() for b in batches for r in b.records]


def drain(app, **bounds):
    seen = []
    app.run(lambda batch: seen.extend(r["Data"].decode() for r in batch.records), **bounds)
    return seen


def assert_in_order_per_key(processed):
    """Each key's records first appear in put order (a record read again after a lease moved
    may repeat, but nothing of a key appears before an earlier record of it)."""
    last = {}
    for item in dict.fromkeys(processed):
        key, n = item.rsplit(":", 1)
        assert int(n) == last.get(key, -1) + 1, f"{item} came after {key}:{last.get(key)}"
        last[key] = int(n)


def test_reads_every_shard_and_checkpoints_each_one(make_wb):
    wb = make_wb()
    stream = wb.streams.create_stream("retail-trans", 4)
    acked = put_keyed(stream, [f"k{i}" for i in range(20)], 5)
    with wb.streams.consumer("retail-trans", "app") as app:
        seen = drain(app, until_caught_up=True)
    leases = app.leases()
    assert sorted(seen) == sorted(acked)
    assert [lease["leaseKey"] for lease in leases] == [s["ShardId"] for s in stream.list_shards()]
    last_per_shard = {}
    for shard in stream.list_shards():
        it = stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")
        records = stream.get_records(it)["Records"]
        last_per_shard[shard["ShardId"]] = records[-1]["SequenceNumber"] if records else None
    assert {lease["leaseKey"]: lease["checkpoint"] for lease in leases} == {
        shard: seq or "TRIM_HORIZON" for shard, seq in last_per_shard.items()
    }
    assert all(lease["leaseOwner"] is None for lease in leases)  # closed: handed over


def test_resumes_from_its_checkpoints_after_a_restart(make_wb):
    wb = make_wb()
    stream = wb.streams.create_stream("retail-trans", 2)
    acked = put_keyed(stream, [f"k{i}" for i in range(10)], 10)
    with wb.streams.consumer("retail-trans", "app", limit=7) as app:
        first = drain(app, max_records=40)
    assert len(first) == 40
    restarted = make_wb()  # a new process on the same home
    with restarted.streams.consumer("retail-trans", "app") as app:
        rest = drain(app, until_caught_up=True)
    assert sorted(first + rest) == sorted(acked)


def test_a_batch_left_unchecked_is_read_again(make_wb):
    wb = make_wb()
    stream = wb.streams.create_stream("retail-trans", 1)
    put_keyed(stream, ["a"], 30)
    with wb.streams.consumer("retail-trans", "app", limit=10) as app:
        batches = app.batches(checkpoint=False)
        first, second = next(batches), next(batches)
        first.checkpoint()
        batches.close()
    assert data_of([second])[0] == "a:10"
    with make_wb().streams.consumer("retail-trans", "app") as app:
        again = drain(app, until_caught_up=True)
    assert again[0] == "a:10" and len(again) == 20


def test_closing_writes_the_checkpoints_of_processed_batches(make_wb):
    wb = make_wb()
    stream = wb.streams.create_stream("s", 1)
    acked = put_keyed(stream, ["a"], 30)
    app = wb.streams.consumer("s", "app", limit=10, checkpoint_interval="1h")
    batches = app.batches()
    first = data_of([next(batches), next(batches)])  # the first is processed, the second not
    app.close()
    with make_wb().streams.consumer("s", "app") as again:
        assert first[:10] + drain(again, until_caught_up=True) == acked


def test_checkpoints_never_move_back(make_wb):
    wb = make_wb()
    stream = wb.streams.create_stream("s", 1)
    put_keyed(stream, ["a"], 20)
    with wb.streams.consumer("s", "app", limit=10) as app:
        first, second = list(app.batches(checkpoint=False, max_batches=2))
        second.checkpoint()
        first.checkpoint()
        (lease,) = app.leases()
    assert lease["checkpoint"] == second.last_sequence_number


def test_children_are_read_after_their_parents_across_a_split_and_a_merge(make_wb):
    wb = make_wb()
    stream = wb.streams.create_stream("s", 2)
    keys = [f"key-{i}" for i in range(12)]
    acked = put_keyed(stream, keys, 5)
    shards = stream.list_shards()
    first = shards[0]["HashKeyRange"]
    middle = (int(first["StartingHashKey"]) + int(first["EndingHashKey"])) // 2
    stream.split_shard(shards[0]["ShardId"], str(middle))
    acked += put_keyed(stream, keys, 5, start=5)
    children = [s for s in stream.list_shards() if s.get("ParentShardId") == shards[0]["ShardId"]]
    stream.merge_shards(children[1]["ShardId"], shards[1]["ShardId"])
    acked += put_keyed(stream, keys, 5, start=10)
    # Two workers of one application share the shards; one log records the processing order.
    processed, lock = [], threading.Lock()

    def handle(batch):
        with lock:
            processed.extend(r["Data"].decode() for r in batch.records)

    apps = [wb.streams.consumer("s", "app", worker_id=w) for w in ("w1", "w2")]
    for app in apps:
        app.start(handle)
    deadline = time.monotonic() + 20
    while len(processed) < len(acked) and time.monotonic() < deadline:
        time.sleep(0.01)
    for app in apps:
        app.close()
    assert set(processed) == set(acked)
    assert_in_order_per_key(processed)
    leases = {lease["leaseKey"]: lease for lease in apps[0].leases()}
    assert len(leases) == 5
    merged = [lease for lease in leases.values() if len(lease["parentShardId"]) == 2]
    assert len(merged) == 1


def test_two_applications_read_one_stream_independently(make_wb):
    wb = make_wb()
    stream = wb.streams.create_stream("s", 2)
    acked = put_keyed(stream, ["a", "b", "c"], 10)
    with wb.streams.consumer("s", "firehose") as one:
        seen_one = drain(one, max_records=12)
    with wb.streams.consumer("s", "dashboard") as two:
        seen_two = drain(two, until_caught_up=True)
    assert sorted(seen_two) == sorted(acked)
    with wb.streams.consumer("s", "firehose") as one:
        seen_one += drain(one, until_caught_up=True)
    assert sorted(seen_one) == sorted(acked)
    assert (wb.home.path / "streams" / "s" / "applications" / "firehose.sqlite").exists()


def test_latest_skips_what_is_there_and_reads_what_comes(make_wb):
    clock = SimulatedClock(start="2026-01-01T00:00:00Z")
    wb = make_wb(clock)
    stream = wb.streams.create_stream("s", 2)
    put_keyed(stream, ["a", "b"], 5)
    clock.advance("1s")
    with wb.streams.consumer("s", "app", initial_position="LATEST") as app:
        assert drain(app, until_caught_up=True) == []
        fresh = put_keyed(stream, ["a", "b"], 3, start=5)
        assert sorted(drain(app, until_caught_up=True)) == sorted(fresh)


def test_latest_means_from_the_first_start_also_after_a_restart(make_wb):
    clock = SimulatedClock(start="2026-01-01T00:00:00Z")
    wb = make_wb(clock)
    stream = wb.streams.create_stream("s", 2)
    put_keyed(stream, ["a", "b"], 5)
    clock.advance("1s")
    with wb.streams.consumer("s", "app", initial_position="LATEST") as app:
        assert drain(app, until_caught_up=True) == []  # no checkpoint yet
    clock.advance("1s")
    while_stopped = put_keyed(stream, ["a", "b"], 3, start=5)
    with make_wb(clock).streams.consumer("s", "app", initial_position="LATEST") as app:
        assert sorted(drain(app, until_caught_up=True)) == sorted(while_stopped)


def test_at_timestamp_starts_at_the_first_record_arriving_then(make_wb):
    clock = SimulatedClock(start="2026-01-01T00:00:00Z")
    wb = make_wb(clock)
    stream = wb.streams.create_stream("s", 1)
    put_keyed(stream, ["a"], 3)
    clock.advance("10s")
    later = put_keyed(stream, ["a"], 3, start=3)
    with wb.streams.consumer(
        "s", "app", initial_position="AT_TIMESTAMP", timestamp="2026-01-01T00:00:05Z"
    ) as app:
        assert drain(app, until_caught_up=True) == later


def test_expired_iterators_are_renewed_without_loss_or_repeat(make_wb):
    clock = SimulatedClock(start="2026-01-01T00:00:00Z")
    wb = make_wb(clock)
    stream = wb.streams.create_stream("s", 2)
    acked = put_keyed(stream, ["a", "b", "c"], 10)
    with wb.streams.consumer("s", "app", limit=5) as app:
        seen = drain(app, max_records=10)
        clock.advance("301s")  # every iterator the app holds has expired
        acked += put_keyed(stream, ["a", "b", "c"], 2, start=10)
        seen += drain(app, until_caught_up=True)
    assert sorted(seen) == sorted(acked)


def test_arrow_batches_offer_a_table_a_frame_and_dicts(make_wb):
    wb = make_wb()
    stream = wb.streams.create_stream("s", 1)
    stream.put_record(b'{"x": 1}', "k")
    with wb.streams.consumer("s", "app", format="arrow") as app:
        (batch,) = list(app.batches(until_caught_up=True))
    assert isinstance(batch, Batch)
    assert batch.table.column_names[:4] == [
        "sequence_number",
        "partition_key",
        "approximate_arrival_timestamp",
        "data",
    ]
    assert isinstance(batch.frame, pl.DataFrame) and batch.frame["data"][0] == b'{"x": 1}'
    (record,) = batch.records
    assert record["PartitionKey"] == "k" and record["Data"] == b'{"x": 1}'
    assert record["ApproximateArrivalTimestamp"].isoformat() == "2026-01-01T00:00:00+00:00"


def test_background_reading_returns_at_once_and_stops_on_request(make_wb):
    wb = make_wb()
    stream = wb.streams.create_stream("s", 2)
    seen = []
    app = wb.streams.consumer("s", "app")
    assert app.start(lambda batch: seen.extend(batch.records)) is app
    assert app.running
    put_keyed(stream, ["a", "b"], 50)
    deadline = time.monotonic() + 10
    while len(seen) < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.stop() == 100
    assert not app.running
    app.close()


def test_checkpoints_are_written_while_running_once_reading_goes_idle(make_wb):
    wb = make_wb()
    stream = wb.streams.create_stream("s", 1)
    last = stream.put_record(b"x", "k")["SequenceNumber"]
    app = wb.streams.consumer("s", "app", checkpoint_interval="1h").start(lambda batch: None)
    deadline = time.monotonic() + 10
    while [x["checkpoint"] for x in app.leases()] != [last] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.running and [x["checkpoint"] for x in app.leases()] == [last]
    app.close()


def test_a_handler_error_stops_the_run_and_leaves_its_batch_unchecked(make_wb):
    wb = make_wb()
    stream = wb.streams.create_stream("s", 1)
    put_keyed(stream, ["a"], 3)

    def fail(batch):
        raise ValueError("bad record")

    app = wb.streams.consumer("s", "app").start(fail)
    time.sleep(0.2)
    with pytest.raises(ValueError, match="bad record"):
        app.stop()
    app.close()
    assert app.leases()[0]["checkpoint"] == "TRIM_HORIZON"


def test_a_dead_workers_lease_is_taken_over_after_the_timeout(make_wb):
    clock = SimulatedClock(start="2026-01-01T00:00:00Z")
    wb = make_wb(clock)
    stream = wb.streams.create_stream("s", 1)
    acked = put_keyed(stream, ["a"], 10)
    # A worker that took the lease, checkpointed four records and died: it never renews again.
    dead = LeaseCoordinator(
        LeaseTable(stream.folder / "applications" / "app.sqlite"), "dead", clock, lease_timeout=5
    )
    dead.sync({"shardId-000000000000": ()}, lambda shard_id: "TRIM_HORIZON")
    dead.take_leases()
    it = stream.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")
    fourth = stream.get_records(it, limit=4)["Records"][-1]["SequenceNumber"]
    dead.checkpoint(dead.held()["shardId-000000000000"], fourth)
    with wb.streams.consumer("s", "app", worker_id="live", lease_timeout=5) as live:
        assert drain(live, until_caught_up=True) == []  # not expired yet
        clock.advance("5s")
        assert drain(live, until_caught_up=True) == acked[4:]  # from the dead one's checkpoint
        (lease,) = live.leases()
    assert lease["leaseOwner"] == "live" and lease["checkpoint"] == acked_sequence(stream, -1)


def acked_sequence(stream, index):
    it = stream.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")
    return stream.get_records(it)["Records"][index]["SequenceNumber"]


def test_a_worker_whose_lease_was_taken_cannot_checkpoint_it(make_wb):
    wb = make_wb()
    stream = wb.streams.create_stream("s", 2)
    put_keyed(stream, [f"k{i}" for i in range(8)], 2)
    first = wb.streams.consumer("s", "app", worker_id="first")
    batches = {b.shard_id: b for b in first.batches(checkpoint=False, until_caught_up=True)}
    second = wb.streams.consumer("s", "app", worker_id="second")
    list(second.batches(max_batches=0))  # starting, it takes its share: one of two shards
    (taken,) = [lease["leaseKey"] for lease in second.leases() if lease["leaseOwner"] == "second"]
    with pytest.raises(LeaseLost):
        batches[taken].checkpoint()
    (kept,) = set(batches) - {taken}
    batches[kept].checkpoint()
    first.close()
    second.close()
    checkpoints = {lease["leaseKey"]: lease["checkpoint"] for lease in second.leases()}
    assert checkpoints == {taken: "TRIM_HORIZON", kept: batches[kept].last_sequence_number}


@pytest.mark.parametrize(
    "options, message",
    [
        ({"application_name": "bad name"}, "Application name"),
        ({"initial_position": "AT_SEQUENCE_NUMBER"}, "Initial position"),
        ({"initial_position": "AT_TIMESTAMP"}, "timestamp goes with"),
        ({"format": "csv"}, "Format"),
        ({"limit": 0}, "Limit"),
        ({"lease_timeout": 0}, "lease timeout"),
    ],
)
def test_bad_options_are_refused_with_what_is_allowed(make_wb, options, message):
    wb = make_wb()
    wb.streams.create_stream("s", 1)
    options = {"application_name": "app", **options}
    with pytest.raises(InvalidArgumentException, match=message):
        wb.streams.consumer("s", **options)


def test_an_application_of_a_missing_stream_is_refused(make_wb):
    from workbench.errors import ResourceNotFoundException

    with pytest.raises(ResourceNotFoundException):
        make_wb().streams.consumer("nope", "app")


def test_the_application_type_is_public():
    assert ConsumerApplication.__module__.startswith("workbench.streams")
