"""The main job behind ``make demo``: the whole pipeline on the embedded default, step by step.

Each service adds one step. A step takes the workbench and returns what it produced and where,
so the demo can end by telling the user where to look.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workbench._workbench import Workbench
from workbench.clock import SimulatedClock


@dataclass(frozen=True)
class Output:
    """Something a demo step made: what it is and where it lives."""

    what: str
    where: str


Step = Callable[[Workbench], list[Output]]


def _clock_step(wb: Workbench) -> list[Output]:
    start = wb.clock.isoformat()
    wb.clock.advance("1h")
    return [Output(f"simulated clock moved from {start} to {wb.clock.isoformat()}", "in memory")]


def _streams_step(wb: Workbench) -> list[Output]:
    import random

    rng = random.Random(42)
    stream = wb.streams.create_stream("retail-trans", 4)
    rows = [
        {
            "Invoice": str(536365 + i // 5),
            "StockCode": f"{rng.randint(10000, 99999)}",
            "Quantity": rng.randint(1, 12),
            "Price": round(rng.uniform(0.5, 20), 2),
            "Customer_ID": str(rng.randint(12346, 18287)),
            "Country": rng.choice(["United Kingdom", "France", "Germany", "EIRE"]),
        }
        for i in range(1000)
    ]
    put = stream.put_frame(rows, "Customer_ID")
    read = 0
    for shard in stream.list_shards():
        iterator = stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")
        read += stream.get_records_arrow(iterator).table.num_rows
    per_shard = ", ".join(f"{k[-2:]}: {v['Records']}" for k, v in sorted(put["Shards"].items()))
    return [
        Output(
            f"stream retail-trans: {put['Records']} records put ({per_shard}), {read} read back",
            "in memory",
        ),
        Output("retail-trans shard segments", str(stream.folder / "shards")),
    ]


def _server_step(wb: Workbench) -> list[Output]:
    import boto3

    from workbench.server import Endpoint

    with Endpoint(wb) as url:
        kinesis = boto3.client(
            "kinesis",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="workbench",
            aws_secret_access_key="workbench",
        )
        kinesis.create_stream(StreamName="boto3-round-trip", ShardCount=1)
        put = kinesis.put_record(
            StreamName="boto3-round-trip", Data=b'{"hello": "kinesis"}', PartitionKey="part-00001"
        )
        iterator = kinesis.get_shard_iterator(
            StreamName="boto3-round-trip", ShardId=put["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = kinesis.get_records(ShardIterator=iterator)["Records"]
    return [
        Output(
            f"boto3 put_record/get_records round trip: {len(records)} record back, data "
            f"{records[0]['Data'].decode()}, through the endpoint",
            url,
        ),
    ]


def _sources_step(wb: Workbench) -> list[Output]:
    from workbench.errors import ResourceNotFoundException
    from workbench.sources import retail

    try:
        stream = wb.streams.stream("retail-trans")
    except ResourceNotFoundException:
        stream = wb.streams.create_stream("retail-trans", 1)
    counts = retail(clock=wb.clock).producer(stream, max_count=1000, fast=True).run()
    return [
        Output(
            f"retail producer: {counts['sent']} records into retail-trans in "
            f"{counts['batches']} PutRecords calls, keys part-00001..part-01024",
            str(stream.folder),
        )
    ]


def _firehose_step(wb: Workbench) -> list[Output]:
    from workbench.errors import ResourceNotFoundException

    try:
        wb.streams.stream("retail-trans")
    except ResourceNotFoundException:
        _sources_step(wb)
    bucket = "retail-analytics-lab"
    wb.lake.create_bucket(bucket, exist_ok=True)
    wb.firehose.create_delivery_stream(
        "retail-trans",
        kinesis_stream="retail-trans",
        bucket=bucket,
        prefix="json-data/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}"
        "/hour=!{timestamp:HH}/",
        error_output_prefix="error-json/year=!{timestamp:yyyy}/month=!{timestamp:MM}"
        "/day=!{timestamp:dd}/hour=!{timestamp:HH}/!{firehose:error-output-type}",
        buffer_size_mb=1,
        buffer_interval_s=60,
    )
    delivery = wb.firehose.delivery_stream("retail-trans")
    delivery.run_until_idle()
    wb.clock.advance("60s")
    metrics = delivery.run_until_idle()
    wb.firehose.close()
    objects = wb.lake.list(f"s3://{bucket}/json-data/")
    return [
        Output(
            f"Firehose retail-trans: {metrics['delivered_records']} records in "
            f"{len(objects)} objects under json-data/year=/month=/day=/hour=",
            f"s3://{bucket}/json-data/ ({wb.lake.where}/{bucket}/json-data)",
        )
    ]


STEPS: list[tuple[str, Step]] = [
    ("Simulated clock", _clock_step),
    ("Data Streams", _streams_step),
    ("Sources", _sources_step),
    ("Firehose into the lake", _firehose_step),
    ("AWS-compatible endpoint", _server_step),
]


def run_demo(home: str, report: Callable[[str], None] = print) -> list[Output]:
    """Run every step on a workbench at ``home`` with a simulated clock; report as it goes."""
    wb = Workbench(home=home, clock=SimulatedClock(start="2026-01-01T00:00:00Z"))
    report(f"Workbench home: {wb.home.path}")
    outputs: list[Output] = []
    for number, (title, step) in enumerate(STEPS, start=1):
        report(f"[{number}/{len(STEPS)}] {title}")
        made = step(wb)
        for output in made:
            report(f"    {output.what}: {output.where}")
        outputs.extend(made)
    report("Outputs:")
    report(f"    home folder (every service's state): {wb.home.path}")
    for output in outputs:
        if output.where != "in memory":
            report(f"    {output.what}: {output.where}")
    return outputs
