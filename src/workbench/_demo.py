"""The main job behind ``make demo``: the whole pipeline on the embedded default, step by step.

Each service adds one step. A step takes the workbench and returns what it produced and where,
so the demo can end by telling the user where to look.

The demo creates the lab's resources by their lab names, so it runs in a home of its own
(``workbench-demo`` unless told otherwise), made afresh on every run: a folder it made before
(it leaves a mark) is replaced, and any other folder that holds something is refused untouched.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench._home import DEMO_HOME
from workbench._workbench import Workbench
from workbench.clock import SimulatedClock
from workbench.errors import ResourceInUseException


@dataclass(frozen=True)
class Output:
    """Something a demo step made: what it is and where it lives."""

    what: str
    where: str


Step = Callable[[Workbench], list[Output]]

# The lab's data (the Online Retail II set) and its SQL are about 2010: the demo's simulated day
# is one of that year, so the records the producer sends and Firehose lands carry 2010 dates and
# the Athena step's revenue query, verbatim, finds them.
START = "2010-12-01T09:00:00Z"
FIREHOSE_BUCKET = "retail-analytics-lab"


def _clock_step(wb: Workbench) -> list[Output]:
    start = wb.clock.isoformat()
    wb.clock.advance("1h")
    return [Output(f"simulated clock moved from {start} to {wb.clock.isoformat()}", "in memory")]


def _streams_step(wb: Workbench) -> list[Output]:
    from workbench.sources import Rate, retail

    stream = wb.streams.create_stream("retail-trans", 4)
    # The last quarter of an hour of shopping, keyed by invoice so that the lines of one
    # invoice share a shard and keep their order.
    # Each record one JSON line, newline appended, as the lab's producer sends them: Firehose
    # lands them as they are and Athena reads its objects line by line.
    frame = retail(seed=42, start=wb.clock.now() - 900, rate=Rate(1000 / 900)).frame(1000)
    lines = frame.write_ndjson().splitlines(keepends=True)
    records = [
        {"Data": line.encode(), "PartitionKey": key}
        for line, key in zip(lines, frame["Invoice"], strict=True)
    ]
    shards: Counter[str] = Counter()
    for start in range(0, len(records), 500):
        put = stream.put_records(records[start : start + 500])
        shards.update(r["ShardId"] for r in put["Records"])
    read = 0
    for shard in stream.list_shards():
        iterator = stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")
        read += stream.get_records_arrow(iterator).table.num_rows
    per_shard = ", ".join(f"{k[-2:]}: {n}" for k, n in sorted(shards.items()))
    return [
        Output(
            f"stream retail-trans: {shards.total()} records put ({per_shard}), {read} read back",
            "in memory",
        ),
        Output("retail-trans shard segments", str(stream.folder / "shards")),
    ]


def _video_step(wb: Workbench) -> list[Output]:
    import base64

    from workbench.video import SyntheticCamera

    stream = wb.video.create_stream("demo-camera", data_retention_in_hours=24)
    start = wb.clock.now()
    acks = stream.put_media(SyntheticCamera(640, 480, 15, seed=1).frames(6, start=start))
    folder = wb.home.service_dir("video") / "demo"
    folder.mkdir(exist_ok=True)
    clip = folder / "clip.mp4"
    clip.write_bytes(stream.get_clip(start, start + 6)["Payload"])
    image = stream.get_images(start + 3, start + 3, sampling_interval=1000, width=320)
    thumbnail = folder / "thumbnail.jpg"
    thumbnail.write_bytes(base64.b64decode(image["Images"][0]["ImageContent"]))
    return [
        Output(f"video stream demo-camera: {len(acks)} fragments of 6 s at 640x480", stream.arn),
        Output("H.264 clip of the camera (plays in a browser)", str(clip)),
        Output("thumbnail at 3 s", str(thumbnail)),
    ]


def _analytics_step(wb: Workbench) -> list[Output]:
    from workbench.sources import retail

    stream = wb.streams.create_stream("analytics-retail", 1)
    stream.put_frame(retail(seed=7, clock=wb.clock).frame(3000), partition_key="Country")
    wb.analytics.create_table(
        "retail",
        stream,
        event_time="InvoiceDate",
        time_format="%Y-%m-%d %H:%M:%S",
        watermark="5s",
        schema={"InvoiceDate": "VARCHAR", "Country": "VARCHAR", "Quantity": "BIGINT"},
    )
    query = wb.analytics.create_sql_query(
        "quantity_per_country",
        """SELECT window_start, window_end, Country, SUM(Quantity) AS quantity
           FROM TABLE(TUMBLE(TABLE retail, DESCRIPTOR(InvoiceDate), INTERVAL '1' MINUTE))
           GROUP BY window_start, window_end, Country""",
        idle_timeout=60,
    )
    query.run_until_idle()
    wb.clock.advance("10m")  # the stream goes quiet: the idle timeout closes the last windows
    query.run_until_idle()
    metrics = query.metrics()
    results = query.results()
    return [
        Output(
            f"analytics: {metrics['records_in']} retail records, {results.height} window results "
            f"({metrics['late_records']} late records), watermark {metrics['watermark']}",
            "in memory",
        ),
        Output("quantity_per_country checkpoint and results", str(query.folder)),
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


def _speed_layer_step(wb: Workbench) -> list[Output]:
    from workbench.dashboards import retail_sales
    from workbench.functions.upsert_to_es import make_handler

    mapping = wb.functions.create_event_source_mapping(
        make_handler(wb.search.client()),
        "retail-trans",
        function_name="UpsertToES",
        batch_size=1000,
        starting_position="TRIM_HORIZON",
        environment={"ES_INDEX": "retail", "DATE_TYPE_FIELDS": "InvoiceDate",
                     "REQUIRED_FIELDS": "Invoice,StockCode,Customer_ID"},
    )  # fmt: skip
    with contextlib.redirect_stderr(io.StringIO()):  # the function's per-batch log lines
        delivered = mapping.poll(until_caught_up=True)
    mapping.close()
    board = retail_sales(wb.search, wb.clock)
    page = board.to_html(wb.home.service_dir("dashboards") / "real-time-retail-sales.html")
    return [
        Output(
            f"UpsertToES: {delivered} records in {mapping.metrics.invocations} invocations, "
            f"{wb.search.count('retail')} documents in index retail",
            str(wb.home.path / "search"),
        ),
        Output(f"Kibana dashboard '{board.title}' (offline HTML)", str(page)),
    ]


def _firehose_step(wb: Workbench) -> list[Output]:
    from workbench.errors import ResourceNotFoundException

    try:
        wb.streams.stream("retail-trans")
    except ResourceNotFoundException:
        _sources_step(wb)
    bucket = FIREHOSE_BUCKET
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
    folders = sorted({o.key.rpartition("/")[0] for o in objects})
    return [
        Output(
            f"Firehose retail-trans: {metrics['delivered_records']} records in "
            f"{len(objects)} object{'' if len(objects) == 1 else 's'} under "
            f"{', '.join(folders)}/",
            f"s3://{bucket}/json-data/ ({wb.lake.where}/{bucket}/json-data)",
        )
    ]


def _athena_step(wb: Workbench) -> list[Output]:
    from workbench.lake import MergeSmallFiles

    bucket = FIREHOSE_BUCKET
    if not wb.lake.bucket_exists(bucket) or not wb.lake.list(f"s3://{bucket}/json-data/"):
        _firehose_step(wb)
    for sql in MergeSmallFiles.lab_setup(bucket)[:2]:
        wb.athena.execute(sql)
    wb.athena.execute("MSCK REPAIR TABLE mydatabase.retail_trans_json")
    result = wb.athena.execute(
        "SELECT date_trunc('month', invoicedate) invoice_year_month, sum(price*quantity) revenue "
        "FROM mydatabase.retail_trans_json "
        "WHERE invoicedate BETWEEN timestamp '2010-01-01' AND timestamp '2010-12-31' "
        "GROUP BY date_trunc('month', invoicedate)"
    )
    months = ", ".join(
        f"{row['invoice_year_month']:%Y-%m}: {row['revenue']:,.2f}"
        for row in sorted(result.to_arrow().to_pylist(), key=lambda r: r["invoice_year_month"])
    )
    return [
        Output(
            "Glue catalog table mydatabase.retail_trans_json over what Firehose landed",
            f"s3://{bucket}/json-data/",
        ),
        Output(f"Athena monthly revenue ({months})", result.output_location),
    ]


STEPS: list[tuple[str, Step]] = [
    ("Simulated clock", _clock_step),
    ("Data Streams", _streams_step),
    ("Sources", _sources_step),
    ("Firehose into the lake", _firehose_step),
    ("Athena: the lab's table and monthly revenue query", _athena_step),
    ("Data Analytics windows", _analytics_step),
    ("Speed layer: UpsertToES into the search index, the Kibana dashboard", _speed_layer_step),
    ("Video Streams: a synthetic camera, fragments, a clip and a thumbnail", _video_step),
    ("AWS-compatible endpoint", _server_step),
]


_MARK = ".workbench-demo"  # in a home the demo made, so it may replace it


def fresh_demo_home(home: str | Path) -> Path:
    """``home`` emptied for a new run: made, or replaced when an earlier demo made it.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "demo"
    >>> (fresh_demo_home(folder) / "left-over").touch()
    >>> [path.name for path in fresh_demo_home(folder).iterdir()]
    ['.workbench-demo']
    """
    folder = Path(home).expanduser().resolve()
    if folder.exists() and any(folder.iterdir()):
        if not (folder / _MARK).is_file():
            raise ResourceInUseException(
                f"{folder} holds other work, and the demo starts from an empty home each run: "
                f"give it a new folder with --home (it made {DEMO_HOME} by default)"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _MARK).write_text("made by `workbench demo`, which makes it afresh on each run\n")
    return folder


def run_demo(home: str | Path, report: Callable[[str], None] = print) -> list[Output]:
    """Run every step on a workbench at ``home`` (empty: see :func:`fresh_demo_home`) with a
    simulated clock; report as it goes."""
    wb = Workbench(home=home, clock=SimulatedClock(start=START))
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
