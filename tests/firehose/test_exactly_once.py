"""Exactly once: after kill -9 at any moment and a restart, every acknowledged record is in
exactly one delivered object or in the error output; nothing is lost, nothing duplicated."""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import random
import signal
import time
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import SimulatedClock, Workbench
from workbench.firehose import _state

ID_SPACE = 1_000_000


def _record(n: int) -> bytes:
    # Every 13th record has no partition key: it goes to the error output. Partition 0's
    # records are large, so its buffer fills by size while older records of the other
    # partitions still wait: delivered records then sit above the watermark.
    if n % 13 == 0:
        return orjson.dumps({"n": n}) + b"\n"
    pad = "x" * (1000 if n % 4 == 0 else 10)
    return orjson.dumps({"n": n, "k": n % 4, "pad": pad}) + b"\n"


def _create(wb: Workbench, interval: int = 1, **source) -> None:
    wb.lake.create_bucket("lab", exist_ok=True)
    wb.firehose.create_delivery_stream(
        "s",
        **source,
        bucket="lab",
        partition_query="{k: .k}",
        prefix="out/k=!{partitionKeyFromQuery:k}/",
        error_output_prefix="errors/!{firehose:error-output-type}/",
        buffer_size_mb=1,
        buffer_interval_s=interval,
    )


def _delivered(wb: Workbench) -> list[int]:
    """The record numbers in every object of the bucket, errors included, with repeats."""
    found = []
    for obj in wb.lake.list("s3://lab/"):
        for line in wb.lake.get(obj.uri).splitlines():
            record = orjson.loads(line)
            if "rawData" in record:
                record = orjson.loads(base64.b64decode(record["rawData"]))
            found.append(record["n"])
    return found


def _producer_and_deliverer(home: str, run: int, ack_path: str, seed: int) -> None:
    rng = random.Random(seed)
    wb = Workbench(home)
    stream = wb.firehose.delivery_stream("s")
    n = run * ID_SPACE
    with open(ack_path, "a") as ack:
        while True:
            count = rng.randint(1, 300)
            wb.firehose.put_record_batch("s", [_record(i) for i in range(n, n + count)])
            ack.write(f"{n} {n + count}\n")
            ack.flush()
            n += count
            if rng.random() < 0.7:
                stream.step()
            if rng.random() < 0.1:
                stream.flush()


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(tmp_path, processes):
    home = tmp_path / "home"
    _create(Workbench(home))
    ack = tmp_path / "acks.txt"
    ack.touch()
    rng = random.Random(20260301)
    ctx = processes
    crashes = 22
    for run in range(crashes):
        child = ctx.Process(
            target=_producer_and_deliverer, args=(str(home), run, str(ack), rng.random())
        )
        before = ack.stat().st_size
        child.start()
        # Kill while it works: once it has acknowledged something, at a random moment.
        deadline = time.monotonic() + 30
        while ack.stat().st_size == before:
            assert time.monotonic() < deadline, "the producer acknowledged nothing"
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.45))
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
        assert child.exitcode == -signal.SIGKILL
    wb = Workbench(home)
    wb.firehose.delivery_stream("s").flush()
    acknowledged = set()
    for line in ack.read_text().splitlines():
        first, end = map(int, line.split())
        acknowledged.update(range(first, end))
    found = _delivered(wb)
    assert len(acknowledged) > 1000
    duplicates = (
        {n for n in found if found.count(n) > 1} if len(found) != len(set(found)) else set()
    )
    assert not duplicates
    assert acknowledged <= set(found), sorted(acknowledged - set(found))[:10]
    # Anything else delivered was put by a run that died before writing its acknowledgement.
    assert all(n // ID_SPACE < crashes for n in set(found) - acknowledged)
    assert not (home / "lake" / ".tmp").exists() or not any((home / "lake" / ".tmp").iterdir())


def _deliverer(home: str, seed: int) -> None:
    rng = random.Random(seed)
    stream = Workbench(home).firehose.delivery_stream("s")
    while True:
        stream.step()
        if rng.random() < 0.05:
            stream.flush()


def test_kill_9_while_delivering_a_data_stream(tmp_path, processes):
    home = tmp_path / "home"
    wb = Workbench(home)
    source = wb.streams.create_stream("source", shard_count=3)
    # Only partition 0 fills its buffer within a run: the others wait, so the watermark and the
    # application's checkpoint stay behind records already delivered.
    _create(wb, interval=900, kinesis_stream="source")
    rng = random.Random(7)
    ctx = processes
    total = 0
    for _ in range(20):
        # New records arrive between crashes, so every run has a backlog to deliver.
        for first in range(total, total + 1500, 500):
            source.put_records(
                [{"Data": _record(n), "PartitionKey": f"part-{n % 1024:05d}"}
                 for n in range(first, first + 500)]
            )  # fmt: skip
        total += 1500
        child = ctx.Process(target=_deliverer, args=(str(home), rng.random()))
        child.start()
        time.sleep(rng.uniform(0.4, 1.4))  # the child starts up first: it forks from a server
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
        assert child.exitcode == -signal.SIGKILL
    wb = Workbench(home)
    stream = wb.firehose.delivery_stream("s")
    stream.flush()
    found = _delivered(wb)
    assert sorted(found) == list(range(total))
    wb.firehose.close()


class Crash(Exception):
    """Stands for kill -9 at a chosen point of a flush."""


def _crash_at(counter: dict, where: str, target):
    def wrapped(*args, **kwargs):
        counter[where] -= 1
        if counter[where] == 0:
            raise Crash(where)
        return target(*args, **kwargs)

    return wrapped


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=400),  # records put
            st.sampled_from(["step", "advance", "flush", "crash-put", "crash-save", "none"]),
            st.integers(min_value=1, max_value=6),  # which put / save of the flush crashes
        ),
        min_size=1,
        max_size=12,
    )
)
def test_crashes_inside_a_flush_recover_exactly_once(tmp_path_factory, steps):
    home = Path(tmp_path_factory.mktemp("home"))
    clock = SimulatedClock(start="2026-03-01T10:00:00Z")
    wb = Workbench(home, clock=clock)
    _create(wb)
    n = 0
    for count, action, nth in steps:
        wb.firehose.put_record_batch("s", [_record(i) for i in range(n, n + count)])
        n += count
        stream = wb.firehose.delivery_stream("s")
        delivery = stream._delivery
        if action == "advance":
            clock.advance("2s")
        if action.startswith("crash"):
            counter = {"put": nth, "save": nth}
            if action == "crash-put":
                wb.lake.put = _crash_at(counter, "put", wb.lake.put)
            else:
                delivery._state_file.save = _crash_at(counter, "save", delivery._state_file.save)
            with contextlib.suppress(Crash):
                stream.flush()
            # The process "dies": its memory and lock go; the home stays.
            os.close(delivery._lock_fd)
            delivery._lock_fd = None
            wb = Workbench(home, clock=clock)
        elif action in ("step", "advance"):
            stream.step()
        elif action == "flush":
            stream.flush()
    wb.firehose.delivery_stream("s").flush()
    found = _delivered(wb)
    assert sorted(found) == list(range(n))
    state = _state.StateFile(home / "firehose" / "s" / "state.json").load()
    assert state["pending"] is None
    assert state["shards"]["DirectPut"]["ordinal"] == n - 1


