"""Factories for Lake SQL tests: a workbench with the lab's data landed and its SQL at hand."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pytest

from workbench import SimulatedClock, Workbench
from workbench.lake import write_retail_sample

BUCKET = "retail-lab"

CREATE_DATABASE = "CREATE DATABASE IF NOT EXISTS mydatabase"
CREATE_TABLE = """CREATE EXTERNAL TABLE IF NOT EXISTS `mydatabase.retail_trans_json`(
  `invoice` string COMMENT 'Invoice number', `stockcode` string COMMENT 'Product (item) code',
  `description` string COMMENT 'Product (item) name',
  `quantity` int COMMENT 'The quantities of each product (item) per transaction',
  `invoicedate` timestamp COMMENT 'Invoice date and time', `price` float COMMENT 'Unit price',
  `customer_id` string COMMENT 'Customer number', `country` string COMMENT 'Country name')
PARTITIONED BY (`year` int, `month` int, `day` int, `hour` int)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.IgnoreKeyTextOutputFormat'
LOCATION 's3://{bucket}/json-data'"""
REPAIR = "MSCK REPAIR TABLE mydatabase.retail_trans_json"
SHOW_PARTITIONS = "SHOW PARTITIONS mydatabase.retail_trans_json"
SELECT_10 = "SELECT * FROM retail_trans_json LIMIT 10"
MONTHLY_REVENUE = """SELECT date_trunc('month', invoicedate) invoice_year_month,
  sum(price*quantity) revenue
  FROM mydatabase.retail_trans_json
  WHERE invoicedate BETWEEN timestamp '2010-01-01' AND timestamp '2010-12-31'
  GROUP BY date_trunc('month', invoicedate);"""
CTAS = """CREATE TABLE retail_parquet_ctas_table WITH (external_location='s3://{bucket}/parquet-data/',
  format='PARQUET') AS SELECT * FROM retail_trans_json;"""

# Two landings: across a month end inside 2010, and across the year end, where the lab's
# BETWEEN ... timestamp '2010-12-31' stops at midnight of the 31st.
LANDINGS = [("2010-11-30 22:00", 4, 1), ("2010-12-31 20:00", 8, 2)]


@dataclass
class Lab:
    wb: Workbench
    records: pl.DataFrame
    bucket: str = BUCKET

    def sql(self, text: str, **kwargs):
        return self.wb.athena.execute(text.format(bucket=self.bucket), **kwargs)

    def setup(self) -> None:
        """The lab's steps up to a queryable table: database, table, MSCK REPAIR."""
        for statement in (CREATE_DATABASE, CREATE_TABLE, REPAIR):
            self.sql(statement)
        self.wb.athena.database = "mydatabase"


@pytest.fixture
def make_lab(tmp_path):
    """A factory: ``make_lab(rows=...)`` lands the lab's data in a fresh workbench's lake."""

    def make(rows: int = 6000, landings=LANDINGS, home=None) -> Lab:
        wb = Workbench(home=home or tmp_path / "home", clock=SimulatedClock(start="2026-01-01"))
        wb.lake.create_bucket(BUCKET, exist_ok=True)
        frames = [
            write_retail_sample(
                wb.lake,
                f"s3://{BUCKET}/json-data/",
                rows=rows,
                start=start,
                hours=hours,
                rows_per_object=700,
                seed=seed,
            )
            for start, hours, seed in landings
        ]
        records = pl.concat(frames).with_columns(
            pl.col("InvoiceDate").str.to_datetime("%Y-%m-%d %H:%M:%S")
        )
        return Lab(wb, records)

    return make
