"""The Flink SQL front end: window TVFs parsed, everything else DuckDB; clear errors."""

from __future__ import annotations

import polars as pl
import pytest

from workbench.analytics._sql import parse_window_sql
from workbench.errors import ResourceNotFoundException, ValidationException


def test_each_tvf_parses_to_its_windows():
    hop = parse_window_sql(
        "SELECT window_start, window_end, auction, COUNT(*) FROM TABLE(HOP(TABLE bid, "
        "DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) "
        "GROUP BY window_start, window_end, auction"
    )
    assert (hop.table, hop.windows.kind, hop.windows.slide, hop.windows.size) == (
        "bid", "HOP", 2000, 10000
    )  # fmt: skip
    cumulate = parse_window_sql(
        "SELECT window_end, SUM(x) FROM TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), "
        "INTERVAL '1' MINUTE, INTERVAL '1' HOUR)) GROUP BY window_start, window_end"
    )
    assert (cumulate.windows.step, cumulate.windows.size) == (60_000, 3_600_000)
    session = parse_window_sql(
        "SELECT window_start, window_end, k, j, COUNT(*) FROM TABLE(SESSION(TABLE t "
        "PARTITION BY k, j, DESCRIPTOR(ts), INTERVAL '5' MINUTES)) "
        "GROUP BY window_start, window_end, k, j"
    )
    assert (session.windows.gap, session.windows.partition_by) == (300_000, ("k", "j"))
    named = parse_window_sql(
        "SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(DATA => TABLE t, "
        "TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '10' SECONDS)) "
        "GROUP BY window_start, window_end"
    )
    assert (named.windows.kind, named.windows.size, named.time_column) == ("TUMBLE", 10_000, "ts")


def test_top_n_per_window_nests_around_the_tvf():
    spec = parse_window_sql(
        """SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end
               ORDER BY n DESC) AS rn FROM (SELECT window_start, window_end, auction, COUNT(*) n
               FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND,
               INTERVAL '10' SECOND)) GROUP BY window_start, window_end, auction)) WHERE rn = 1"""
    )
    assert "__windowed" in spec.sql and "HOP" not in spec.sql


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT COUNT(*) FROM t", "no window"),
        (
            "SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE t, ts, INTERVAL '1' SECOND))",
            "DESCRIPTOR",
        ),
        (
            "SELECT window_start FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
            "GROUP BY window_start, window_end",
            "takes 2 interval",
        ),
        (
            "SELECT window_start FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL 'x' SECOND)) "
            "GROUP BY window_start, window_end",
            "interval",
        ),
        (
            "SELECT window_start FROM TABLE(TUMBLE(TABLE t PARTITION BY k, DESCRIPTOR(ts), "
            "INTERVAL '1' SECOND)) GROUP BY window_start, window_end",
            "PARTITION BY belongs to SESSION",
        ),
        (
            "SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' SECOND))",
            "per window",
        ),
        (
            "SELECT window_start FROM TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '7' "
            "SECOND, INTERVAL '1' MINUTE)) GROUP BY window_start, window_end",
            "whole multiple",
        ),
        (
            "SELECT window_start FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' SECOND)"
            " GROUP BY window_start, window_end",
            "unbalanced",
        ),
    ],
)
def test_malformed_window_sql_is_rejected_with_the_reason(sql, message):
    with pytest.raises(ValidationException, match=message):
        parse_window_sql(sql)


def test_query_errors_name_what_is_wrong(make_workbench):
    wb = make_workbench()
    events = pl.DataFrame({"k": ["a"], "ts": [1000], "x": [1]})
    wb.analytics.create_table("t", events, event_time="ts", time_format="epoch_ms")
    tumble = "FROM TABLE(TUMBLE(TABLE {}, DESCRIPTOR({}), INTERVAL '1' SECOND))"
    group = " GROUP BY window_start, window_end"
    with pytest.raises(ResourceNotFoundException, match="not declared"):
        wb.analytics.create_sql_query("q", "SELECT COUNT(*) " + tumble.format("u", "ts") + group)
    with pytest.raises(ValidationException, match="not the event-time column"):
        wb.analytics.create_sql_query("q", "SELECT COUNT(*) " + tumble.format("t", "x") + group)
    with pytest.raises(ValidationException, match="failed on DuckDB"):
        wb.analytics.create_sql_query("q", "SELECT nope " + tumble.format("t", "ts") + group)
    with pytest.raises(ValidationException, match="emit must be"):
        wb.analytics.create_sql_query(
            "q", "SELECT COUNT(*) " + tumble.format("t", "ts") + group, emit="sometimes"
        )
    with pytest.raises(ValidationException, match="not valid"):
        wb.analytics.create_sql_query("bad name", "SELECT 1")
    with pytest.raises(ValidationException, match="time_format"):
        wb.analytics.create_table("t2", events, event_time="ts", time_format="julian")
    with pytest.raises(ValidationException, match="polars expressions"):
        wb.analytics.create_query(
            "q", "t", window=__import__("workbench").analytics.tumble("1s"), aggregations=["x"]
        )
    assert wb.analytics.list_queries() == []


def test_the_watermark_is_declared_on_the_source_as_in_flink(make_workbench):
    wb = make_workbench()
    events = pl.DataFrame({"k": ["a"], "ts": [1000], "x": [1]})
    table = wb.analytics.create_table(
        "t", events, time_format="epoch_ms",
        watermark="WATERMARK FOR ts AS ts - INTERVAL '5' SECOND",
    )  # fmt: skip
    assert (table.event_time, table.watermark_delay) == ("ts", 5000)
    with pytest.raises(ValidationException, match="event-time column"):
        wb.analytics.create_table(
            "u", events, event_time="x", watermark="WATERMARK FOR ts AS ts - INTERVAL '5' SECOND"
        )
    with pytest.raises(ValidationException, match="name the event-time column"):
        wb.analytics.create_table("v", events)
