"""A query process for the kill -9 test: steps a TUMBLE query over a fixed input until killed."""

from __future__ import annotations

import sys

import numpy as np
import polars as pl

from workbench import Workbench


def events(n: int = 2000, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    ts = np.arange(n) * 10 + rng.integers(-300, 300, n)
    return pl.DataFrame({"k": rng.choice(["a", "b"], n), "ts": ts, "x": rng.integers(0, 100, n)})


def create_query(wb: Workbench, batch_size: int = 50):
    wb.analytics.create_table(
        "events", events(), event_time="ts", time_format="epoch_ms", watermark="200ms",
        batch_size=batch_size,
    )  # fmt: skip
    return wb.analytics.create_sql_query(
        "q",
        """SELECT window_start, window_end, k, COUNT(*) AS n, SUM(x) AS total
           FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '500' MILLISECOND))
           GROUP BY window_start, window_end, k""",
    )


def main(home: str, run_to_end: bool) -> None:
    # Results do not depend on batch sizes, so the last run may take bigger ones.
    query = create_query(Workbench(home=home), batch_size=500 if run_to_end else 50)
    print("ready", flush=True)
    if run_to_end:
        query.run_until_idle()
        print("done", flush=True)
        return
    while query.step():
        pass


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] == "end")
