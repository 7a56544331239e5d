"""Engine behaviour: batch-size invariance, emission modes, sinks, chaining, background runs."""

from __future__ import annotations

import numpy as np
import orjson
import polars as pl
import pytest

from workbench.analytics import (
    ArraySource,
    CallbackSink,
    FirehoseSink,
    LiveTable,
    StreamSink,
    hop,
    tumble,
)

TUMBLE_SQL = """SELECT window_start, window_end, window_time, k, COUNT(*) AS n, SUM(x) AS total
                FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND))
                GROUP BY window_start, window_end, k"""


def out_of_order(n: int = 1500, seed: int = 1) -> pl.DataFrame:
    """Events roughly in time order, some delayed by up to 3 s (a few become late)."""
    rng = np.random.default_rng(seed)
    ts = np.arange(n) * 5 + np.where(rng.random(n) < 0.1, -rng.integers(0, 3000, n), 0)
    return pl.DataFrame({"k": rng.choice(["a", "b", "c"], n), "ts": ts, "x": rng.integers(0, 9, n)})


def run(wb, events, batch_size, **options):
    wb.analytics.create_table(
        "events", events, event_time="ts", time_format="epoch_ms", watermark="1s",
        batch_size=batch_size,
    )  # fmt: skip
    query = wb.analytics.create_sql_query("q", TUMBLE_SQL, **options)
    query.run_until_idle()
    return query


def test_results_are_the_same_whatever_the_batch_sizes(make_workbench):
    events = out_of_order()
    answers = []
    for batch_size in (1, 7, 250, 100_000):  # one record per batch up to all in one
        query = run(make_workbench(), events, batch_size)
        answers.append((sorted(query.results().rows()), sorted(query.late().rows())))
    assert all(a == answers[0] for a in answers[1:])
    assert answers[0][1], "the input should have late records"
    assert len(answers[0][0]) > 20


def test_updates_mode_emits_early_results_then_the_final_one(make_workbench):
    events = out_of_order(600)
    final = run(make_workbench(), events, 50).results()
    updates = run(make_workbench(), events, 50, emit="updates", allowed_lateness="500ms").results()
    finals = updates.filter(pl.col("is_final")).drop("is_final")
    early = updates.filter(~pl.col("is_final"))
    assert early.height > 0
    # Allowed lateness admits more records, so final results hold at least as many rows.
    merged = final.join(finals, on=["window_start", "window_end", "k"], suffix="_lateness")
    assert merged.height == final.height
    assert (merged["n_lateness"] >= merged["n"]).all()
    # The last early result of a window never exceeds its final count.
    last_early = early.group_by("window_start", "k").agg(pl.col("n").last())
    check = last_early.join(finals, on=["window_start", "k"], suffix="_final")
    assert (check["n"] <= check["n_final"]).all()


def test_late_records_go_to_the_late_output_and_its_sinks(make_workbench):
    wb = make_workbench()
    routed = LiveTable()
    events = pl.DataFrame({"k": ["a"] * 4, "ts": [5000, 6000, 1000, 7000], "x": [1, 2, 3, 4]})
    query = run(wb, events, 2, late_sinks=[routed])
    late = query.late()
    assert late.select("ts", "x").with_columns(pl.col("ts").dt.epoch("ms")).rows() == [(1000, 3)]
    assert late["watermark"].dt.epoch("ms").to_list() == [5000]  # 6000 - 1 s delay
    assert routed.frame().height == 1
    assert query.metrics()["late_records"] == 1
    assert query.results()["n"].sum() == 3  # nothing vanished: 3 on time + 1 late


def test_live_table_callback_and_stream_sinks_receive_committed_results(make_workbench):
    wb = make_workbench()
    out = wb.streams.create_stream("results", shard_count=1)
    live, seen = LiveTable(), []
    query = run(wb, out_of_order(400), 40, sinks=[live, CallbackSink(seen.append), StreamSink(out)])
    results = query.results()
    assert live.frame().equals(results)
    assert sum(f.height for f in seen) == results.height
    shard = out.list_shards()[0]["ShardId"]
    records = out.get_records(out.get_shard_iterator(shard, "TRIM_HORIZON"))["Records"]
    assert [orjson.loads(r["Data"])["n"] for r in records] == results["n"].to_list()


