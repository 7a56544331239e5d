"""The lab's Athena SQL, verbatim, against answers computed independently from the records."""

from __future__ import annotations

import io
from datetime import datetime

import numpy as np
import polars as pl
import pytest

from tests.lake.conftest import (
    CREATE_DATABASE,
    CREATE_TABLE,
    CTAS,
    MONTHLY_REVENUE,
    REPAIR,
    SELECT_10,
    SHOW_PARTITIONS,
)

COLUMNS = [
    "invoice",
    "stockcode",
    "description",
    "quantity",
    "invoicedate",
    "price",
    "customer_id",
    "country",
    "year",
    "month",
    "day",
    "hour",
]


def _hours(records: pl.DataFrame) -> list[str]:
    return sorted(
        records.select(pl.col("InvoiceDate").dt.strftime("year=%Y/month=%m/day=%d/hour=%H"))
        .unique()
        .to_series()
        .to_list()
    )


def test_every_statement_of_the_lab_runs_and_answers_right(make_lab):
    lab = make_lab()
    records = lab.records

    assert lab.sql(CREATE_DATABASE).table.num_rows == 0
    lab.sql(CREATE_TABLE)
    # Before MSCK REPAIR the table has no partitions, so Athena finds nothing.
    assert lab.sql("SELECT count(*) n FROM mydatabase.retail_trans_json").to_arrow()[
        "n"
    ].to_pylist() == [0]

    repaired = lab.sql(REPAIR).to_arrow()["result"].to_pylist()
    assert sum(line.startswith("Repair: Added partition") for line in repaired) == len(
        _hours(records)
    )
    shown = lab.sql(SHOW_PARTITIONS).to_arrow()["partition"].to_pylist()
    assert shown == _hours(records)  # zero-padded, as the folders are named

    first = lab.sql(SELECT_10, database="mydatabase").to_polars()
    lab.wb.athena.database = "mydatabase"  # the console's Database list
    assert first.height == 10
    assert first.columns == COLUMNS
    assert first.schema["quantity"] == pl.Int32 and first.schema["month"] == pl.Int32
    assert first.schema["invoicedate"] == pl.Datetime("us")
    # Keys arrive as Customer_ID, Invoice...: the OpenX SerDe matches them case-insensitively.
    assert first["invoice"].null_count() == 0 and first["customer_id"].null_count() == 0
    assert set(first["month"].to_list()) <= {11, 12, 1}

    revenue = lab.sql(MONTHLY_REVENUE).to_polars().sort("invoice_year_month")
    in_range = records.filter(
        pl.col("InvoiceDate").is_between(datetime(2010, 1, 1), datetime(2010, 12, 31))
    )
    expected = (
        in_range.group_by(pl.col("InvoiceDate").dt.truncate("1mo").alias("invoice_year_month"))
        .agg((pl.col("Price").cast(pl.Float32) * pl.col("Quantity")).sum().alias("revenue"))
        .sort("invoice_year_month")
    )
    assert revenue["invoice_year_month"].to_list() == expected["invoice_year_month"].to_list()
    np.testing.assert_allclose(revenue["revenue"].to_numpy(), expected["revenue"].to_numpy(), 1e-6)
    # The year-end landing only counts up to midnight of the 31st.
    assert in_range.height < records.height

    ctas = lab.sql(CTAS, database="mydatabase")
    assert ctas.to_arrow()["rows"].to_pylist() == [records.height]
    parquet = lab.wb.lake.list(f"s3://{lab.bucket}/parquet-data/")
    assert parquet and all(o.key.endswith(".parquet") for o in parquet)
    count = lab.sql("SELECT count(*) n, sum(quantity) q FROM retail_parquet_ctas_table").to_polars()
    assert count.row(0) == (records.height, records["Quantity"].sum())


def test_each_result_is_saved_as_csv_in_the_results_location(make_lab):
    lab = make_lab(rows=2000)
    lab.setup()
    result = lab.sql(MONTHLY_REVENUE)
    assert result.output_location == (
        f"s3://{lab.bucket}/athena-query-results/{result.query_id}.csv"
    )
    saved = pl.read_csv(io.BytesIO(lab.wb.lake.get(result.output_location)))
    assert saved.columns == ["invoice_year_month", "revenue"]
    assert sorted(saved["revenue"].to_list()) == pytest.approx(
        sorted(result.to_polars()["revenue"].to_list())
    )
    again = lab.wb.athena.get_query_results(result.query_id).sort("invoice_year_month")
    assert again["invoice_year_month"].to_list() == sorted(
        result.to_polars()["invoice_year_month"].to_list()
    )
    shown = lab.sql(SHOW_PARTITIONS)
    assert shown.output_location.endswith(".txt")
    text = lab.wb.lake.get(shown.output_location).decode().splitlines()
    assert text == shown.to_arrow()["partition"].to_pylist()


def test_results_location_is_configurable(make_lab):
    lab = make_lab(rows=500)
    lab.wb.lake.create_bucket("results")
    lab.wb.athena.output_location = "s3://results/mine"
    lab.setup()
    result = lab.sql("SELECT count(*) FROM retail_trans_json")
    assert result.output_location == f"s3://results/mine/{result.query_id}.csv"
    assert lab.wb.lake.exists(result.output_location)


def test_results_come_as_polars_pandas_and_arrow(make_lab):
    lab = make_lab(rows=500)
    lab.setup()
    result = lab.sql(
        "SELECT country, count(*) n FROM retail_trans_json GROUP BY 1 ORDER BY 2 DESC, 1"
    )
    expected = (
        lab.records.group_by("Country").len().sort(["len", "Country"], descending=[True, False])
    )
    assert result.to_polars()["n"].to_list() == expected["len"].to_list()
    assert result.to_pandas()["country"].tolist() == expected["Country"].to_list()
    assert result.to_arrow().num_rows == expected.height == len(result)


def test_history_records_state_time_and_data_scanned(make_lab):
    lab = make_lab(rows=1000)
    lab.setup()
    ok = lab.sql("SELECT sum(quantity) FROM retail_trans_json")
    with pytest.raises(Exception, match="SYNTAX_ERROR"):
        lab.sql("SELEC 1")
    history = lab.wb.athena.history()
    assert history["state"].to_list()[:2] == ["FAILED", "SUCCEEDED"]
    assert history["query_id"][1] == ok.query_id
    objects = lab.wb.lake.list(f"s3://{lab.bucket}/json-data/")
    assert history["data_scanned_bytes"][1] == sum(o.size for o in objects)
    execution = lab.wb.athena.get_query_execution(ok.query_id)
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert execution["Statistics"]["DataScannedInBytes"] == sum(o.size for o in objects)
    assert execution["ResultConfiguration"]["OutputLocation"] == ok.output_location
    assert (
        "SYNTAX_ERROR"
        in lab.wb.athena.get_query_execution(history["query_id"][0])["Status"]["StateChangeReason"]
    )
