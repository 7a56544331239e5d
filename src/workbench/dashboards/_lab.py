"""The lab's dashboards, built from panels: what a learner builds by hand in Kibana."""

from __future__ import annotations

import polars as pl

from workbench.clock import Clock
from workbench.dashboards._dashboard import Dashboard
from workbench.dashboards._panels import Panel
from workbench.dashboards._sources import FrameQuery, IndexAggregation, IndexRecords, Window
from workbench.lake import Athena
from workbench.search import SearchIndices

SALES_TITLE = "Real-time Retail Sales Quantity"


def retail_sales(
    search: SearchIndices, clock: Clock, index: str = "retail*", time_field: str = "InvoiceDate"
) -> Dashboard:
    """The lab's Kibana dashboard: Sum of Quantity per auto interval (30 s over the last 15
    minutes, UTC) on index pattern ``retail*``, with the panels a learner adds around it."""

    def aggregation(**kwargs: object) -> IndexAggregation:
        return IndexAggregation(search, index, time_field=time_field, **kwargs)

    histogram = f"date_histogram:{time_field}"
    panels = [
        Panel(SALES_TITLE, "bar", aggregation(bucket=histogram, metric="sum:Quantity"),
              x_title=f"{time_field} per 30 seconds", y_title="Sum of Quantity"),
        Panel("Records", "metric", aggregation(metric="count")),
        Panel("Top countries by quantity", "hbar",
              aggregation(bucket="terms:Country.keyword", metric="sum:Quantity", size=8)),
        Panel("Share of records by country", "pie",
              aggregation(bucket="terms:Country.keyword", size=6)),
        Panel("Records per country over time", "line",
              aggregation(bucket=histogram, metric="count", split="Country.keyword")),
        Panel("Discover", "table", IndexRecords(search, index, time_field, size=15,
              columns=["InvoiceDate", "Invoice", "StockCode", "Description", "Quantity",
                       "Price", "Country"])),
    ]  # fmt: skip
    return Dashboard(SALES_TITLE, panels, clock=clock, time_range="last 15 minutes")


def clickstream_activity(
    search: SearchIndices, clock: Clock, index: str = "clicks*", time_field: str = "event_time"
) -> Dashboard:
    """Active users, top pages and the purchase funnel of the clickstream source."""

    def clicks(**kwargs: object) -> IndexAggregation:
        return IndexAggregation(search, index, time_field=time_field, **kwargs)

    funnel = clicks(
        bucket="terms:event_type.keyword",
        metric="cardinality:session_id",
        query="event_type:(page_view OR add_to_cart OR purchase)",
    )
    panels = [
        Panel("Active users", "metric", clicks(metric="cardinality:user_id.keyword")),
        Panel("Sessions", "metric", clicks(metric="cardinality:session_id")),
        Panel("Events per minute by device", "area",
              clicks(bucket=f"date_histogram:{time_field}", interval="1m", split="device.keyword")),
        Panel("Top pages", "hbar", clicks(bucket="terms:page.keyword", size=8)),
        Panel("Conversion funnel (sessions)", "funnel", funnel),
        Panel("Referrers", "pie", clicks(bucket="terms:referrer.keyword", size=6)),
    ]  # fmt: skip
    return Dashboard("Clickstream activity", panels, clock=clock, time_range="last 1 hour")


def sensor_readings(
    search: SearchIndices, clock: Clock, index: str = "sensors*", time_field: str = "event_time"
) -> Dashboard:
    """Fleet temperatures per minute with the readings labelled anomalous marked on them."""

    def sensors(**kwargs: object) -> IndexAggregation:
        return IndexAggregation(search, index, time_field=time_field, **kwargs)

    histogram = f"date_histogram:{time_field}"
    readings = sensors(bucket=histogram, interval="1m", metric="avg:temperature", split="fleet")
    marked = sensors(bucket=histogram, interval="1m", metric="max:temperature",
                     query="anomaly:true")  # fmt: skip

    def with_markers(window: Window) -> pl.DataFrame:
        anomalies = marked.fetch(window).filter(pl.col("value").is_not_null())
        labelled = anomalies.select("key", pl.lit("anomaly").alias("series"), "value")
        return pl.concat([readings.fetch(window), labelled], how="vertical_relaxed")

    panels = [
        Panel("Temperature by fleet, anomalies marked", "line",
              FrameQuery(with_markers, readings.version), y_title="°C",
              marker_series=("anomaly",)),
        Panel("Anomalous readings", "metric", sensors(metric="count", query="anomaly:true")),
        Panel("Anomalies by kind", "bar",
              sensors(bucket="terms:anomaly_kind.keyword", query="anomaly:true")),
        Panel("Humidity by fleet", "line",
              sensors(bucket=histogram, interval="1m", metric="avg:humidity", split="fleet")),
    ]  # fmt: skip
    return Dashboard("Sensor readings", panels, clock=clock, time_range="last 1 hour")


QUICKSIGHT_TITLE = "Sum of Quantity and Sum of Price by Invoicedate"


def quicksight_sales(
    athena: Athena, clock: Clock, table: str = "mydatabase.retail_trans_json"
) -> Dashboard:
    """The lab's QuickSight visual over the Athena dataset: a vertical bar chart with
    X = invoicedate and the values Sum(quantity) and Sum(price), by day and by quarter.

    The batch layer changes when Firehose lands objects, not on every tick: each refresh asks
    Athena again (its history shows every run), so give the dashboard a long refresh interval.
    """

    def by(unit: str) -> FrameQuery:
        def dataset(window: Window) -> pl.DataFrame:
            result = athena.execute(
                f"SELECT date_trunc('{unit}', invoicedate) AS invoicedate, "
                "sum(quantity) AS quantity, sum(price) AS price "
                f"FROM {table} GROUP BY 1 ORDER BY 1"
            )
            frame = pl.from_arrow(result.to_arrow())
            series = {"quantity": "Sum of Quantity", "price": "Sum of Price"}
            return (
                frame.unpivot(index="invoicedate", on=list(series), variable_name="series")
                .with_columns(pl.col("series").replace_strict(series))
                .rename({"invoicedate": "key"})
                .select("key", "series", "value")
            )

        return FrameQuery(dataset)

    panels = [
        Panel(QUICKSIGHT_TITLE, "bar", by("day"), x_title="invoicedate (day)", stacked=False),
        Panel(f"{QUICKSIGHT_TITLE} (quarter)", "bar", by("quarter"),
              x_title="invoicedate (quarter)", stacked=False),
    ]  # fmt: skip
    return Dashboard("QuickSight: retail sales", panels, clock=clock, columns=1,
                     refresh_every="1m")  # fmt: skip
