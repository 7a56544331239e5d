"""Data Streams throughput and latency, side by side with moto's in-process Kinesis.

    python benchmarks/streams.py [--quick] [--json]

Figures: put_records_per_s (100-byte JSON records into 4 shards, batches of 500, OS-durable),
put_frame_per_s (a polars frame of the same rows, keyed by a customer column),
put_record_calls_per_s, get_records_per_s (the backlog of 4 shards into Arrow tables),
latency_p99_ms (put in one process to get_records in another at 10,000 records/s), and
vs_moto_put_ratio / vs_moto_get_ratio (the same PutRecords and GetRecords through boto3 against
moto's mock_aws, in this run).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import orjson
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import best_rate, parse_args, report, scratch_dir

from workbench import Workbench

SHARDS = 4
BATCH = 500


def retail_rows(n: int) -> list[dict]:
    return [
        {
            "Invoice": f"{536365 + i // 7}",
            "StockCode": f"{85000 + i % 997}A",
            "Quantity": i % 12 + 1,
            "Price": round(1.25 + (i % 50) / 10, 2),
            "Customer_ID": f"{12346 + i % 10000}",
            "Country": "United Kingdom",
        }
        for i in range(n)
    ]


def padded_json(rows: list[dict]) -> list[bytes]:
    return [orjson.dumps(r).ljust(100) for r in rows]


def bench_puts(n: int) -> tuple[dict[str, float], object]:
    wb = Workbench(home=scratch_dir(prefix="wb-bench-"))
    rows = retail_rows(n)
    data = padded_json(rows)
    batches = [
        [
            {"Data": d, "PartitionKey": r["Customer_ID"]}
            for d, r in zip(data[i : i + BATCH], rows[i : i + BATCH], strict=True)
        ]
        for i in range(0, n, BATCH)
    ]
    streams = iter(range(1000))

    def put_records() -> None:
        stream = wb.streams.create_stream(f"pr{next(streams)}", SHARDS)
        for batch in batches:
            stream.put_records(batch)

    frame = pl.DataFrame(rows)

    def put_frame() -> None:
        name = f"pf{next(streams)}"
        wb.streams.create_stream(name, SHARDS).put_frame(frame, "Customer_ID")
        backlogs.append(name)

    backlogs: list[str] = []

    calls = max(n // 20, 2000)

    def put_record() -> None:
        stream = wb.streams.create_stream(f"p1{next(streams)}", SHARDS)
        for i in range(calls):
            stream.put_record(data[i], rows[i]["Customer_ID"])

    return {
        "put_records_per_s": best_rate(n, put_records),
        "put_frame_per_s": best_rate(n, put_frame),
        "put_record_calls_per_s": best_rate(calls, put_record),
    }, wb.streams.stream(backlogs[-1])


def bench_get(stream) -> tuple[float, int]:

    def read() -> None:
        rows = 0
        for shard in stream.list_shards():
            it = stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")
            rows += stream.get_records_arrow(it).table.num_rows
        read.rows = rows

    read()
    total = read.rows
    return best_rate(total, read, repeat=5), total


PRODUCER = textwrap.dedent(
    """
    import sys, time, orjson
    from workbench import Workbench
    stream = Workbench(home=sys.argv[1]).streams.stream("latency")
    rate, seconds = float(sys.argv[2]), float(sys.argv[3])
    per_batch = 10
    start = time.time()
    sent = 0
    while time.time() - start < seconds:
        # max(): the clock moves on between reading it and sleeping.
        time.sleep(max(0.0, start + sent / rate - time.time()))
        now = time.time()
        stream.put_records([
            {"Data": orjson.dumps({"t": now, "i": sent + i}), "PartitionKey": str(sent + i)}
            for i in range(per_batch)
        ])
        sent += per_batch
    """
)


def bench_latency(seconds: float, rate: float = 10_000) -> float:
    home = scratch_dir(prefix="wb-latency-")
    wb = Workbench(home=home)
    stream = wb.streams.create_stream("latency", SHARDS)
    iterators = {
        s["ShardId"]: stream.get_shard_iterator(s["ShardId"], "LATEST")
        for s in stream.list_shards()
    }
    src = str(Path(__file__).resolve().parents[1] / "src")
    producer = subprocess.Popen(
        [sys.executable, "-c", PRODUCER, home, str(rate), str(seconds)],
        env={**os.environ, "PYTHONPATH": src},
    )
    delays: list[np.ndarray] = []
    while producer.poll() is None:
        for shard, it in iterators.items():
            got = stream.get_records_arrow(it)
            iterators[shard] = got.next_shard_iterator
            if got.table.num_rows:
                now = time.time()
                sent = (
                    pl.from_arrow(got.table.column("data").cast("string"))
                    .str.json_path_match("$.t")
                    .cast(pl.Float64)
                )
                delays.append(now - sent.to_numpy())
        time.sleep(0.001)
    all_delays = np.concatenate(delays) if delays else np.array([float("nan")])
    # The first half second includes the producer's start-up; measure the steady state.
    return float(np.percentile(all_delays[len(all_delays) // 10 :], 99) * 1000)


def bench_moto(n: int) -> tuple[float, float]:
    import boto3
    from moto import mock_aws

    data = padded_json(retail_rows(n))
    with mock_aws():
        client = boto3.client("kinesis", region_name="us-east-1")
        client.create_stream(StreamName="moto", ShardCount=SHARDS)
        started = time.perf_counter()
        for i in range(0, n, BATCH):
            client.put_records(
                StreamName="moto",
                Records=[
                    {"Data": d, "PartitionKey": str(i + j)}
                    for j, d in enumerate(data[i : i + BATCH])
                ],
            )
        put_rate = n / (time.perf_counter() - started)
        started = time.perf_counter()
        got = 0
        for shard in client.list_shards(StreamName="moto")["Shards"]:
            it = client.get_shard_iterator(
                StreamName="moto", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while it:
                answer = client.get_records(ShardIterator=it, Limit=10000)
                got += len(answer["Records"])
                it = answer["NextShardIterator"] if answer["Records"] else None
        get_rate = got / (time.perf_counter() - started)
    return put_rate, get_rate


def machine_md5_ns() -> float:
    """Nanoseconds per hashlib MD5 of a short key: how busy this machine is right now (about
    250 on an idle laptop core), to read the other figures against."""
    import hashlib

    rounds = 200_000
    return 1e9 / best_rate(rounds, lambda: [hashlib.md5(b"17850").digest() for _ in range(rounds)])


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    calibration = machine_md5_ns()
    n = 200_000 if args.quick else 1_000_000
    puts, backlog_stream = bench_puts(n)
    get_rate, backlog = bench_get(backlog_stream)
    latency = bench_latency(2.0 if args.quick else 5.0)
    moto_n = 5_000 if args.quick else 20_000
    moto_put, moto_get = bench_moto(moto_n)
    figures = {
        **puts,
        "get_records_per_s": get_rate,
        "latency_p99_ms": latency,
        "vs_moto_put_ratio": puts["put_records_per_s"] / moto_put,
        "vs_moto_get_ratio": get_rate / moto_get,
        "machine_md5_ns": calibration,
        "load_average_1m": os.getloadavg()[0],
    }
    rows = [
        ("put_records (500/batch, 4 shards)", puts["put_records_per_s"], "records/s"),
        ("put_frame (polars, 4 shards)", puts["put_frame_per_s"], "records/s"),
        ("put_record", puts["put_record_calls_per_s"], "calls/s"),
        (f"get_records_arrow (backlog of {backlog:,})", get_rate, "records/s"),
        ("put-to-consumer p99 at 10,000 rec/s", latency, "ms"),
        (f"moto put_records ({moto_n:,} records)", moto_put, "records/s"),
        ("moto get_records", moto_get, "records/s"),
        ("vs moto: put", figures["vs_moto_put_ratio"], "x"),
        ("vs moto: get", figures["vs_moto_get_ratio"], "x"),
        ("machine: one MD5 call (idle laptop ~250)", calibration, "ns"),
        ("machine: load average (1 min)", figures["load_average_1m"], ""),
    ]
    report("Data Streams", rows, figures, args.json)


if __name__ == "__main__":
    main()
