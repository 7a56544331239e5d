"""Dashboards: Kibana- and QuickSight-like panels in the notebook, live on the workbench clock.

>>> import tempfile
>>> from workbench import SimulatedClock, Workbench
>>> from workbench.dashboards import Dashboard, IndexAggregation, Panel
>>> wb = Workbench(home=tempfile.mkdtemp(), clock=SimulatedClock(start="2026-01-01T00:15:00Z"))
>>> _ = wb.search.index_documents("retail", [("1", {"Quantity": 4,
...                                               "InvoiceDate": "2026-01-01T00:10:00Z"})])
>>> source = IndexAggregation(wb.search, "retail*", bucket="date_histogram:InvoiceDate",
...                           metric="sum:Quantity", time_field="InvoiceDate")
>>> board = Dashboard("Sales", [Panel("Quantity", "bar", source)], clock=wb.clock)
>>> board.frame("Quantity")["value"].sum()
4.0
"""

from workbench.dashboards._dashboard import Dashboard
from workbench.dashboards._lab import (
    QUICKSIGHT_TITLE,
    SALES_TITLE,
    clickstream_activity,
    quicksight_sales,
    retail_sales,
    sensor_readings,
)
from workbench.dashboards._panels import KINDS, Panel
from workbench.dashboards._sources import (
    DataSource,
    FrameQuery,
    IndexAggregation,
    IndexRecords,
    LiveQuery,
    Window,
)
from workbench.dashboards._time_range import TimeRange

__all__ = [
    "KINDS",
    "QUICKSIGHT_TITLE",
    "SALES_TITLE",
    "Dashboard",
    "DataSource",
    "FrameQuery",
    "IndexAggregation",
    "IndexRecords",
    "LiveQuery",
    "Panel",
    "TimeRange",
    "Window",
    "clickstream_activity",
    "quicksight_sales",
    "retail_sales",
    "sensor_readings",
]
