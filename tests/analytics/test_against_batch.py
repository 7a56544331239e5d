"""Streamed final results equal DuckDB's batch answer over the same events minus the late ones.

The reference is written from the definitions, not from the engine: a record is late when its
event time is behind (max event time of the records before it) - delay - allowed lateness; the
batch answers are plain DuckDB SQL over the on-time events.
"""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from workbench.analytics import cumulate, hop, session, sliding, tumble

KEYS = ["a", "b", "c"]


def late_flags(ts: list[int], behind: int) -> list[bool]:
    flags, seen = [], None
    for t in ts:
        flags.append(seen is not None and t < seen - behind)
        seen = t if seen is None else max(seen, t)
    return flags


BATCH_SQL = {
    "TUMBLE": """
        SELECT ts // {size} * {size} AS ws, ts // {size} * {size} + {size} AS we, k,
               COUNT(*) AS n, SUM(x) AS total
        FROM events GROUP BY ALL""",
    "HOP": """
        WITH w AS (SELECT s AS ws, s + {size} AS we
                   FROM range((SELECT min(ts) // {slide} * {slide} - {size} FROM events),
                              (SELECT max(ts) + {slide} FROM events), {slide}) r(s))
        SELECT ws, we, k, COUNT(*) AS n, SUM(x) AS total
        FROM events JOIN w ON ts >= ws AND ts < we GROUP BY ALL""",
    "CUMULATE": """
        WITH w AS (SELECT DISTINCT ts // {size} * {size} AS ws,
                          ts // {size} * {size} + j * {step} AS we
                   FROM events, range(1, {size} // {step} + 1) r(j))
        SELECT ws, we, k, COUNT(*) AS n, SUM(x) AS total
        FROM events JOIN w ON ts >= ws AND ts < we GROUP BY ALL""",
    "SESSION": """
        WITH marked AS (
            SELECT *, CASE WHEN ts - lag(ts) OVER (PARTITION BY k ORDER BY ts, x) <= {gap}
                      THEN 0 ELSE 1 END AS new FROM events),
        numbered AS (SELECT *, SUM(new) OVER (PARTITION BY k ORDER BY ts, x
                     ROWS UNBOUNDED PRECEDING) AS sid FROM marked)
        SELECT min(ts) AS ws, max(ts) + {gap} AS we, k, COUNT(*) AS n, SUM(x) AS total
        FROM numbered GROUP BY k, sid""",
}

STREAM_SQL = {
    "TUMBLE": "TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '{size}' MILLISECOND)",
    "HOP": "HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '{slide}' MILLISECOND, "
    "INTERVAL '{size}' MILLISECOND)",
    "CUMULATE": "CUMULATE(TABLE events, DESCRIPTOR(ts), INTERVAL '{step}' MILLISECOND, "
    "INTERVAL '{size}' MILLISECOND)",
    "SESSION": "SESSION(TABLE events PARTITION BY k, DESCRIPTOR(ts), INTERVAL '{gap}' MILLISECOND)",
}

SIZES = {"size": 1000, "slide": 250, "step": 250, "gap": 300}

events_strategy = st.lists(
    st.tuples(st.sampled_from(KEYS), st.integers(0, 8000), st.integers(-5, 50)),
    min_size=1,
    max_size=120,
)


def frame(events: list[tuple[str, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"k": [e[0] for e in events], "ts": [e[1] for e in events], "x": [e[2] for e in events]},
        schema={"k": pl.String, "ts": pl.Int64, "x": pl.Int64},
    )


def batch_answer(kind: str, events: pl.DataFrame) -> set[tuple]:
    if events.is_empty():
        return set()
    rows = duckdb.sql(BATCH_SQL[kind].format(**SIZES)).fetchall()  # reads `events` by name
    return {tuple(r) for r in rows}


# The same answer two ways: aggregates that fold into partial aggregates per pane as records
# arrive, and (a sum over an expression) aggregates over the records kept whole.
AGGREGATES = {
    "partial": "COUNT(*) AS n, SUM(x) AS total",
    "records": "COUNT(*) AS n, CAST(SUM(x * 1.0) AS BIGINT) AS total",
}


def streamed(
    wb, kind: str, events: pl.DataFrame, delay: int, lateness: int, batch_size: int,
    aggregates: str = AGGREGATES["partial"],
):  # fmt: skip
    wb.analytics.create_table(
        "events", events, event_time="ts", time_format="epoch_ms",
        watermark=f"{delay}ms", batch_size=batch_size,
    )  # fmt: skip
    query = wb.analytics.create_sql_query(
        "q",
        f"""SELECT window_start, window_end, k, {aggregates}
            FROM TABLE({STREAM_SQL[kind].format(**SIZES)})
            GROUP BY window_start, window_end, k""",
        allowed_lateness=f"{lateness}ms",
    )
    query.run_until_idle()
    out = query.results()
    if out.is_empty():
        return set(), query
    as_ms = out.with_columns(pl.col("window_start", "window_end").dt.epoch("ms"))
    return {tuple(r) for r in as_ms.rows()}, query


@pytest.mark.parametrize(
    ("kind", "aggregates"),
    [
        *((kind, "partial") for kind in ("TUMBLE", "HOP", "CUMULATE", "SESSION")),
        *((kind, "records") for kind in ("TUMBLE", "HOP", "CUMULATE")),
    ],
)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=events_strategy,
    delay=st.integers(0, 1500),
    lateness=st.integers(0, 500),
    batch_size=st.integers(1, 40),
)
# Events at the same instant: one session, which the batch answer once split in two.
@example(events=[("a", 0, 1), ("a", 0, 0)], delay=0, lateness=0, batch_size=1)
def test_window_results_equal_batch_over_on_time_events(
    make_workbench, kind, aggregates, events, delay, lateness, batch_size
):
    wb = make_workbench()
    flags = late_flags([e[1] for e in events], delay + lateness)
    on_time = frame([e for e, late in zip(events, flags, strict=True) if not late])
    got, query = streamed(
        wb, kind, frame(events), delay, lateness, batch_size, AGGREGATES[aggregates]
    )
    folds = getattr(query.aggregate, "partials", None) is not None
    assert folds == (aggregates == "partial" and kind != "SESSION")
    assert got == batch_answer(kind, on_time)
    late = query.late()
    expected_late = sorted(e for e, f in zip(events, flags, strict=True) if f)
    got_late = (
        []
        if late.is_empty()
        else sorted(late.select("k", "ts", "x").with_columns(pl.col("ts").dt.epoch("ms")).rows())
    )
    assert got_late == expected_late
    assert query.counters["records"] == len(events)


