"""Retail transactions landed in the lake as Firehose lands them, for the Athena steps of the lab.

Stands in for the stream-and-Firehose flow where a notebook, test or benchmark needs the lab's
data without running them: the records of the sources room's retail source (the lab's producer,
seeded), spread over the given hours and written through the lake API as newline-delimited JSON
objects under ``json-data/year=YYYY/month=MM/day=DD/hour=HH/`` with the producer's field names
(``Customer_ID``...). The frame it returns is what was written, so a test can compute the answers
independently of the SQL engine.

>>> import tempfile
>>> from workbench.lake import Lake
>>> lake = Lake.local(tempfile.mkdtemp())
>>> _ = lake.create_bucket("lab")
>>> frame = write_retail_sample(lake, "s3://lab/json-data/", rows=1000, start="2010-03-01", hours=2)
>>> frame.height
1000
>>> sorted({o.key.rsplit("/", 1)[0] for o in lake.list("s3://lab/json-data/")})[-1]
'json-data/year=2010/month=03/day=01/hour=01'
"""

from __future__ import annotations

import io
import uuid

import numpy as np
import polars as pl

from workbench.clock import parse_instant
from workbench.sources import retail

_FORMAT = "%Y-%m-%d %H:%M:%S"


def write_retail_sample(
    lake,
    prefix: str,
    *,
    rows: int,
    start: str | float = "2010-01-01",
    hours: int = 24,
    rows_per_object: int = 5000,
    seed: int = 42,
) -> pl.DataFrame:
    """Write ``rows`` retail records spread over ``hours`` hours from ``start`` under ``prefix``.

    Returns the records as a polars frame with the producer's field names (InvoiceDate as text,
    exactly as written).
    """
    start_s = int(parse_instant(start))
    span = hours * 3600
    frame = retail(seed=seed, start=start_s, rate=rows / span).frame(rows)
    seconds = frame["InvoiceDate"].str.to_datetime(_FORMAT).dt.epoch("s").to_numpy() - start_s
    if (np.diff(seconds) < 0).any():  # a source with out-of-order knobs: land in time order
        order = np.argsort(seconds, kind="stable")
        frame, seconds = frame[order], seconds[order]
    if len(seconds) and seconds.max() >= span:
        # Arrivals are random: squeeze the few that run past the window back into it.
        seconds = seconds * (span - 1) // seconds.max()
    frame = frame.with_columns(
        pl.from_epoch(pl.Series(seconds + start_s), time_unit="s")
        .dt.strftime(_FORMAT)
        .alias("InvoiceDate")
    )
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    rng = np.random.default_rng(seed)
    bounds = np.searchsorted(seconds // 3600, np.arange(hours + 1))
    for hour in range(hours):
        chunk = frame.slice(int(bounds[hour]), int(bounds[hour + 1] - bounds[hour]))
        stamp = pl.from_epoch(pl.Series([start_s + hour * 3600]), time_unit="s")[0]
        folder = stamp.strftime("year=%Y/month=%m/day=%d/hour=%H/")
        for offset in range(0, chunk.height, rows_per_object):
            part = chunk.slice(offset, rows_per_object)
            buffer = io.BytesIO()
            part.write_ndjson(buffer)
            tag = uuid.UUID(bytes=rng.bytes(16), version=4)
            minute = offset // rows_per_object % 60
            name = f"retail-trans-1-{stamp:%Y-%m-%d-%H}-{minute:02d}-00-{tag}"
            lake.put(f"{prefix}{folder}{name}", buffer.getvalue())
    return frame
