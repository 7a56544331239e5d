"""Checkpoints: stop/restart and kill -9 resume from the checkpoint; final results exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

from workbench import SimulatedClock, Workbench

WORKER = Path(__file__).with_name("_kill_worker.py")
sys.path.insert(0, str(WORKER.parent))
from _kill_worker import create_query, events  # noqa: E402


def expected_windows() -> list[tuple]:
    ev = events()
    ts = ev["ts"].to_list()
    seen, keep = None, []
    for t in ts:
        keep.append(seen is None or t >= seen - 200)
        seen = t if seen is None else max(seen, t)
    on_time = ev.filter(pl.Series(keep))  # noqa: F841 (DuckDB reads it)
    return sorted(
        duckdb.sql(
            "SELECT ts // 500 * 500, k, COUNT(*), SUM(x) FROM on_time GROUP BY ALL"
        ).fetchall()
    )


def as_rows(out: pl.DataFrame) -> list[tuple]:
    rows = out.with_columns(pl.col("window_start").dt.epoch("ms")).select(
        "window_start", "k", "n", "total"
    )
    return sorted(rows.rows())


def test_kill_9_restarts_emit_each_window_exactly_once(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    rng = random.Random(3)
    for _ in range(3):
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), str(tmp_path), "kill"], stdout=subprocess.PIPE, env=env
        )
        assert worker.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.1, 0.4))
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finished = subprocess.run(
        [sys.executable, str(WORKER), str(tmp_path), "end"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert finished.stdout.split()[-1] == b"done", finished.stderr.decode()[-2000:]
    query = create_query(Workbench(home=tmp_path))
    got = as_rows(query.results())
    assert len(got) == len(set(got)), "a window's final result was emitted twice"
    assert got == expected_windows()
    assert query.counters["records"] == len(events())


def test_stop_and_restart_in_process_resume_from_checkpoint(tmp_path):
    def open_query(home):
        return create_query(Workbench(home=home, clock=SimulatedClock(start=0)), batch_size=100)

    first = open_query(tmp_path)
    for _ in range(13):
        first.step()
    partial = len(first.results())
    assert partial > 0
    second = open_query(tmp_path)  # as after a restart: same home, same definition
    assert len(second.results()) == partial
    second.run_until_idle()
    assert as_rows(second.results()) == expected_windows()


def test_a_changed_definition_does_not_resume_a_checkpoint(tmp_path):
    import pytest

    from workbench.errors import ValidationException

    wb = Workbench(home=tmp_path, clock=SimulatedClock(start=0))
    wb.analytics.create_table("events", events(), event_time="ts", time_format="epoch_ms")
    sql = """SELECT window_start, window_end, COUNT(*) AS n
             FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '{}' SECOND))
             GROUP BY window_start, window_end"""
    wb.analytics.create_sql_query("q", sql.format(1)).step()
    with pytest.raises(ValidationException, match="another definition"):
        wb.analytics.create_sql_query("q", sql.format(2))
    wb.analytics.delete_query("q")
    assert wb.analytics.create_sql_query("q", sql.format(2)).results().is_empty()


def test_a_stream_query_resumes_after_its_shard_positions(tmp_path):
    import orjson

    rows = events(900).to_dicts()
    stream = Workbench(home=tmp_path).streams.create_stream("events", shard_count=2)
    for start in range(0, len(rows), 300):
        stream.put_records(
            [{"Data": orjson.dumps(r), "PartitionKey": r["k"]} for r in rows[start : start + 300]]
        )
    sql = """SELECT window_start, window_end, k, COUNT(*) AS n, SUM(x) AS total
             FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '500' MILLISECOND))
             GROUP BY window_start, window_end, k"""

    def open_query(home, name="q"):
        wb = Workbench(home=home, clock=SimulatedClock(start=0))
        wb.analytics.fsync = False
        wb.analytics.create_table(
            "events", "events", event_time="ts", time_format="epoch_ms", watermark="1s",
            schema={"k": "VARCHAR", "ts": "BIGINT", "x": "BIGINT"},
        )  # fmt: skip
        return wb, wb.analytics.create_sql_query(name, sql, batch_limit=60)

    _, first = open_query(tmp_path)
    for _ in range(6):
        first.step()
    first.checkpoint()
    partial = first.results().height
    _, resumed = open_query(tmp_path)  # a restart: same home, same definition
    resumed.run_until_idle()
    _, straight = open_query(tmp_path, "straight")  # the same input without a stop
    straight.run_until_idle()
    assert 0 < partial < resumed.results().height
    assert resumed.counters["records"] == straight.counters["records"] == len(rows)
    assert sorted(resumed.results().rows()) == sorted(straight.results().rows())
