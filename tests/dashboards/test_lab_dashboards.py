"""The clickstream and sensor dashboards against answers computed from the same events."""

from datetime import timedelta

import polars as pl
import pytest

from workbench import SimulatedClock, Workbench
from workbench.dashboards import clickstream_activity, sensor_readings
from workbench.sources import clickstream, sensors

START = "2026-03-01T11:00:00Z"


def indexed(tmp_path, source, index, n):
    """A workbench whose ``index`` holds the first n events of ``source``, the clock at the last."""
    wb = Workbench(home=tmp_path / index, clock=SimulatedClock(start=START))
    events = list(source(seed=5, start=START).records(n))
    wb.search.index_documents(index, [(str(i), e) for i, e in enumerate(events)])
    frame = pl.DataFrame(events, infer_schema_length=None).with_columns(
        pl.col("event_time").str.to_datetime(time_zone="UTC")
    )
    wb.clock.set(frame["event_time"].max() + timedelta(seconds=1))
    return wb, frame.filter(pl.col("event_time") >= frame["event_time"].max() - timedelta(hours=1))


def test_clickstream_funnel_counts_sessions_reaching_each_stage(tmp_path):
    wb, events = indexed(tmp_path, clickstream, "clicks", 4000)
    board = clickstream_activity(wb.search, wb.clock)
    funnel = board.frame("Conversion funnel (sessions)")
    expected = {
        stage: events.filter(pl.col("event_type") == stage)["session_id"].n_unique()
        for stage in ("page_view", "add_to_cart", "purchase")
    }
    assert dict(zip(funnel["key"], funnel["value"], strict=True)) == expected
    assert funnel["key"].to_list() == ["page_view", "add_to_cart", "purchase"]
    assert board.frame("Active users")["value"][0] == events["user_id"].n_unique()
    figure = board.figures()[4]
    assert figure.data[0].type == "funnel"


def test_sensor_dashboard_marks_the_labelled_anomalies(tmp_path):
    wb, events = indexed(tmp_path, sensors, "sensors", 6000)
    board = sensor_readings(wb.search, wb.clock)
    frame = board.frame("Temperature by fleet, anomalies marked")
    anomalous = events.filter(pl.col("anomaly"))
    assert anomalous.height > 0
    minutes = anomalous.select(pl.col("event_time").dt.truncate("1m")).unique().height
    marks = frame.filter(pl.col("series") == "anomaly")
    assert marks.height == minutes
    assert set(frame["series"].unique()) == {*events["fleet"].unique(), "anomaly"}
    assert board.frame("Anomalous readings")["value"][0] == anomalous.height
    line = board.figures()[0]
    assert [t.mode for t in line.data if t.name == "anomaly"] == ["markers"]


def test_quicksight_chart_sums_quantity_and_price_per_day_and_quarter(tmp_path):
    from workbench.dashboards import QUICKSIGHT_TITLE, quicksight_sales
    from workbench.lake import MergeSmallFiles, write_retail_sample

    wb = Workbench(home=tmp_path / "qs", clock=SimulatedClock(start=START))
    wb.lake.create_bucket("lab")
    rows = write_retail_sample(wb.lake, "s3://lab/json-data/", rows=3000,
                               start="2010-11-29 20:00", hours=60)  # fmt: skip
    for sql in MergeSmallFiles.lab_setup("lab")[:2]:
        wb.athena.execute(sql)
    wb.athena.execute("MSCK REPAIR TABLE mydatabase.retail_trans_json")
    board = quicksight_sales(wb.athena, wb.clock)
    frame = board.frame(QUICKSIGHT_TITLE)
    days = rows.with_columns(pl.col("InvoiceDate").str.to_datetime().dt.truncate("1d").alias("day"))
    expected = days.group_by("day").agg(pl.col("Quantity").sum(), pl.col("Price").sum()).sort("day")
    quantity = frame.filter(pl.col("series") == "Sum of Quantity").sort("key")
    price = frame.filter(pl.col("series") == "Sum of Price").sort("key")
    assert [k.date() for k in quantity["key"]] == [d.date() for d in expected["day"]]
    assert quantity["value"].to_list() == expected["Quantity"].to_list()
    assert price["value"].to_list() == pytest.approx(expected["Price"].to_list(), rel=1e-5)
    quarters = board.frame(f"{QUICKSIGHT_TITLE} (quarter)")
    assert (
        quarters.filter(pl.col("series") == "Sum of Quantity")["value"].sum()
        == rows["Quantity"].sum()
    )
    figure = board.figures()[0]
    assert figure.layout.barmode == "group" and {t.name for t in figure.data} == {
        "Sum of Quantity",
        "Sum of Price",
    }
