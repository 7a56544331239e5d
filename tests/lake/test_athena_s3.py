"""The same lab SQL over a lake on S3-compatible storage (a moto server on loopback)."""

from __future__ import annotations

import io
import uuid

import numpy as np
import polars as pl

from tests.lake.conftest import CTAS, MONTHLY_REVENUE, Lab
from workbench import SimulatedClock, Workbench
from workbench.lake import MergeSmallFiles, write_retail_sample


def test_lab_sql_on_an_s3_lake(moto_endpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LAKE_ENDPOINT_URL", moto_endpoint)
    wb = Workbench(home=tmp_path, clock=SimulatedClock(start="2026-01-01"))
    bucket = f"lab-{uuid.uuid4().hex[:8]}"
    wb.lake.create_bucket(bucket)
    assert "127.0.0.1" in repr(wb.lake)
    records = write_retail_sample(
        wb.lake,
        f"s3://{bucket}/json-data/",
        rows=3000,
        start="2010-11-30 22:00",
        hours=4,
        rows_per_object=500,
    ).with_columns(pl.col("InvoiceDate").str.to_datetime("%Y-%m-%d %H:%M:%S"))
    lab = Lab(wb, records, bucket=bucket)
    lab.setup()

    revenue = lab.sql(MONTHLY_REVENUE).to_polars().sort("invoice_year_month")
    expected = (
        records.group_by(pl.col("InvoiceDate").dt.truncate("1mo").alias("m"))
        .agg((pl.col("Price").cast(pl.Float32) * pl.col("Quantity")).sum().alias("r"))
        .sort("m")
    )
    np.testing.assert_allclose(revenue["revenue"].to_numpy(), expected["r"].to_numpy(), 1e-6)
    saved = pl.read_csv(io.BytesIO(wb.lake.get(lab.sql("SELECT 1 AS one").output_location)))
    assert saved["one"].to_list() == [1]

    lab.sql(CTAS)
    count = lab.sql("SELECT count(*) n FROM retail_parquet_ctas_table").to_arrow()
    assert count["n"].to_pylist() == [records.height]
    lab.sql(
        "CREATE TABLE by_hour WITH (external_location='s3://{bucket}/by-hour/', format='PARQUET', "
        "partitioned_by=ARRAY['hour']) AS SELECT invoice, quantity, hour FROM retail_trans_json"
    )
    hours = lab.sql("SHOW PARTITIONS by_hour").to_arrow()["partition"].to_pylist()
    assert sorted(hours) == sorted(f"hour={h}" for h in records["InvoiceDate"].dt.hour().unique())
    by_hour = lab.sql("SELECT count(*) n FROM by_hour WHERE hour = 23").to_arrow()
    assert by_hour["n"].to_pylist() == [(records["InvoiceDate"].dt.hour() == 23).sum()]

    pruned = lab.sql("SELECT count(*) n FROM retail_trans_json WHERE day = 1 AND hour = 0")
    hour = records.filter(
        (pl.col("InvoiceDate").dt.day() == 1) & (pl.col("InvoiceDate").dt.hour() == 0)
    )
    assert pruned.to_arrow()["n"].to_pylist() == [hour.height]

    for sql in MergeSmallFiles.lab_setup(bucket)[2:]:
        lab.sql(sql)
    merged = MergeSmallFiles(wb.athena, bucket=bucket).run("2010-12-01T01:00:00Z")
    later = records.filter(pl.col("InvoiceDate") >= pl.datetime(2010, 12, 1, 1))
    assert merged["rows"] == later.filter(pl.col("InvoiceDate").dt.hour() == 1).height
    assert [o.key.endswith(".parquet") for o in wb.lake.list(merged["location"])] == [True]