def sliding_batch(events: pl.DataFrame, range_ms: int) -> list[tuple]:
    if events.is_empty():
        return []
    return duckdb.sql(
        f"""WITH numbered AS (SELECT *, row_number() OVER () AS i FROM events)
            SELECT a.k, a.ts, COUNT(*), SUM(b.x) FROM numbered a JOIN numbered b
            ON a.k = b.k AND b.ts BETWEEN a.ts - {range_ms} AND a.ts
            GROUP BY a.i, a.k, a.ts"""
    ).fetchall()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=events_strategy, delay=st.integers(0, 1500), batch_size=st.integers(1, 40))
def test_sliding_range_windows_in_sql_and_polars_equal_batch(
    make_workbench, events, delay, batch_size
):
    wb = make_workbench()
    flags = late_flags([e[1] for e in events], delay)
    on_time = frame([e for e, late in zip(events, flags, strict=True) if not late])
    expected = sorted(sliding_batch(on_time, 500))
    wb.analytics.create_table(
        "events", frame(events), event_time="ts", time_format="epoch_ms",
        watermark=f"{delay}ms", batch_size=batch_size,
    )  # fmt: skip
    by_sql = wb.analytics.create_sql_query(
        "by_sql",
        """SELECT k, ts,
                COUNT(*) OVER (PARTITION BY k ORDER BY ts
                               RANGE BETWEEN INTERVAL '500' MILLISECOND PRECEDING AND CURRENT ROW),
                SUM(x) OVER (PARTITION BY k ORDER BY ts
                             RANGE BETWEEN INTERVAL '500' MILLISECOND PRECEDING AND CURRENT ROW)
                FROM events""",
    )
    by_sql.run_until_idle()
    wb.analytics.create_table(
        "events2", frame(events), event_time="ts", time_format="epoch_ms",
        watermark=f"{delay}ms", batch_size=batch_size,
    )  # fmt: skip
    by_frame = wb.analytics.create_query(
        "by_frame", "events2", window=sliding("500ms", "k"),
        aggregations=[pl.len().alias("n"), pl.col("x").sum().alias("total")],
    )  # fmt: skip
    by_frame.run_until_idle()
    for query in (by_sql, by_frame):
        out = query.results()
        rows = [] if out.is_empty() else out.with_columns(pl.col("ts").dt.epoch("ms")).rows()
        assert sorted(rows) == expected


def test_any_duckdb_aggregate_works(make_workbench):
    wb = make_workbench()
    events = frame([(k, t, t % 7) for t in range(0, 5000, 10) for k in KEYS])
    wb.analytics.create_table("events", events, event_time="ts", time_format="epoch_ms")
    query = wb.analytics.create_sql_query(
        "q",
        """SELECT window_start, k, COUNT(DISTINCT x) AS distinct_x,
                  quantile_cont(x, 0.5) AS median_x, arg_max(ts, x) AS ts_of_max
           FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND))
           GROUP BY window_start, window_end, k""",
    )
    query.run_until_idle()
    out = query.results()
    expected = duckdb.sql(
        """SELECT ts // 1000 * 1000 AS ws, k, COUNT(DISTINCT x), quantile_cont(x, 0.5)
           FROM events GROUP BY ALL ORDER BY ALL"""
    ).fetchall()
    got = (
        out.with_columns(pl.col("window_start").dt.epoch("ms"))
        .select("window_start", "k", "distinct_x", "median_x")
        .sort("window_start", "k")
        .rows()
    )
    assert got == expected


@pytest.mark.parametrize(
    "window", [tumble("1s"), hop("250ms", "1s"), cumulate("250ms", "1s"), session("300ms", "k")]
)
def test_python_builder_equals_sql(make_workbench, window):
    events = frame([(KEYS[i // 5 % 3], i * 97, i % 11) for i in range(600)])
    results = []
    for front in ("sql", "frame"):
        wb = make_workbench()
        wb.analytics.create_table(
            "events", events, event_time="ts", time_format="epoch_ms", watermark="60s"
        )
        if front == "frame":
            query = wb.analytics.create_query(
                "q", "events", window=window, group_by=["k"],
                aggregations=[pl.len().alias("n"), pl.col("x").sum().alias("total")],
            )  # fmt: skip
        else:
            kind = window.kind
            query = wb.analytics.create_sql_query(
                "q",
                f"""SELECT window_start, window_end, k, COUNT(*) AS n, SUM(x) AS total
                    FROM TABLE({STREAM_SQL[kind].format(**SIZES)})
                    GROUP BY window_start, window_end, k""",
            )
        query.run_until_idle()
        out = query.results().select("window_start", "window_end", "k", "n", "total")
        results.append(sorted(out.with_columns(pl.col("n").cast(pl.Int64)).rows()))
    assert results[0] == results[1]
    assert len(results[0]) > 10
