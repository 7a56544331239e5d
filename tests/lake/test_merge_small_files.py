"""The lab's MergeSmallFiles job and its hourly schedule on the workbench clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import polars as pl
import pyarrow.parquet as pq
import pytest

from workbench import SimulatedClock, Workbench
from workbench.errors import EntityNotFoundException
from workbench.lake import MergeSmallFiles, write_retail_sample

BUCKET = "retail-lab"


@pytest.fixture
def make_job(tmp_path):
    def make(start="2010-03-01T10:30:00Z", hours=3):
        wb = Workbench(home=tmp_path / "home", clock=SimulatedClock(start=start))
        wb.lake.create_bucket(BUCKET)
        records = write_retail_sample(
            wb.lake,
            f"s3://{BUCKET}/json-data/",
            rows=3000,
            start="2010-03-01 10:00",
            hours=hours,
            rows_per_object=200,
        ).with_columns(pl.col("InvoiceDate").str.to_datetime("%Y-%m-%d %H:%M:%S"))
        for sql in MergeSmallFiles.lab_setup(BUCKET):
            wb.athena.execute(sql)
        return wb, MergeSmallFiles(wb.athena, bucket=BUCKET), records

    return make


def _hour(records: pl.DataFrame, hour: int) -> pl.DataFrame:
    return records.filter(pl.col("InvoiceDate").dt.hour() == hour)


def test_an_hour_of_small_json_objects_becomes_one_snappy_parquet_object(make_job):
    wb, job, records = make_job()
    small = wb.lake.list(f"s3://{BUCKET}/json-data/year=2010/month=03/day=01/hour=11/")
    assert len(small) > 1
    result = job.run(datetime(2010, 3, 1, 11, tzinfo=UTC))
    expected = _hour(records, 11)
    assert result["rows"] == expected.height
    location = f"s3://{BUCKET}/parquet-retail-trans/year=2010/month=03/day=01/hour=11/"
    assert result["location"] == location
    merged = wb.lake.list(location)
    assert len(merged) == 1
    with wb.lake.open(merged[0].uri) as f:
        metadata = pq.ParquetFile(f).metadata
        assert metadata.row_group(0).column(0).compression == "SNAPPY"
        assert metadata.num_rows == expected.height
    answer = wb.athena.execute(
        "SELECT count(*) n, sum(quantity) q, count(DISTINCT invoice) i FROM "
        "mydatabase.ctas_retail_trans_parquet WHERE year=2010 AND month=3 AND day=1 AND hour=11"
    ).to_polars()
    assert answer.row(0) == (
        expected.height,
        expected["Quantity"].sum(),
        expected["Invoice"].n_unique(),
    )
    shown = wb.athena.execute("SHOW PARTITIONS mydatabase.ctas_retail_trans_parquet")
    assert shown.to_arrow()["partition"].to_pylist() == ["year=2010/month=3/day=1/hour=11"]
    tables = wb.athena.execute("SHOW TABLES IN mydatabase").to_arrow()["tab_name"].to_pylist()
    assert tables == ["ctas_retail_trans_parquet", "retail_trans_json"]  # no tmp_ table left


def test_running_a_merged_hour_again_adds_nothing(make_job):
    wb, job, records = make_job()
    job.run("2010-03-01T10:00:00Z")
    again = job.run("2010-03-01T10:00:00Z")
    assert again["rows"] == 0
    count = wb.athena.execute("SELECT count(*) n FROM mydatabase.ctas_retail_trans_parquet")
    assert count.to_arrow()["n"].to_pylist() == [_hour(records, 10).height]


def test_the_statements_are_the_labs(make_job):
    _, job, _ = make_job()
    alter, _, ctas, drop, target = job.statements(datetime(2010, 3, 1, 9, tzinfo=UTC))
    assert alter.startswith("ALTER TABLE mydatabase.retail_trans_json ADD IF NOT EXISTS PARTITION")
    assert "format='PARQUET', parquet_compression='SNAPPY'" in ctas
    assert "parquet-retail-trans/year=2010/month=03/day=01/hour=09/" in ctas
    assert drop == "DROP TABLE IF EXISTS mydatabase.tmp_ctas_retail_trans_parquet"
    assert target.startswith("ALTER TABLE mydatabase.ctas_retail_trans_parquet ADD IF NOT EXISTS")


def test_without_the_target_table_the_job_says_what_to_create(tmp_path):
    wb = Workbench(home=tmp_path, clock=SimulatedClock(start="2010-03-01"))
    wb.lake.create_bucket(BUCKET)
    wb.athena.execute(MergeSmallFiles.lab_setup(BUCKET)[0])
    with pytest.raises(EntityNotFoundException, match="lab_setup"):
        MergeSmallFiles(wb.athena, bucket=BUCKET).run("2010-03-01T00:00Z")


def test_the_schedule_runs_hourly_at_minute_five_stepwise_and_survives_a_restart(make_job):
    wb, job, records = make_job()
    schedule = job.schedule()
    assert schedule.next_due == datetime(2010, 3, 1, 11, 5, tzinfo=UTC)
    assert schedule.run_due() == []
    wb.clock.advance("34m")  # 11:04
    assert schedule.run_due() == []
    wb.clock.advance("1m")  # 11:05: the 10:00 hour is due
    assert schedule.run_due() == [datetime(2010, 3, 1, 10, tzinfo=UTC)]
    wb.clock.advance("2h")  # 13:05: 11:00 and 12:00 are due
    restarted = job.schedule()  # a new process would read the same state
    assert [h.hour for h in restarted.run_due()] == [11, 12]
    assert not restarted.errors
    count = wb.athena.execute("SELECT count(*) n FROM mydatabase.ctas_retail_trans_parquet")
    assert count.to_arrow()["n"].to_pylist() == [records.height]


def test_the_schedule_runs_in_the_background_on_simulated_time(make_job):
    wb, job, records = make_job()
    schedule = job.schedule()
    schedule.start()
    try:
        wb.clock.advance("3h")
        deadline = time.monotonic() + 30
        while schedule.next_due.hour != 14 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        schedule.stop()
    assert schedule.next_due == datetime(2010, 3, 1, 14, 5, tzinfo=UTC)
    count = wb.athena.execute("SELECT count(*) n FROM mydatabase.ctas_retail_trans_parquet")
    assert count.to_arrow()["n"].to_pylist() == [records.height]
