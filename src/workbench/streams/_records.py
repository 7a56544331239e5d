"""Records between Python, Arrow and the storage engine: the PutRecords fast path, frames as
batches without copies, and what reads hand back.

>>> import hashlib
>>> records, keys, size, hi, lo = plain_records([{"Data": b"x", "PartitionKey": "a"}], 1024)
>>> int(hi[0]) >> 56 == hashlib.md5(b"a").digest()[0]
True
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from workbench.streams._log import COLUMNS, Batch
from workbench.streams._routing import md5_digests


@dataclass
class ArrowRecords:
    """What :meth:`Stream.get_records_arrow` returns: the records as one Arrow table."""

    table: pa.Table
    next_shard_iterator: str | None
    millis_behind_latest: int
    child_shards: list[dict] | None

    def to_polars(self) -> pl.DataFrame:
        return pl.from_arrow(self.table)  # type: ignore[return-value]


_DATA = operator.itemgetter("Data")
_PARTITION_KEY = operator.itemgetter("PartitionKey")


def plain_records(
    records: Sequence, max_bytes: int
) -> tuple[list[bytes], list[str], int, np.ndarray, np.ndarray] | None:
    """The fast path of PutRecords: bytes data and ASCII text keys, nothing else in an entry,
    all within the limits, checked by whole-list operations. Returns the data, the keys, their
    total size and the hash keys' halves; None sends the request to the careful path."""
    try:
        datas = list(map(_DATA, records))
        texts = list(map(_PARTITION_KEY, records))
    except (TypeError, KeyError):
        return None
    # Entries of exactly two fields hold no ExplicitHashKey to look at one by one.
    if (
        set(map(len, records)) != {2}
        or set(map(type, datas)) != {bytes}
        or set(map(type, texts)) != {str}
    ):
        return None
    chars = list(map(len, texts))
    joined = "".join(texts)
    if min(chars) < 1 or max(chars) > 256 or not joined.isascii():
        return None
    if max(map(operator.add, map(len, datas), chars)) > max_bytes:
        return None
    digests = md5_digests(texts)
    halves = np.frombuffer(digests, dtype=">u8").reshape(-1, 2).astype(np.uint64)
    total = sum(map(len, datas)) + len(joined)
    return datas, texts, total, halves[:, 0], halves[:, 1]


def arrow_batch(data: pa.Array, keys: pa.Array) -> Batch:
    """A batch over the buffers of two large_string arrays, without copying their bytes."""

    def parts(array: pa.Array) -> tuple[memoryview, np.ndarray]:
        offsets = np.frombuffer(
            array.buffers()[1], dtype=np.int64, count=len(array) + 1, offset=array.offset * 8
        )
        first, last = int(offsets[0]), int(offsets[-1])
        values = array.buffers()[2]
        view = memoryview(values)[first:last] if values is not None else memoryview(b"")
        return view, offsets - first

    data_view, data_offsets = parts(data)
    key_view, key_offsets = parts(keys)
    return Batch(data_view, data_offsets, key_view, key_offsets)


@functools.cache
def empty_table() -> pa.Table:
    return pa.table(
        {
            "sequence_number": pa.array([], pa.string()),
            "partition_key": pa.array([], pa.string()),
            "approximate_arrival_timestamp": pa.array([], pa.timestamp("ms", "UTC")),
            "data": pa.array([], pa.binary()),
        }
    )


def json_columns(table: pa.Table, schema: dict | pl.Schema | None) -> pa.Table:
    if table.num_rows == 0 and schema is None:
        return table
    text = pl.from_arrow(table.column("data").cast(pa.string()))
    decoded = text.str.json_decode(dtype=pl.Struct(schema) if schema is not None else None)
    fields = decoded.struct.unnest()
    fields = fields.rename({c: f"{c}_" for c in fields.columns if c in COLUMNS})
    for name, column in zip(fields.columns, fields.to_arrow().columns, strict=True):
        table = table.append_column(name, column)
    return table
