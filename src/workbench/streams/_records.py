"""Records between Python, Arrow and the storage engine: the PutRecords fast path, frames as
batches without copies, and what reads hand back.

>>> import hashlib
>>> entries = plain_records([{"Data": b"x", "PartitionKey": "a"}], 1024)
>>> int(entries.hi[0]) >> 56 == hashlib.md5(b"a").digest()[0]
True
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa

from workbench.streams._log import COLUMNS, Batch
from workbench.streams._native import speedups
from workbench.streams._routing import digest_memo, key_digest, md5_digests
from workbench.streams._sequence import SEQUENCE_WIDTH, sequence_texts


@dataclass
class ArrowRecords:
    """What :meth:`Stream.get_records_arrow` returns: the records as one Arrow table."""

    table: pa.Table
    next_shard_iterator: str | None
    millis_behind_latest: int
    child_shards: list[dict] | None

    def to_polars(self) -> pl.DataFrame:
        return pl.from_arrow(self.table)  # type: ignore[return-value]


class ShardRun(NamedTuple):
    """The records of one PutRecords that one append wrote to one shard (a tuple: made four
    times a put, where a frozen dataclass's init costs twice as much)."""

    shard_id: str
    members: list[int] | np.ndarray  # their positions in the request, in order
    numbers: list[str] | np.ndarray  # their sequence numbers as the append made them


class PutRecordsAnswer:
    """Where PutRecords put each record, kept column-wise: the AWS answer as dicts on demand
    (:meth:`as_dict`), or as columns (:meth:`columns`) for a server that writes it out as JSON
    without making a Python object per record, which cost more than the put itself.

    >>> from workbench.streams._sequence import sequence_bytes, sequence_prefix
    >>> prefix = sequence_prefix(1767225600000, 1)
    >>> run = ShardRun("shardId-000000000001", [1, 0], sequence_bytes(prefix, 7, 2))
    >>> answer = PutRecordsAnswer(2, [run])
    >>> [r["SequenceNumber"][-2:] for r in answer.as_dict()["Records"]]
    ['08', '07']
    >>> ids, shard_of, digits = answer.columns()
    >>> ids, shard_of.tolist(), digits[:, -2:].tobytes()
    (['shardId-000000000001'], [0, 0], b'0807')
    """

    # Not a dataclass: orjson would write a dataclass out field by field.
    __slots__ = ("count", "runs")

    def __init__(self, count: int, runs: list[ShardRun]) -> None:
        self.count = count
        self.runs = runs

    def as_dict(self) -> dict:
        records = answer_records(self.count, self._digit_runs(), SEQUENCE_WIDTH)
        return {"FailedRecordCount": 0, "Records": records, "EncryptionType": "NONE"}

    def columns(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(the shard ids written to, each record's index among them, each record's sequence
        number as a row of a (count, 56) array of ASCII digits), records in request order."""
        return scatter_runs(self.count, self._digit_runs(), SEQUENCE_WIDTH)

    def _digit_runs(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """Each run as (shard id, its records' request positions, their sequence numbers as
        ASCII digits back to back)."""
        return [
            (
                run.shard_id,
                np.ascontiguousarray(run.members, dtype=np.int64),
                np.frombuffer("".join(run.numbers).encode(), dtype=np.uint8)
                if isinstance(run.numbers, list)
                else run.numbers,
            )
            for run in self.runs
        ]


def scatter_runs(
    count: int, runs: list[tuple[str, np.ndarray, np.ndarray]], width: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Runs (as :meth:`PutRecordsAnswer._digit_runs` gives them) as columns in request order."""
    shard_of = np.empty(count, dtype=np.int64)
    digits = np.empty((count, width), dtype=np.uint8)
    for index, (_, members, numbers) in enumerate(runs):
        shard_of[members] = index
        digits[members] = np.frombuffer(numbers, dtype=np.uint8).reshape(-1, width)
    return [shard_id for shard_id, _, _ in runs], shard_of, digits


_DATA = operator.itemgetter("Data")
_PARTITION_KEY = operator.itemgetter("PartitionKey")


@dataclass
class PutEntries:
    """The records of one PutRecords, checked: data, keys, their sizes in bytes and hash keys."""

    datas: list[bytes]
    keys: list[str]
    data_sizes: np.ndarray
    key_sizes: np.ndarray  # of the UTF-8 keys
    hi: np.ndarray  # the hash keys' high halves
    lo: np.ndarray

    @property
    def total(self) -> int:
        return int(self.data_sizes.sum() + self.key_sizes.sum())

    def shard_batches(self, order: np.ndarray, counts: list[int]) -> list[Batch]:
        """A batch per count, of the entries ``order`` lists (sorted by shard), in that order:
        the data and the keys joined once for all shards, each batch a view of its stretch."""
        data, data_offsets, keys, key_offsets = gather(
            self.datas, self.keys, np.ascontiguousarray(order, dtype=np.int64), counts
        )
        data, keys = memoryview(data), memoryview(keys)
        data_offsets = np.frombuffer(data_offsets, dtype=np.int64)
        key_offsets = np.frombuffer(key_offsets, dtype=np.int64)
        batches = []
        first = data_start = key_start = 0
        for count in counts:
            d = data_offsets[first : first + count + 1]
            k = key_offsets[first : first + count + 1]
            data_end, key_end = data_start + int(d[-1]), key_start + int(k[-1])
            batches.append(Batch(data[data_start:data_end], d, keys[key_start:key_end], k))
            first, data_start, key_start = first + count + 1, data_end, key_end
        return batches


def plain_records(records: Sequence, max_bytes: int) -> PutEntries | None:
    """The fast path of PutRecords: exact dicts of bytes data and an ASCII text key, nothing
    else in an entry, all within the limits, read in one pass; None sends the request to the
    careful path."""
    scanned = scan_entries(records, max_bytes, digest_memo(), key_digest)
    if scanned is None:
        return None
    datas, texts, data_sizes, key_sizes, digests = scanned
    halves = np.frombuffer(digests, dtype=">u8").reshape(-1, 2).astype(np.uint64)
    return PutEntries(
        datas,
        texts,
        np.frombuffer(data_sizes, dtype=np.int64),
        np.frombuffer(key_sizes, dtype=np.int64),
        halves[:, 0],
        halves[:, 1],
    )


def scan_entries_in_python(
    records: Sequence, max_bytes: int, memo: dict[str, bytes], digest: Callable[[str], bytes]
) -> tuple[list[bytes], list[str], np.ndarray, np.ndarray, bytes] | None:
    """What ``_speedups.scan_entries`` does, by whole-list operations: (datas, keys, their
    sizes, the keys' MD5 digests back to back) or None."""
    if set(map(type, records)) != {dict}:
        return None
    try:
        datas = list(map(_DATA, records))
        texts = list(map(_PARTITION_KEY, records))
        ascii_keys = "".join(texts).isascii()  # join takes nothing but text
    except KeyError:
        return None
    # Every entry has the two fields; two in all for each means none holds another.
    if sum(map(len, records)) != 2 * len(records) or set(map(type, datas)) != {bytes}:
        return None
    if not ascii_keys:
        return None
    data_sizes = np.fromiter(map(len, datas), dtype=np.int64, count=len(datas))
    key_sizes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))  # ASCII
    if key_sizes.min() < 1 or key_sizes.max() > 256 or (data_sizes + key_sizes).max() > max_bytes:
        return None
    return datas, texts, data_sizes, key_sizes, md5_digests(texts, memo, digest)