@pytest.mark.parametrize("ordinals", [[5, 1, 2, 3], [10], [], [0, 2, 4, 6]])
def test_delivered_ranges(ordinals):
    import numpy as np

    ranges = _state.add_ranges([[20, 22]], np.array(ordinals, dtype=np.int64))
    covered = {o for a, b in ranges for o in range(a, b + 1)}
    assert covered == set(ordinals) | {20, 21, 22}
    assert all(b + 1 < c for (_, b), (c, _) in itertools.pairwise(ranges))
    probe = np.arange(0, 30)
    assert _state.in_ranges(ranges, probe).tolist() == [int(p) in covered for p in probe]


def test_a_crash_before_the_stream_checkpoint_skips_what_is_delivered(tmp_path):
    """Killed after the delivery journal committed but before the consumer application's
    checkpoint: the application hands the records out again and they are skipped."""
    clock = SimulatedClock(start="2026-03-01T10:00:00Z")
    wb = Workbench(tmp_path, clock=clock)
    source = wb.streams.create_stream("source", shard_count=2)
    _create(wb, kinesis_stream="source")
    put = [{"Data": _record(n), "PartitionKey": f"part-{n:05d}"} for n in range(300)]
    source.put_records(put[:200])
    stream = wb.firehose.delivery_stream("s")
    delivery = stream._delivery
    delivery.run_until_idle()
    delivery.source.release = _crash_at({"release": 1}, "release", delivery.source.release)
    with pytest.raises(Crash):
        stream.flush()
    assert sorted(_delivered(wb)) == list(range(200))
    delivery.source.application.close()
    os.close(delivery._lock_fd)
    delivery._lock_fd = None
    wb = Workbench(tmp_path, clock=clock)
    wb.streams.stream("source").put_records(put[200:])
    wb.firehose.delivery_stream("s").flush()
    assert sorted(_delivered(wb)) == list(range(300))
    wb.firehose.close()


@pytest.mark.parametrize("source", ["direct", "stream"])
def test_a_failed_write_to_the_lake_is_retried_without_loss_or_duplicates(tmp_path, source):
    clock = SimulatedClock(start="2026-03-01T10:00:00Z")
    wb = Workbench(tmp_path, clock=clock)
    records = [_record(n) for n in range(400)]
    if source == "stream":
        stream_source = wb.streams.create_stream("source", shard_count=2)
        _create(wb, kinesis_stream="source")
        stream_source.put_records(
            [{"Data": r, "PartitionKey": f"p{i}"} for i, r in enumerate(records)]
        )
    else:
        _create(wb)
        wb.firehose.put_record_batch("s", records)
    stream = wb.firehose.delivery_stream("s")
    real_put = wb.lake.put
    wb.lake.put = _crash_at({"put": 3}, "put", real_put)
    with pytest.raises(Crash):
        stream.flush()
    wb.lake.put = real_put
    stream.flush()
    assert sorted(_delivered(wb)) == list(range(400))
    wb.firehose.close()
