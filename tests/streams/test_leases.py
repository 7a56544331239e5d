"""The lease table and the lease-taking rules, on plain shard ids (no stream needed)."""

import sqlite3

import pytest

from workbench import SimulatedClock
from workbench.streams._coordinator import LeaseCoordinator
from workbench.streams._leases import (
    LATEST,
    SHARD_END,
    TRIM_HORIZON,
    LeaseLost,
    LeaseTable,
)

FOUR = {f"shardId-00000000000{i}": () for i in range(4)}


@pytest.fixture
def clock():
    return SimulatedClock(start="2026-01-01T00:00:00Z")


@pytest.fixture
def make_worker(tmp_path, clock):
    """Workers of one application (one lease table), each with its own connection."""
    opened = []

    def make(worker_id, *, path=tmp_path / "app.sqlite", timeout=10.0, max_leases=None):
        table = LeaseTable(path)
        opened.append(table)
        return LeaseCoordinator(
            table, worker_id, clock, lease_timeout=timeout, max_leases=max_leases
        )

    yield make
    for table in opened:
        table.close()


def from_horizon(shard_id):
    return TRIM_HORIZON


def keys(leases):
    return sorted(lease.lease_key for lease in leases)


def test_a_lease_row_carries_the_kcl_attributes(make_worker):
    a = make_worker("a")
    a.sync({"shardId-000000000002": ("shardId-000000000000",)}, from_horizon)
    (lease,) = a.table.leases()
    assert lease.to_dict() == {
        "leaseKey": "shardId-000000000002",
        "checkpoint": "TRIM_HORIZON",
        "leaseCounter": 0,
        "leaseOwner": None,
        "parentShardId": ["shardId-000000000000"],
        "ownerSwitchesSinceCheckpoint": 0,
    }


def test_initial_position_applies_to_the_first_shards_only(make_worker):
    a = make_worker("a")
    assert a.sync({"s0": (), "s1": ()}, lambda shard_id: LATEST, settings={"x": "1"}) == 2
    assert a.sync({"s0": (), "s1": ()}, lambda shard_id: LATEST) == 0
    assert a.sync({"s2": ("s0",)}, lambda shard_id: LATEST) == 1
    checkpoints = {lease.lease_key: lease.checkpoint for lease in a.table.leases()}
    assert checkpoints == {"s0": LATEST, "s1": LATEST, "s2": TRIM_HORIZON}
    assert a.table.setting("x") == "1"


def test_writes_are_conditional_on_the_counter(make_worker):
    a, b = make_worker("a"), make_worker("b")
    a.sync({"s0": ()}, from_horizon)
    assert a.table.take("s0", "a", expected_counter=0).lease_counter == 1
    assert b.table.take("s0", "b", expected_counter=0) is None  # lost the race
    assert b.table.renew("s0", "b", 1) is None  # not the owner
    assert a.table.checkpoint("s0", "a", 0, "7") is None  # stale counter
    assert a.table.checkpoint("s0", "a", 1, "7") == 2
    lease = a.table.get("s0")
    assert (lease.lease_owner, lease.checkpoint, lease.lease_counter) == ("a", "7", 2)


def _race_to_take(path, worker_id, start, results):
    table = LeaseTable(path)
    start.wait()
    results.put((worker_id, table.take("s0", worker_id, expected_counter=0) is not None))
    table.close()


def test_only_one_process_wins_a_lease(tmp_path, processes):
    path = tmp_path / "app.sqlite"
    LeaseTable(path).create_leases({"s0": ()}, from_horizon)
    ctx = processes
    start, results = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_race_to_take, args=(path, f"w{i}", start, results)) for i in range(4)
    ]
    for proc in procs:
        proc.start()
    start.set()
    outcome = dict(results.get(timeout=30) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    assert sum(outcome.values()) == 1
    (winner,) = [w for w, won in outcome.items() if won]
    assert LeaseTable(path).get("s0").lease_owner == winner


def test_a_child_waits_for_both_parents_of_a_merge(make_worker):
    a = make_worker("a")
    a.sync({"p0": (), "p1": (), "child": ("p0", "p1")}, from_horizon)
    assert keys(a.take_leases()) == ["p0", "p1"]
    held = a.held()
    a.checkpoint(held["p0"], SHARD_END)
    assert a.take_leases() == []  # p1 is not finished yet
    a.checkpoint(held["p1"], "42")
    assert a.take_leases() == []
    a.checkpoint(held["p1"], SHARD_END)
    assert keys(a.take_leases()) == ["child"]
    assert list(a.held()) == ["child"]  # finished parents are given up


def test_a_child_whose_parent_is_gone_from_the_stream_is_active(make_worker):
    a = make_worker("a")
    a.sync({"child": ("expired-parent",)}, from_horizon)
    assert keys(a.take_leases()) == ["child"]


def test_two_workers_share_four_shards_evenly(make_worker):
    a, b = make_worker("a"), make_worker("b")
    a.sync(FOUR, from_horizon)
    assert len(a.take_leases()) == 4
    for _ in range(3):
        b.take_leases()
        a.renew()
    assert len(a.held()) == 2 and len(b.held()) == 2
    assert set(a.held()).isdisjoint(b.held())


def test_max_leases_caps_a_worker(make_worker):
    a = make_worker("a", max_leases=3)
    a.sync(FOUR, from_horizon)
    assert len(a.take_leases()) == 3


def test_a_dead_worker_loses_its_leases_after_the_timeout(make_worker, clock):
    a, b = make_worker("a", timeout=10), make_worker("b", timeout=10)
    a.sync({"s0": ()}, from_horizon)
    a.take_leases()
    assert b.take_leases() == []  # a is alive as far as b can tell
    clock.advance("9s")
    assert b.take_leases() == []
    clock.advance("1s")  # a never renewed: 10 s without a change
    assert keys(b.take_leases()) == ["s0"]
    assert b.table.get("s0").owner_switches_since_checkpoint == 1
    assert a.renew() == ["s0"]
    with pytest.raises(LeaseLost):
        a.checkpoint(b.held()["s0"], "5")


def test_renewing_keeps_a_lease(make_worker, clock):
    a, b = make_worker("a", timeout=10), make_worker("b", timeout=10)
    a.sync({"s0": ()}, from_horizon)
    a.take_leases()
    for _ in range(5):
        b.take_leases()
        clock.advance("6s")
        assert a.renew() == []
    assert b.take_leases() == []
    assert list(a.held()) == ["s0"]


def test_a_checkpoint_after_losing_the_lease_is_refused_and_changes_nothing(make_worker, clock):
    a, b = make_worker("a", timeout=1), make_worker("b", timeout=1)
    a.sync({"s0": ()}, from_horizon)
    a.take_leases()
    held = a.held()["s0"]
    a.checkpoint(held, "10")
    b.take_leases()
    clock.advance("1s")
    b.take_leases()
    with pytest.raises(LeaseLost, match="lost the lease on s0"):
        a.checkpoint(held, "20")
    lease = b.table.get("s0")
    assert (lease.lease_owner, lease.checkpoint) == ("b", "10")


def test_a_clean_shutdown_hands_leases_over_at_once(make_worker):
    a, b = make_worker("a"), make_worker("b")
    a.sync(FOUR, from_horizon)
    a.take_leases()
    a.release_all()
    assert len(b.take_leases()) == 4


def test_the_table_is_a_sqlite_file_in_wal_mode(make_worker):
    a = make_worker("a")
    a.sync(FOUR, from_horizon)
    with sqlite3.connect(a.table.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT count(*) FROM leases").fetchone() == (4,)
