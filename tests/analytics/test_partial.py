"""Which window queries fold records into partial aggregates per pane, and that they answer the
same as over the records (Nexmark q5's top-N included)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from workbench.analytics._partial import plan_partials

RECORDS = pa.table(
    {
        "k": pa.array([], pa.string()),
        "x": pa.array([], pa.int64()),
        "f": pa.array([], pa.float64()),
        "ts": pa.array([], pa.timestamp("ms")),
    }
)
PER_WINDOW = "GROUP BY window_start, window_end"


@pytest.mark.parametrize(
    "select",
    [
        f"SELECT window_start, window_end, COUNT(*) AS n FROM __windowed {PER_WINDOW}",
        f"SELECT window_start, window_end, k, MIN(f) AS lo, MAX(f) AS hi, COUNT(f) AS c, "
        f"SUM(x) AS s FROM __windowed {PER_WINDOW}, k",
        f"SELECT window_start, window_end, window_time, k, MAX(x) - MIN(x) AS spread "
        f"FROM __windowed {PER_WINDOW}, window_time, k ORDER BY window_start, k",
        f"SELECT * FROM (SELECT window_start, window_end, k, COUNT(*) AS n FROM __windowed "
        f"{PER_WINDOW}, k) WHERE n > 1",
    ],
)
def test_counts_integer_sums_minima_and_maxima_fold(select):
    assert plan_partials(select, "__windowed", RECORDS, 1000) is not None


@pytest.mark.parametrize(
    "select",
    [
        f"SELECT window_start, window_end, SUM(f) AS s FROM __windowed {PER_WINDOW}",
        f"SELECT window_start, window_end, COUNT(DISTINCT k) AS n FROM __windowed {PER_WINDOW}",
        f"SELECT window_start, window_end, quantile_cont(x, 0.5) AS m FROM __windowed {PER_WINDOW}",
        f"SELECT window_start, window_end, AVG(x) AS m FROM __windowed {PER_WINDOW}",
        f"SELECT window_start, window_end, SUM(x + 1) AS s FROM __windowed {PER_WINDOW}",
        f"SELECT window_start, window_end, COUNT(*) AS n FROM __windowed WHERE x > 0 {PER_WINDOW}",
        f"SELECT window_start, window_end, COUNT(*) AS n FROM __windowed {PER_WINDOW} "
        "HAVING MAX(x) > 2",
        f"SELECT window_start, window_end, COUNT(*) FILTER (WHERE x > 0) AS n FROM __windowed "
        f"{PER_WINDOW}",
        f"SELECT window_start, window_end, x, COUNT(*) AS n FROM __windowed {PER_WINDOW}, k",
        "SELECT window_start, window_end, COUNT(*) AS n FROM __windowed GROUP BY ALL",
        f"SELECT window_start, window_end, COUNT(*) FROM __windowed {PER_WINDOW}",  # renamed
    ],
)
def test_other_shapes_keep_the_records(select):
    assert plan_partials(select, "__windowed", RECORDS, 1000) is None


Q5 = """SELECT window_start, window_end, auction, num FROM (
          SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end
                                       ORDER BY num DESC, auction) AS rn
          FROM (SELECT window_start, window_end, auction, {count} AS num
                FROM TABLE(HOP(TABLE bid, DESCRIPTOR(ts), INTERVAL '2' SECOND,
                               INTERVAL '10' SECOND))
                GROUP BY window_start, window_end, auction))
        WHERE rn = 1"""


def test_hottest_auction_per_hop_window_is_the_same_folded_or_not(make_workbench):
    rng = np.random.default_rng(7)
    n = 20_000
    ts = np.arange(n) * 3 - rng.integers(0, 1500, n) * (rng.random(n) < 0.1)
    bids = pl.DataFrame({"auction": rng.zipf(1.5, n) % 50, "ts": ts})
    answers = []
    # COUNT(auction) over an expression keeps the records; COUNT(*) folds.
    for count in ("COUNT(*)", "COUNT(auction + 0)"):
        wb = make_workbench()
        wb.analytics.create_table(
            "bid", bids, event_time="ts", time_format="epoch_ms", watermark="1s",
            batch_size=777,
        )  # fmt: skip
        query = wb.analytics.create_sql_query("q5", Q5.format(count=count))
        query.run_until_idle()
        answers.append((query.aggregate.partials is not None, query.results(), query.late()))
    (folded, results, late), (kept, reference, reference_late) = answers
    assert folded and not kept
    assert results.height > 10 and late.height > 0
    assert results.equals(reference) and late.equals(reference_late)
