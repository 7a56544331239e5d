"""Record makers and readers shared by the Firehose tests."""

from __future__ import annotations

import io

import orjson
import pyarrow.parquet as pq


def retail(i: int, **extra) -> bytes:
    """One retail record as the lab's producer sends it (JSON, newline appended)."""
    record = {
        "Invoice": f"{489434 + i // 3}",
        "StockCode": f"{85048 + i % 50}",
        "Description": "15CM CHRISTMAS GLASS BALL 20 LIGHTS",
        "Quantity": 1 + i % 12,
        "InvoiceDate": "2026-03-01 10:00:00",
        "Price": 6.95,
        "Customer_ID": "13085.0",
        "Country": ["United Kingdom", "France", "Germany"][i % 3],
        "n": i,
    }
    record.update(extra)
    return orjson.dumps(record) + b"\n"


def objects(wb, prefix="s3://lab/"):
    return wb.lake.list(prefix)


def json_lines(wb, prefix):
    """Every JSON record in the objects under ``prefix``."""
    out = []
    for o in objects(wb, prefix):
        out += [orjson.loads(line) for line in wb.lake.get(o.uri).splitlines() if line]
    return out


def parquet_rows(wb, prefix):
    out = []
    for o in objects(wb, prefix):
        out += pq.read_table(io.BytesIO(wb.lake.get(o.uri))).to_pylist()
    return out