def test_a_query_reads_a_data_stream_of_json_records(make_workbench):
    wb = make_workbench()
    stream = wb.streams.create_stream("clicks", shard_count=1)
    events = out_of_order(499)
    stream.put_records(
        [{"Data": orjson.dumps(row), "PartitionKey": row["k"]} for row in events.to_dicts()]
        + [{"Data": b"{broken", "PartitionKey": "z"}]
    )
    wb.analytics.create_table(
        "events", "clicks", event_time="ts", time_format="epoch_ms", watermark="1s",
        schema={"k": "VARCHAR", "ts": "BIGINT", "x": "BIGINT"},
    )  # fmt: skip
    from_stream = wb.analytics.create_sql_query("q", TUMBLE_SQL)
    from_stream.step()
    from_stream.step()
    # A stream never ends: the last window stays open, the rest equal a frame's answer.
    reference = run(make_workbench(), events, 10_000).results()
    got = from_stream.results()
    assert got.height > 0
    assert got.equals(reference.head(got.height))
    assert from_stream.errors()["reason"].to_list() == ["not a JSON object"]
    assert from_stream.metrics()["millis_behind_latest"] == 0


def test_queries_chain_over_another_querys_output(make_workbench):
    wb = make_workbench()
    first = run(wb, out_of_order(), 100)
    wb.analytics.create_table("per_second", first, event_time="window_time")
    second = wb.analytics.create_query(
        "per_5s", "per_second", window=tumble("5s"), aggregations=[pl.col("n").sum()]
    )
    second.run_until_idle()
    by_hand = (
        first.results()
        .group_by(pl.col("window_start").dt.truncate("5s"))
        .agg(pl.col("n").sum())
        .sort("window_start")
    )
    assert second.results().select("window_start", "n").equals(by_hand)


def test_background_query_follows_the_simulated_clock(make_workbench):
    wb = make_workbench()
    wb.analytics.create_table(
        "events", out_of_order(), event_time="ts", time_format="epoch_ms", batch_size=100
    )
    query = wb.analytics.create_query(
        "q", "events", window=hop("500ms", "1s"), group_by=["k"], aggregations=[pl.len()]
    )
    query.start(poll_interval=0.5)
    assert query.status() == "RUNNING"
    for _ in range(200):
        if query.metrics()["records_in"] == 1500 and query._ended:
            break
        wb.clock.advance("1s")
        import time

        time.sleep(0.01)
    query.stop()
    assert query.status() == "READY"
    metrics = query.metrics()
    assert metrics["records_in"] == 1500 and metrics["open_windows"] == 0
    assert query.results().height > 0


def test_idle_timeout_lets_event_time_follow_the_clock(make_workbench):
    wb = make_workbench()
    start = int(wb.clock.now() * 1000)
    events = pl.DataFrame({"k": ["a", "a"], "ts": [start, start + 100], "x": [1, 2]})
    live = ArraySource(events, ends=False)
    wb.analytics.create_table(
        "events", live, event_time="ts", time_format="epoch_ms", watermark="1s"
    )
    query = wb.analytics.create_sql_query("q", TUMBLE_SQL, idle_timeout=2.0)
    query.step()
    query.step()
    assert query.results().is_empty()
    wb.clock.advance("5s")
    query.step()
    assert query.results()["n"].to_list() == [2]


@pytest.mark.parametrize("bad", [pl.DataFrame({"k": ["a"], "ts": [None], "x": [1]})])
def test_records_without_event_time_go_to_the_error_output(make_workbench, bad):
    query = run(make_workbench(), bad.with_columns(pl.col("ts").cast(pl.Int64)), 10)
    assert query.errors()["reason"].to_list() == ["no event time"]


def test_results_reach_the_lake_through_a_firehose_delivery_stream(make_workbench):
    wb = make_workbench()
    wb.lake.create_bucket("results")
    wb.firehose.create_delivery_stream("windows", bucket="results", prefix="clicks/")
    delivery = wb.firehose.delivery_stream("windows")
    query = run(wb, out_of_order(300), 50, sinks=[FirehoseSink(delivery)])
    delivery.flush()
    objects = wb.lake.list("s3://results/clicks/")
    lines = b"".join(wb.lake.get(o.uri) for o in objects).splitlines()
    assert [orjson.loads(line)["n"] for line in lines] == query.results()["n"].to_list()


