import itertools
from collections import defaultdict
from datetime import datetime, timedelta

import plotly.graph_objects as go
import polars as pl
import pytest

from workbench.dashboards import (
    SALES_TITLE,
    Dashboard,
    FrameQuery,
    IndexAggregation,
    Panel,
    TimeRange,
    retail_sales,
)

from .conftest import COUNTRIES, NOW, retail_documents


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("last 15 minutes", 900), ("last 1 hour", 3600), ("15m", 900), ("Last 2 Days", 172800)],
)
def test_time_ranges_read_as_kibana_quick_ranges(text, seconds):
    assert TimeRange.parse(text).seconds == seconds


def test_time_range_errors_say_what_is_allowed():
    with pytest.raises(ValueError, match="last 15 minutes"):
        TimeRange.parse("since lunch")


def test_sales_panel_is_sum_of_quantity_per_30_seconds_over_15_minutes(make_workbench):
    wb = make_workbench(400)
    board = retail_sales(wb.search, wb.clock)
    frame = board.frame(SALES_TITLE)
    expected = defaultdict(int)
    start = NOW - timedelta(minutes=15)
    for _, doc in retail_documents(400):
        when = datetime.fromisoformat(doc["InvoiceDate"])
        if when >= start:
            bucket = int(when.timestamp()) // 30 * 30
            expected[bucket] += doc["Quantity"]
    got = {
        int(k.replace(tzinfo=NOW.tzinfo).timestamp()): v
        for k, v in zip(frame["key"], frame["value"], strict=True)
        if v
    }
    assert got == {k: float(v) for k, v in expected.items()}
    keys = frame["key"].to_list()
    assert all((b - a).total_seconds() == 30 for a, b in itertools.pairwise(keys))
    assert keys[0] <= start.replace(tzinfo=None)
    assert keys[-1] >= (NOW - timedelta(seconds=30)).replace(tzinfo=None)


def test_a_tick_with_nothing_new_fetches_nothing(make_workbench):
    wb = make_workbench(100)
    board = retail_sales(wb.search, wb.clock)
    assert len(board.refresh()) == len(board.panels)
    assert board.refresh() == []
    wb.search.index_documents("retail", retail_documents(3, seed=99, span_s=60))
    assert len(board.refresh()) == len(board.panels)
    wb.clock.advance("30s")
    assert len(board.refresh()) == len(board.panels)  # the window moved


def test_query_string_filters_every_index_panel(make_workbench):
    wb = make_workbench(300)
    board = retail_sales(wb.search, wb.clock)
    everything = board.frame("Records")["value"][0]
    board.query = "Country:France"
    board.refresh()
    french = board.frame("Records")["value"][0]
    recent = [
        d
        for _, d in retail_documents(300)
        if datetime.fromisoformat(d["InvoiceDate"]) >= NOW - timedelta(minutes=15)
    ]
    assert everything == len(recent)
    assert french == sum(d["Country"] == "France" for d in recent)


def test_bounded_live_run_on_a_simulated_clock(make_workbench):
    wb = make_workbench(50)
    board = retail_sales(wb.search, wb.clock)
    board.refresh_every = 5
    started = wb.clock.now()
    assert board.run(for_="60s", advance=True) == 12
    assert wb.clock.now() == started + 60


def test_background_refresh_follows_the_clock_and_stops(make_workbench):
    wb = make_workbench(50)
    calls = []

    def count_calls(window):
        calls.append(window)
        return pl.DataFrame({"value": [len(calls)]})

    board = Dashboard(
        "counter",
        [Panel("n", "metric", FrameQuery(count_calls))],
        clock=wb.clock,
        refresh_every="10s",
    )
    board.start()
    assert board.running
    for _ in range(3):
        assert wb.clock.wait_for_sleepers(1)
        wb.clock.advance("10s")
    assert wb.clock.wait_for_sleepers(1)
    board.stop()
    assert not board.running
    assert len(calls) == 4


def test_widget_refreshes_in_place(make_workbench):
    wb = make_workbench(200)
    board = retail_sales(wb.search, wb.clock)
    box = board.widget()
    figures = box.children[-1].children
    assert len(figures) == len(board.panels)
    assert all(isinstance(f, go.FigureWidget) for f in figures)
    before = sum(figures[0].data[0].y)
    recent = (NOW - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    wb.search.index_documents("retail", [("new", {"Quantity": 1000, "InvoiceDate": recent})])
    board.refresh()
    assert sum(figures[0].data[0].y) == before + 1000


def test_panels_of_every_kind_draw(make_workbench):
    wb = make_workbench(100)
    agg = IndexAggregation(
        wb.search,
        "retail",
        bucket="date_histogram:InvoiceDate",
        time_field="InvoiceDate",
        split="Country.keyword",
        interval="5m",
    )
    board = Dashboard(
        "kinds",
        [Panel("area", "area", agg), Panel("heat", "heatmap", agg)],
        clock=wb.clock,
        time_range="last 30 minutes",
    )
    area, heat = board.figures()
    assert {t.name for t in area.data} <= set(COUNTRIES)
    assert heat.data[0].type == "heatmap" and len(heat.data[0].z) >= 1
    with pytest.raises(ValueError, match="unknown panel kind"):
        Panel("x", "donut", agg)


def test_a_panel_follows_a_live_analytics_query(make_workbench):
    from workbench.analytics import LiveTable
    from workbench.dashboards import LiveQuery

    wb = make_workbench(0)
    events = pl.DataFrame(
        [d for _, d in retail_documents(600, span_s=600)], infer_schema_length=None
    ).with_columns(pl.col("InvoiceDate").str.to_datetime(time_zone="UTC"))
    live = LiveTable()
    wb.analytics.create_table("sales", events.sort("InvoiceDate"), event_time="InvoiceDate")
    query = wb.analytics.create_sql_query(
        "quantity_per_minute",
        "SELECT window_start, window_end, Country, SUM(Quantity) AS quantity FROM "
        "TABLE(TUMBLE(TABLE sales, DESCRIPTOR(InvoiceDate), INTERVAL '1' MINUTE)) "
        "GROUP BY window_start, window_end, Country",
        sinks=[live],
    )
    source = LiveQuery(live, value="quantity", series="Country")
    board = Dashboard("live", [Panel("Quantity per minute", "bar", source)], clock=wb.clock)
    assert board.refresh() == ["Quantity per minute"]
    assert board.frame("Quantity per minute").height == 0
    query.run_until_idle()
    assert board.refresh() == ["Quantity per minute"]
    shown = board.frame("Quantity per minute")
    results = query.results()
    assert shown["value"].sum() == results["quantity"].sum() > 0
    assert set(shown["series"]) == set(results["Country"])
    assert board.refresh() == []  # nothing emitted since: nothing read
