"""Durability across kill -9, torn tails and several processes on one home."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workbench import WallClock, Workbench

SRC = str(Path(__file__).resolve().parents[2] / "src")

# A process that imports everything once and then forks one producer per round, so each of
# the many kill -9 rounds costs a fork, not a Python start-up.
ZYGOTE = textwrap.dedent(
    """
    import os, random, signal, sys
    from workbench import Workbench
    import workbench.streams

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    home, name, acks = sys.argv[1:4]
    for line in sys.stdin:
        round_no = int(line)
        pid = os.fork()
        if pid == 0:
            stream = Workbench(home=home).streams.stream(name)
            fd = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            rng = random.Random(round_no)
            i = 0
            while True:
                n = rng.choice([1, 1, 3, 50, 500])
                ids = [f"{round_no}-{i + j}" for j in range(n)]
                if n == 1:
                    done = [stream.put_record(ids[0].encode(), ids[0])]
                else:
                    entries = [{"Data": x.encode(), "PartitionKey": x} for x in ids]
                    done = stream.put_records(entries)["Records"]
                lines = "".join(
                    f"{x} {a['ShardId']} {a['SequenceNumber']}\\n" for x, a in zip(ids, done)
                )
                os.write(fd, lines.encode())
                i += n
        print(pid, flush=True)
    """
)


def everything(home, name="s"):
    """{data: (shard, sequence number)} of every record, read by a fresh workbench; asserts
    that nothing is read twice and sequence numbers increase within each shard."""
    stream = Workbench(home=home, clock=WallClock()).streams.stream(name)
    found = {}
    for shard in stream.list_shards():
        it = stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")
        table = stream.get_records_arrow(it).table
        seqs = [int(s) for s in table.column("sequence_number").to_pylist()]
        assert seqs == sorted(set(seqs)), "sequence numbers must strictly increase"
        keys = table.column("partition_key").to_pylist()
        for data, key, seq in zip(table.column("data").to_pylist(), keys, seqs, strict=True):
            assert data.decode() == key, "a record is whole: its data matches its key"
            assert data not in found, f"{data!r} read twice"
            found[data] = (shard["ShardId"], str(seq))
    return found


def acknowledged(path):
    acks = {}
    if path.exists():
        for line in path.read_text().split("\n")[:-1]:  # the last line may be torn
            data, shard, seq = line.split(" ")
            acks[data.encode()] = (shard, seq)
    return acks


@pytest.mark.timeout(120)
def test_kill_9_at_random_moments_loses_no_acknowledged_record(tmp_path):
    home, acks = tmp_path / "home", tmp_path / "acks"
    Workbench(home=home).streams.create_stream("s", 2)
    env = {**os.environ, "PYTHONPATH": SRC}
    zygote = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE, str(home), "s", str(acks)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    rng = random.Random(7)
    try:
        for round_no in range(20):
            zygote.stdin.write(f"{round_no}\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            # Kill while it produces: once it has acknowledged something, at a random moment.
            before = acks.stat().st_size if acks.exists() else 0
            deadline = time.monotonic() + 30
            while (acks.stat().st_size if acks.exists() else 0) == before:
                assert time.monotonic() < deadline, "the producer acknowledged nothing"
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.2))
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.005)
            found = everything(home)
            expected = acknowledged(acks)
            missing = {k: v for k, v in expected.items() if found.get(k) != v}
            assert not missing, f"round {round_no}: {len(missing)} acknowledged records lost"
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=10)
    assert len(acknowledged(acks)) > 1000


PRODUCER = textwrap.dedent(
    """
    import sys
    from workbench import Workbench
    stream = Workbench(home=sys.argv[1]).streams.stream("s")
    tag = sys.argv[2]
    for batch in range(40):
        ids = [f"{tag}-{batch * 50 + i}" for i in range(50)]
        if batch % 2:
            for x in ids:
                stream.put_record(x.encode(), x)
        else:
            stream.put_records([{"Data": x.encode(), "PartitionKey": x} for x in ids])
    """
)


@pytest.mark.timeout(120)
def test_two_producer_processes_and_a_live_reader(tmp_path):
    home = tmp_path / "home"
    wb = Workbench(home=home)
    stream = wb.streams.create_stream("s", 2)
    iterators = {
        s["ShardId"]: stream.get_shard_iterator(s["ShardId"], "LATEST")
        for s in stream.list_shards()
    }
    env = {**os.environ, "PYTHONPATH": SRC}
    producers = [
        subprocess.Popen([sys.executable, "-c", PRODUCER, str(home), tag], env=env)
        for tag in ("a", "b")
    ]
    live = []
    deadline = time.monotonic() + 100
    while len(live) < 4000 and time.monotonic() < deadline:
        for shard, it in iterators.items():
            answer = stream.get_records(it)
            live.extend(r["Data"].decode() for r in answer["Records"])
            iterators[shard] = answer["NextShardIterator"]
        time.sleep(0.01)
    assert [p.wait(timeout=60) for p in producers] == [0, 0]
    assert sorted(live) == sorted(f"{t}-{i}" for t in "ab" for i in range(2000))
    found = everything(home)
    assert len(found) == 4000
    for shard in {s for s, _ in found.values()}:
        for tag in "ab":
            mine = sorted(
                (int(seq), int(d.decode().split("-")[1]))
                for d, (s, seq) in found.items()
                if s == shard and d.startswith(tag.encode())
            )
            numbers = [n for _, n in mine]
            assert numbers == sorted(numbers), "each producer's records keep their order"


def test_torn_tails_are_cut_on_reopen(tmp_path):
    home = tmp_path / "home"
    stream = Workbench(home=home).streams.create_stream("s", 1)
    stream.put_records([{"Data": f"r{i}".encode(), "PartitionKey": f"r{i}"} for i in range(5)])
    stream.close()
    segment = next((home / "streams/s/shards/shardId-000000000000").glob("0*"))
    # What a writer killed mid-batch leaves: data, keys and offsets of records never committed
    # to `ts`, and half an entry of `ts` itself.
    for name, garbage in [
        ("data", b"half a rec"),
        ("key", b"hal"),
        ("data.off", (999).to_bytes(4, "little") + b"\x01"),
        ("seq", b"4" * 60),
        ("ts", b"\x01\x02\x03"),
    ]:
        with open(segment / name, "ab") as f:
            f.write(garbage)
    assert set(everything(home)) == {f"r{i}".encode() for i in range(5)}
    again = Workbench(home=home).streams.stream("s")
    again.put_record(b"r5", "r5")
    assert set(everything(home)) == {f"r{i}".encode() for i in range(6)}
    assert (segment / "ts").stat().st_size == 6 * 8


def test_fsync_streams_flush_before_acknowledging(tmp_path, monkeypatch):
    stream = Workbench(home=tmp_path).streams.create_stream("s", 1, fsync=True)
    calls = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (calls.append(fd), real(fd)))
    stream.put_record(b"x", "x")
    assert len(calls) == 6  # five column files, then the commit file


def test_writers_of_two_processes_follow_each_others_segment_rollover(tmp_path):
    """Two workbenches on one home stand for two processes, each with its own open files."""
    from workbench import SimulatedClock

    clock = SimulatedClock(start="2026-01-01")
    one = Workbench(home=tmp_path, clock=clock).streams.create_stream("s", 1)
    two = Workbench(home=tmp_path, clock=clock).streams.stream("s")
    sent = []
    for step in range(6):
        writer = (one, two)[step % 2]
        for i in range(3):
            data = f"{step}-{i}".encode()
            writer.put_record(data, data.decode())
            sent.append(data)
        clock.advance("61m")  # every hour a new segment, started by whichever writes next
    folder = tmp_path / "streams/s/shards/shardId-000000000000"
    assert len(list(folder.glob("0*"))) == 6
    it = one.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")
    table = one.get_records_arrow(it).table
    assert table.column("data").to_pylist() == sent
    seqs = [int(s) for s in table.column("sequence_number").to_pylist()]
    assert seqs == sorted(set(seqs))


def test_threads_sharing_one_stream_object(tmp_path):
    import threading

    stream = Workbench(home=tmp_path).streams.create_stream("s", 2)

    def produce(tag):
        for batch in range(20):
            ids = [f"{tag}-{batch * 10 + i}" for i in range(10)]
            if batch % 2:
                for x in ids:
                    stream.put_record(x.encode(), x)
            else:
                stream.put_records([{"Data": x.encode(), "PartitionKey": x} for x in ids])

    threads = [threading.Thread(target=produce, args=(tag,)) for tag in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    found = everything(tmp_path)
    assert sorted(found) == sorted(f"{t}-{i}".encode() for t in "abcd" for i in range(200))


def test_a_process_keeps_few_files_open_however_many_shards_it_writes(tmp_path):
    stream = Workbench(home=tmp_path).streams.create_stream("s", 100)
    before = len(os.listdir("/proc/self/fd"))
    for start in range(0, 2000, 500):
        ids = [str(i) for i in range(start, start + 500)]
        stream.put_records([{"Data": x.encode(), "PartitionKey": x} for x in ids])
    assert len(os.listdir("/proc/self/fd")) - before <= 32 * 7
    assert len(everything(tmp_path)) == 2000


KEYED_PRODUCER = textwrap.dedent(
    """
    import os, sys
    from workbench import Workbench
    stream = Workbench(home=sys.argv[1]).streams.stream("s")
    tag, stop = sys.argv[2], sys.argv[3]
    n = 0
    while not os.path.exists(stop):
        key = f"{tag}{n % 7}"
        if n % 3:
            stream.put_record(f"{key}:{n}".encode(), key)
        else:
            stream.put_records([{"Data": f"{key}:{n}".encode(), "PartitionKey": key}])
        n += 1
    print(n)
    """
)


@pytest.mark.timeout(120)
def test_resharding_while_other_processes_produce_keeps_every_record_in_key_order(tmp_path):
    home = tmp_path / "home"
    stream = Workbench(home=home, clock=WallClock()).streams.create_stream("s", 2)
    env = {**os.environ, "PYTHONPATH": SRC}
    stop = tmp_path / "stop"
    producers = [
        subprocess.Popen(
            [sys.executable, "-c", KEYED_PRODUCER, str(home), tag, str(stop)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    deadline = time.monotonic() + 60
    while True:  # until both producers are producing
        keys = set()
        for shard in stream.list_shards():
            it = stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")
            keys.update(stream.get_records_arrow(it).table.column("partition_key").to_pylist())
        if {k[0] for k in keys} == {"a", "b"}:
            break
        assert time.monotonic() < deadline, "the producers did not start"
        time.sleep(0.05)
    steps = [
        lambda: stream.update_shard_count(4),
        lambda: stream.update_shard_count(3),
        lambda: stream.update_shard_count(5),
        lambda: stream.update_shard_count(3),
    ]
    for step in steps:
        step()
        time.sleep(0.1)
    stop.touch()
    counts = [int(p.communicate(timeout=100)[0]) for p in producers]
    shards = {s["ShardId"]: s for s in stream.list_shards()}
    done: set[str] = set()
    seen: dict[str, list[int]] = {}
    while len(done) < len(shards):
        for sid, s in sorted(shards.items()):
            parents = {s.get("ParentShardId"), s.get("AdjacentParentShardId")} - {None}
            if sid in done or not parents <= done:
                continue
            it = stream.get_shard_iterator(sid, "TRIM_HORIZON")
            for data in stream.get_records_arrow(it).table.column("data").to_pylist():
                key, n = data.decode().split(":")
                seen.setdefault(key, []).append(int(n))
            done.add(sid)
    expected = {
        f"{tag}{k}": [n for n in range(count) if n % 7 == k]
        for tag, count in zip("ab", counts, strict=True)
        for k in range(7)
    }
    assert seen == expected