def test_a_sharded_stream_keeps_a_watermark_per_shard(make_workbench):
    wb = make_workbench()
    stream = wb.streams.create_stream("sharded", shard_count=4)
    events = pl.DataFrame(
        {"k": [f"key-{i % 16}" for i in range(2000)], "ts": [i * 10 for i in range(2000)],
         "x": [i % 5 for i in range(2000)]}
    )  # fmt: skip
    stream.put_frame(events, partition_key="k")
    wb.analytics.create_table(
        "events", "sharded", event_time="ts", time_format="epoch_ms",
        schema={"k": "VARCHAR", "ts": "BIGINT", "x": "BIGINT"},
    )  # fmt: skip
    query = wb.analytics.create_sql_query("q", TUMBLE_SQL)
    query.run_until_idle()
    # Each shard is in order: read shard after shard, nothing is late against its own shard.
    assert query.late().is_empty()
    # The watermark is the least of the shards' maxima; windows before it are final and whole.
    shard_max = {
        shard["ShardId"]: events.filter(
            pl.col("k").is_in(
                [
                    r["PartitionKey"]
                    for r in stream.get_records(
                        stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")
                    )["Records"]
                ]
            )
        )["ts"].max()
        for shard in stream.list_shards()
    }
    watermark = min(v for v in shard_max.values() if v is not None)
    assert query.watermark.timestamp() * 1000 == watermark
    got = (
        query.results()
        .select(pl.col("window_start").dt.epoch("ms"), "k", "n")
        .sort("window_start", "k")
    )
    expected = (
        events.filter(pl.col("ts") < watermark // 1000 * 1000)
        .group_by(window_start=pl.col("ts") // 1000 * 1000, k="k")
        .agg(n=pl.len())
        .sort("window_start", "k")
    )
    assert got.rows() == expected.with_columns(pl.col("n").cast(pl.Int64)).rows()


def _json_stream(wb, rows: list[dict]):
    stream = wb.streams.create_stream("clicks", shard_count=1)
    stream.put_records([{"Data": orjson.dumps(r), "PartitionKey": "p"} for r in rows])
    wb.analytics.create_table(
        "events", "clicks", event_time="ts", time_format="epoch_ms", watermark="1s",
        schema={"k": "VARCHAR", "ts": "BIGINT", "x": "BIGINT", "note": "VARCHAR"},
    )  # fmt: skip


def test_a_query_decodes_the_fields_it_reads_yet_late_and_error_records_stay_whole(
    make_workbench,
):
    wb = make_workbench()
    events = out_of_order(400).with_columns(note=pl.format("n{}", pl.col("x")))
    rows = [*events.to_dicts(), {"k": "a", "ts": None, "x": 1, "note": "no time"}]
    _json_stream(wb, rows)
    counts = wb.analytics.create_sql_query(
        "counts",
        """SELECT window_start, window_end, k, COUNT(*) AS n
           FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND))
           GROUP BY window_start, window_end, k""",
    )
    assert counts.fields is not None and {"x", "note"}.isdisjoint(counts.fields)
    counts.step()
    # Every field of the frame's own run (nothing projected) is in the late output here too.
    reference = run(make_workbench(), events, 10_000)
    late = counts.late()
    assert late.height > 0
    assert late.columns == ["k", "ts", "x", "note", "watermark"]
    assert sorted(late.drop("watermark").rows()) == sorted(
        reference.late().select("k", "ts", "x", "note").rows()
    )
    expected = reference.results().select("window_start", "window_end", "k", "n")
    got = counts.results()
    assert got.height > 0 and got.equals(expected.head(got.height))
    assert counts.errors()["reason"].to_list() == ["no event time"]
    assert orjson.loads(counts.errors()["record"][0])["note"] == "no time"


def test_a_query_over_every_column_decodes_every_field(make_workbench):
    wb = make_workbench()
    _json_stream(wb, out_of_order(50).with_columns(note=pl.lit("n")).to_dicts())
    distinct = wb.analytics.create_sql_query(
        "distinct_rows",
        """SELECT window_start, window_end, COUNT(*) AS n FROM (SELECT DISTINCT *
           FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND)))
           GROUP BY window_start, window_end""",
    )
    assert distinct.fields is None or {"k", "ts", "x", "note"} <= distinct.fields
