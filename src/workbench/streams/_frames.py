"""Frames into records: each row becomes one JSON object, its partition key from a column.

Polars encodes the rows to JSON in bulk (``struct.json_encode``), so a frame of a million rows
costs no Python work per row; pandas and Arrow frames go through polars, iterables of dicts
through orjson.

>>> import polars as pl
>>> data, keys = frame_records(pl.DataFrame({"Country": ["FR", "UK"], "Price": [1.5, 2.0]}),
...                            "Country")
>>> data.to_pylist(), keys.to_pylist()
(['{"Country":"FR","Price":1.5}', '{"Country":"UK","Price":2.0}'], ['FR', 'UK'])
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import orjson
import polars as pl
import pyarrow as pa

from workbench.errors import InvalidArgumentException

PartitionKey = str | Callable[[Mapping], str] | None
_T = TypeVar("_T")
_R = TypeVar("_R")
# Below this many rows a thread pool costs more than encoding in one thread.
_SIDE_BY_SIDE_ROWS = 65_536


def _as_polars(frame: object) -> pl.DataFrame | None:
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    if isinstance(frame, pa.Table | pa.RecordBatch):
        return pl.from_arrow(frame)
    if type(frame).__module__.startswith("pandas"):
        return pl.from_pandas(frame)
    return None


def _arrow_strings(series: pl.Series) -> pa.Array:
    array = series.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.large_string())


def frame_rows(
    frame: object, partition_key: PartitionKey = None
) -> tuple[pl.DataFrame | pa.Array, pa.Array]:
    """(the rows, partition keys): the rows as a polars frame still to be encoded, or as JSON
    documents already (iterables of dicts); the keys as an Arrow string array, one per row.

    ``partition_key`` is a column name, a function of the row (as a dict), or None, which keys
    each row by its number in the frame so rows spread evenly over the shards.
    """
    df = _as_polars(frame)
    if df is None:
        if not isinstance(frame, Iterable) or isinstance(frame, str | bytes | Mapping):
            raise InvalidArgumentException(
                f"put_frame takes a polars or pandas DataFrame, an Arrow table or an iterable of "
                f"dicts, not {type(frame).__name__}"
            )
        return _dict_records(frame, partition_key)
    if callable(partition_key):
        keys = pl.Series([str(partition_key(row)) for row in df.iter_rows(named=True)])
    elif partition_key is None:
        keys = pl.int_range(df.height, eager=True).cast(pl.String)
    elif partition_key in df.columns:
        keys = df.get_column(partition_key).cast(pl.String)
    else:
        raise InvalidArgumentException(
            f"partition_key {partition_key!r} is not a column of the frame; columns: "
            f"{', '.join(df.columns)}"
        )
    return df, _arrow_strings(keys)


def json_documents(rows: pl.DataFrame | pa.Array) -> pa.Array:
    """Rows from :func:`frame_rows` as JSON documents (a large_string array)."""
    if isinstance(rows, pa.Array):
        return rows
    return _arrow_strings(rows.select(pl.struct(pl.all()).struct.json_encode()).to_series())


def gather(rows: pl.DataFrame | pa.Array, order: np.ndarray) -> pl.DataFrame | pa.Array:
    """The rows at the positions ``order`` lists, in that order."""
    return rows.take(pa.array(order)) if isinstance(rows, pa.Array) else rows[order]


def json_chunks(rows: pl.DataFrame | pa.Array, bounds: list[tuple[int, int]]) -> list[pa.Array]:
    """JSON documents of each (start, count) slice of ``rows``."""
    slices = [rows.slice(start, count) for start, count in bounds]
    return side_by_side(json_documents, slices, 0 if isinstance(rows, pa.Array) else len(rows))


def side_by_side(work: Callable[[_T], _R], items: list[_T], rows: int) -> list[_R]:
    """``list(map(work, items))``, in a thread per core when ``rows`` are enough to repay the
    threads: for work in polars, pyarrow, numpy or the OS, which holds no GIL meanwhile."""
    if rows < _SIDE_BY_SIDE_ROWS or len(items) < 2:
        return list(map(work, items))
    with ThreadPoolExecutor(min(len(items), os.cpu_count() or 1)) as pool:
        return list(pool.map(work, items))


def frame_records(frame: object, partition_key: PartitionKey = None) -> tuple[pa.Array, pa.Array]:
    """(JSON documents, partition keys) as Arrow string arrays, one entry per row."""
    rows, keys = frame_rows(frame, partition_key)
    return json_documents(rows), keys


def _dict_records(rows: Iterable, partition_key: PartitionKey) -> tuple[pa.Array, pa.Array]:
    data: list[bytes] = []
    keys: list[str] = []
    for number, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidArgumentException(
                f"row {number} is a {type(row).__name__}; put_frame takes rows as dicts"
            )
        data.append(orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS))
        if callable(partition_key):
            keys.append(str(partition_key(row)))
        elif partition_key is None:
            keys.append(str(number))
        elif partition_key in row:
            keys.append(str(row[partition_key]))
        else:
            raise InvalidArgumentException(
                f"row {number} has no field {partition_key!r} to use as its partition key"
            )
    return pa.array(data, pa.large_binary()).cast(pa.large_string()), pa.array(
        keys, pa.large_string()
    )
