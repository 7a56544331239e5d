"""Firehose: JSON -> Parquet delivery of a backlogged data stream of retail records, end to end,
beside the raw limit (the same JSON records parsed and written to Parquet once with pyarrow).

    python benchmarks/firehose.py [--quick] [--json]

End to end: a consumer application reads the stream's backlog, records are converted with the
OpenX rules into the lab's retail columns, buffered (128 MiB hints) and written as Snappy Parquet
objects into the lake with the exactly-once delivery journal. The raw limit does only the
conversion and one Parquet write of the same records, with nothing around them.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import parse_args, report, stopwatch

from workbench import SimulatedClock, Workbench
from workbench.sources import retail

COLUMNS = {
    "invoice": "string", "stockcode": "string", "description": "string", "quantity": "int",
    "invoicedate": "timestamp", "price": "float", "customer_id": "string", "country": "string",
}  # fmt: skip


def _backlog(wb: Workbench, records: int) -> list[bytes]:
    """A data stream holding ``records`` retail records; their JSON as the producer sent it."""
    stream = wb.streams.create_stream("retail-trans", shard_count=2)
    frame = retail(seed=7).frame(records)
    stream.put_frame(frame, partition_key="Invoice")
    return [line.encode() for line in retail(seed=7).json_lines(records)]


def _create(wb: Workbench) -> None:
    wb.lake.create_bucket("lab")
    wb.firehose.create_delivery_stream(
        "retail-trans",
        kinesis_stream="retail-trans",
        bucket="lab",
        prefix="parquet/year=!{timestamp:yyyy}/month=!{timestamp:MM}/",
        error_output_prefix="errors/!{firehose:error-output-type}/",
        parquet_columns=COLUMNS,
        buffer_size_mb=128,
        buffer_interval_s=900,
    )


def _deliver(wb: Workbench) -> int:
    stream = wb.firehose.delivery_stream("retail-trans")
    metrics = stream.flush()
    wb.firehose.close()
    return metrics["delivered_records"]


def _raw(lines: list[bytes]) -> int:
    table = pj.read_json(
        io.BytesIO(b"\n".join(lines)),
        read_options=pj.ReadOptions(block_size=64 << 20),
    )
    renamed = table.rename_columns([c.lower() for c in table.column_names])
    typed = pa.table(
        {
            name: renamed.column(name).cast(
                pa.timestamp("ms") if kind == "timestamp"
                else pa.int32() if kind == "int"
                else pa.float32() if kind == "float"
                else pa.string()
            )
            for name, kind in COLUMNS.items()
        }
    )  # fmt: skip
    sink = io.BytesIO()
    pq.write_table(typed, sink, compression="snappy")
    return typed.num_rows


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    records = 200_000 if args.quick else 2_000_000
    with tempfile.TemporaryDirectory() as home:
        wb = Workbench(home, clock=SimulatedClock(start="2026-03-01T10:00:00Z"))
        lines = _backlog(wb, records)
        _create(wb)
        with stopwatch() as elapsed:
            delivered = _deliver(wb)
        delivery_s = elapsed()
        objects = wb.lake.list("s3://lab/parquet/")
        assert delivered == records, (delivered, records)
        assert (
            sum(pq.read_metadata(io.BytesIO(wb.lake.get(o.uri))).num_rows for o in objects)
            == records
        )
    with stopwatch() as elapsed:
        _raw(lines)
    raw_s = elapsed()
    rate, raw_rate = records / delivery_s, records / raw_s
    figures = {
        "records": records,
        "delivered_records_per_s": round(rate),
        "raw_parquet_records_per_s": round(raw_rate),
        "vs_raw_parquet_ratio": round(rate / raw_rate, 3),
        "objects": len(objects),
        "source": "KinesisStreamAsSource (backlogged data stream, 2 shards)",
    }
    report(
        "Firehose JSON -> Parquet delivery of a backlogged stream",
        [
            ("records delivered", records, "records"),
            ("end to end", rate, "records/s"),
            ("raw limit (pyarrow read_json + Parquet write)", raw_rate, "records/s"),
            ("ratio", rate / raw_rate, "x raw"),
        ],
        figures,
        args.json,
    )


if __name__ == "__main__":
    main()
