"""Retail transactions landed in the lake as Firehose lands them, for the Athena steps of the lab.

Stands in for the Firehose flow where a notebook, test or benchmark needs the lab's data without
running streams: seeded, vectorised (ten million rows in seconds), written through the lake API
as newline-delimited JSON objects under ``json-data/year=YYYY/month=MM/day=DD/hour=HH/`` with the
producer's field names (``Customer_ID``...). The frame it returns is what was written, so a test
can compute the answers independently of the SQL engine.

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

_COUNTRIES = [
    ("United Kingdom", 0.86),
    ("Germany", 0.03),
    ("France", 0.025),
    ("EIRE", 0.02),
    ("Netherlands", 0.015),
    ("Spain", 0.01),
    ("Belgium", 0.01),
    ("Switzerland", 0.008),
    ("Portugal", 0.007),
    ("Australia", 0.006),
    ("Norway", 0.005),
    ("Sweden", 0.004),
]
_WORDS = [
    "WHITE", "HANGING", "HEART", "T-LIGHT", "HOLDER", "CHRISTMAS", "GLASS", "BALL", "LIGHTS",
    "REGENCY", "CAKESTAND", "3", "TIER", "JUMBO", "BAG", "RED", "RETROSPOT", "PARTY", "BUNTING",
    "LUNCH", "BOX", "PINK", "CHERRY", "VINTAGE", "SET", "OF", "6", "CERAMIC", "MUG", "15CM",
]  # fmt: skip
_PRODUCTS = 2000
_CUSTOMERS = 4000
_LINES_PER_INVOICE = 8


def _products(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = rng.choice(np.arange(10000, 99999), _PRODUCTS, replace=False).astype(str)
    suffixes = rng.choice(list("ABCDEFGHJKLMNPRSTUVW"), _PRODUCTS)
    letters = np.where(rng.random(_PRODUCTS) < 0.15, suffixes, "")
    codes = np.char.add(codes, letters)
    words = rng.choice(_WORDS, (_PRODUCTS, 4))
    descriptions = np.array([" ".join(w) for w in words])
    prices = np.round(np.exp(rng.normal(0.8, 0.9, _PRODUCTS)), 2).clip(0.1, 300.0)
    return codes, descriptions, prices


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
    rng = np.random.default_rng(seed)
    codes, descriptions, prices = _products(rng)
    invoices = max(1, rows // _LINES_PER_INVOICE)
    invoice_of_row = np.sort(rng.integers(0, invoices, rows))
    start_s = int(parse_instant(start))
    invoice_times = start_s + np.sort(rng.integers(0, hours * 3600, invoices))
    customers = rng.zipf(1.3, invoices) % _CUSTOMERS + 12346
    customer_ids = np.char.add(customers.astype(str), ".0")
    customer_ids = np.where(rng.random(invoices) < 0.2, "", customer_ids)
    names = np.array([c for c, _ in _COUNTRIES])
    weights = np.array([w for _, w in _COUNTRIES])
    countries = rng.choice(names, invoices, p=weights / weights.sum())
    product = (rng.zipf(1.2, rows) - 1) % _PRODUCTS
    quantity = np.clip(rng.geometric(0.25, rows), 1, 480)
    frame = pl.DataFrame(
        {
            "Invoice": (489434 + invoice_of_row).astype(str),
            "StockCode": codes[product],
            "Description": descriptions[product],
            "Quantity": quantity.astype(np.int64),
            "InvoiceDate": invoice_times[invoice_of_row],
            "Price": prices[product],
            "Customer_ID": customer_ids[invoice_of_row],
            "Country": countries[invoice_of_row],
        }
    ).with_columns(pl.from_epoch("InvoiceDate", time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S"))
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    hour_of_row = (invoice_times[invoice_of_row] - start_s) // 3600
    bounds = np.searchsorted(hour_of_row, np.arange(hours + 1))
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