def answer_records_in_python(
    count: int, runs: list[tuple[str, np.ndarray, np.ndarray]], width: int
) -> list[dict]:
    """What ``_speedups.answer_records`` does: a {ShardId, SequenceNumber} dict per record, in
    request order."""
    shard_ids, shard_of, digits = scatter_runs(count, runs, width)
    shards = list(map(shard_ids.__getitem__, shard_of.tolist()))
    return [
        {"ShardId": shard, "SequenceNumber": number}
        for shard, number in zip(shards, sequence_texts(digits), strict=True)
    ]


def gather_in_python(
    datas: list[bytes], keys: list[str], order: np.ndarray, counts: list[int]
) -> tuple[bytes, np.ndarray, bytes, np.ndarray]:
    """What ``_speedups.gather`` does: the records ``order`` lists, back to back (keys as UTF-8),
    with offsets that start at 0 again for each of the groups ``counts`` makes."""
    chosen = order.tolist()

    def offsets(sizes: np.ndarray) -> np.ndarray:
        out = np.zeros(len(chosen) + len(counts), dtype=np.int64)
        first = 0
        for group, count in enumerate(counts):
            at = first + group
            np.cumsum(sizes[first : first + count], out=out[at + 1 : at + count + 1])
            first += count
        return out

    picked = [datas[i] for i in chosen]
    encoded = [keys[i].encode() for i in chosen]
    data_sizes = np.fromiter(map(len, picked), np.int64, len(chosen))
    key_sizes = np.fromiter(map(len, encoded), np.int64, len(chosen))
    return b"".join(picked), offsets(data_sizes), b"".join(encoded), offsets(key_sizes)


if speedups is not None:
    scan_entries, gather = speedups.scan_entries, speedups.gather
    answer_records = speedups.answer_records
else:
    scan_entries, gather = scan_entries_in_python, gather_in_python
    answer_records = answer_records_in_python


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
