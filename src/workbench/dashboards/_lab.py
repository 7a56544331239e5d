"""The lab's dashboards, built from panels: what a learner builds by hand in Kibana."""

from __future__ import annotations

from workbench.clock import Clock
from workbench.dashboards._dashboard import Dashboard
from workbench.dashboards._panels import Panel
from workbench.dashboards._sources import IndexAggregation, IndexRecords
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
