"""The lab's batch layer end to end: the retail producer's records through Firehose `retail-trans`
into the lake on simulated time, then Athena over what landed; and Firehose's Parquet conversion
taking its schema from the catalog table Athena created."""

from __future__ import annotations

import io

import polars as pl

from workbench import SimulatedClock, Workbench
from workbench.lake import MergeSmallFiles
from workbench.sources import retail

BUCKET = "retail-lab"
HOURLY = "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"


def test_athena_reads_what_firehose_delivered(tmp_path):
    wb = Workbench(home=tmp_path, clock=SimulatedClock(start="2010-12-31T22:30:00Z"))
    wb.lake.create_bucket(BUCKET)
    for sql in MergeSmallFiles.lab_setup(BUCKET)[:2]:
        wb.athena.execute(sql)
    wb.firehose.create_delivery_stream(
        "retail-trans",
        bucket=BUCKET,
        prefix=f"json-data/{HOURLY}",
        error_output_prefix=f"error-json/{HOURLY}!{{firehose:error-output-type}}",
        buffer_size_mb=1,
        buffer_interval_s=60,
    )
    wb.firehose.create_delivery_stream(
        "retail-parquet",
        bucket=BUCKET,
        prefix=f"parquet-fh/{HOURLY}",
        error_output_prefix="error-parquet/!{firehose:error-output-type}/",
        parquet_table="mydatabase.retail_trans_json",
    )
    sent = []
    # Three batches, an hour apart, across the year's end: three hourly folders.
    for batch in range(3):
        lines = [line + "\n" for line in retail(seed=batch, clock=wb.clock).json_lines(400)]
        sent.extend(lines)
        for name in ("retail-trans", "retail-parquet"):
            wb.firehose.put_record_batch(name, lines)
            wb.firehose.delivery_stream(name).flush()
        wb.clock.advance("1h")
    records = pl.read_ndjson(io.StringIO("".join(sent))).with_columns(
        pl.col("InvoiceDate").str.to_datetime("%Y-%m-%d %H:%M:%S")
    )

    repaired = wb.athena.execute("MSCK REPAIR TABLE mydatabase.retail_trans_json")
    assert [line.rsplit(":", 1)[-1] for line in repaired.to_arrow()["result"].to_pylist()[1:]] == [
        "year=2010/month=12/day=31/hour=22",
        "year=2010/month=12/day=31/hour=23",
        "year=2011/month=01/day=01/hour=00",
    ]
    wb.athena.database = "mydatabase"
    totals = wb.athena.execute(
        "SELECT count(*) n, sum(quantity) q, count(DISTINCT invoice) i FROM retail_trans_json"
    ).to_polars()
    assert totals.row(0) == (
        records.height,
        records["Quantity"].sum(),
        records["Invoice"].n_unique(),
    )
    in_2011 = wb.athena.execute("SELECT count(*) n FROM retail_trans_json WHERE year = 2011")
    expected = records.filter(pl.col("InvoiceDate").dt.year() == 2011).height
    assert in_2011.to_arrow()["n"].to_pylist() == [expected]

    wb.athena.execute(
        "CREATE EXTERNAL TABLE parquet_fh (`invoice` string, `quantity` int, `price` float, "
        "`customer_id` string) PARTITIONED BY (`year` int, `month` int, `day` int, `hour` int) "
        f"STORED AS PARQUET LOCATION 's3://{BUCKET}/parquet-fh/'"
    )
    wb.athena.execute("MSCK REPAIR TABLE parquet_fh")
    query = "SELECT count(*) n, sum(quantity) q, count(customer_id) c FROM {}"
    assert (
        wb.athena.execute(query.format("parquet_fh")).to_arrow()
        == wb.athena.execute(query.format("retail_trans_json")).to_arrow()
    )
