"""Consumer applications and subscriptions: latency and backlog throughput, beside raw reads.

    python benchmarks/consumers.py [--quick] [--json]

Figures: consumer_latency_p99_ms (put in one process, handed out by a consumer application in
another, at 10,000 records/s, checkpointing every batch), subscription_latency_p99_ms (the same
through SubscribeToShard, one subscription per shard), raw_latency_p99_ms (the same with a bare
get_records_arrow loop, the streams benchmark's), consumer_vs_raw_latency_ratio,
consumer_backlog_per_s (a backlog drained through a consumer application as Arrow batches,
checkpointing each) and consumer_vs_raw_backlog_ratio (against bare get_records_arrow calls).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import orjson
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import best_rate, parse_args, report, scratch_dir
from streams import PRODUCER, SHARDS, bench_get, bench_latency, padded_json, retail_rows

from workbench import Workbench

RATE = 10_000
LIMIT_MS = 20.0


def _delays(table) -> np.ndarray:
    sent = (
        pl.from_arrow(table.column("data").cast("string"))
        .str.json_path_match("$.t")
        .cast(pl.Float64)
    )
    return time.time() - sent.to_numpy()


def _p99(delays: list[np.ndarray]) -> float:
    every = np.concatenate(delays) if delays else np.array([float("nan")])
    # The first tenth includes the producer's start-up; measure the steady state.
    return float(np.percentile(every[len(every) // 10 :], 99) * 1000)


def _producing(seconds: float):
    home = scratch_dir(prefix="wb-consumers-")
    wb = Workbench(home=home)
    stream = wb.streams.create_stream("latency", SHARDS)
    src = str(Path(__file__).resolve().parents[1] / "src")

    def start() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", PRODUCER, home, str(RATE), str(seconds)],
            env={**os.environ, "PYTHONPATH": src},
        )

    return wb, stream, start


def bench_consumer_latency(seconds: float) -> float:
    wb, _, start = _producing(seconds)
    delays: list[np.ndarray] = []
    with wb.streams.consumer("latency", "bench", initial_position="LATEST", format="arrow") as app:
        # Take the leases and read each shard once before the producer starts: the first
        # empty read builds (and caches) an empty Arrow table, which imports pandas (~1 s).
        app.run(lambda batch: None, until_caught_up=True)
        producer = start()
        done = threading.Thread(target=lambda: (producer.wait(), app.stop()))
        done.start()
        for batch in app.batches():
            delays.append(_delays(batch.table))
        done.join()
    return _p99(delays)


def bench_subscription_latency(seconds: float) -> float:
    wb, stream, start = _producing(seconds)
    arn = wb.streams.register_stream_consumer(stream.arn, "bench")["Consumer"]["ConsumerARN"]
    subscriptions = [
        wb.streams.subscribe_to_shard(arn, s["ShardId"], {"Type": "LATEST"})
        for s in stream.list_shards()
    ]
    delays: list[np.ndarray] = []

    def follow(subscription) -> None:
        for event in subscription:
            records = event["SubscribeToShardEvent"]["Records"]
            sent = np.array([orjson.loads(r["Data"])["t"] for r in records])
            delays.append(time.time() - sent)

    threads = [threading.Thread(target=follow, args=(s,)) for s in subscriptions]
    for thread in threads:
        thread.start()
    start().wait()
    for subscription in subscriptions:
        subscription.close()
    for thread in threads:
        thread.join()
    return _p99(delays)


def bench_backlog(n: int) -> tuple[float, float]:
    wb = Workbench(home=scratch_dir(prefix="wb-consumers-"))
    stream = wb.streams.create_stream("backlog", SHARDS)
    data = padded_json(retail_rows(n))
    for i in range(0, n, 500):
        stream.put_records(
            [{"Data": d, "PartitionKey": str(i + j)} for j, d in enumerate(data[i : i + 500])]
        )
    # New applications made beforehand: creating a lease table is a one-off, not a read cost.
    apps = iter(
        [wb.streams.consumer("backlog", f"drain-{i}", format="arrow", limit=None) for i in range(3)]
    )

    def drain() -> None:
        with next(apps) as app:
            got = sum(len(b) for b in app.batches(until_caught_up=True))
        assert got == n, got

    raw, _ = bench_get(stream)
    return best_rate(n, drain, repeat=3), raw


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    seconds = 2.0 if args.quick else 5.0
    raw = bench_latency(seconds, RATE)
    consumer = bench_consumer_latency(seconds)
    subscription = bench_subscription_latency(seconds)
    backlog, raw_backlog = bench_backlog(200_000 if args.quick else 1_000_000)
    figures = {
        "consumer_latency_p99_ms": consumer,
        "subscription_latency_p99_ms": subscription,
        "raw_latency_p99_ms": raw,
        "consumer_vs_raw_latency_ratio": consumer / raw,
        "consumer_backlog_per_s": backlog,
        "consumer_vs_raw_backlog_ratio": backlog / raw_backlog,
    }
    rows = [
        ("consumer application p99 at 10,000 rec/s", consumer, "ms"),
        ("subscribe_to_shard p99 at 10,000 rec/s", subscription, "ms"),
        ("bare get_records_arrow loop p99", raw, "ms"),
        ("consumer / bare loop latency", figures["consumer_vs_raw_latency_ratio"], "x"),
        (f"limit (issue): p99 <= {LIMIT_MS:g} ms; consumer / limit", consumer / LIMIT_MS, "x"),
        ("consumer application, backlog as Arrow", backlog, "records/s"),
        ("bare get_records_arrow, same backlog", raw_backlog, "records/s"),
        ("consumer / bare backlog rate", figures["consumer_vs_raw_backlog_ratio"], "x"),
    ]
    report("Consumer applications", rows, figures, args.json)


if __name__ == "__main__":
    main()
