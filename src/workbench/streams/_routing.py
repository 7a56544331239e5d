"""Hash keys and shard routing: MD5 of partition keys, hash ranges, vectorised lookups.

Kinesis maps a partition key to a 128-bit hash key with MD5 (big-endian) and sends the record to
the open shard whose inclusive range holds it. Routing a frame of millions of rows one
``hashlib`` call at a time costs about a microsecond per row, so frames go through
:func:`md5_hash_keys`: the distinct keys are hashed by a numpy MD5 that runs the 64 rounds over
whole arrays at once (keys up to 55 bytes fit one MD5 block; longer ones fall back to hashlib).
Neither pyarrow nor polars ships MD5, and DuckDB's ``md5_number`` measured slower than hashlib here.

>>> hash_key_ranges(3)[0]
(0, 113427455640312821154458202477256070484)
>>> hash_key_ranges(1)
[(0, 340282366920938463463374607431768211455)]
>>> hi, lo = md5_hash_keys(["a", "b"])
>>> (int(hi[0]) << 64 | int(lo[0])) == int.from_bytes(hashlib.md5(b"a").digest(), "big")
True
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.streams._native import speedups

MAX_HASH_KEY = 2**128 - 1

_S = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4
_K = [int(abs(math.sin(i + 1)) * 2**32) & 0xFFFFFFFF for i in range(64)]
_INIT = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476)
_ONE_BLOCK = 55
_CHUNK = 32768


def hash_key_ranges(shard_count: int) -> list[tuple[int, int]]:
    """The inclusive (start, end) hash ranges CreateStream gives ``shard_count`` shards."""
    step = 2**128 // shard_count
    return [
        (i * step, MAX_HASH_KEY if i == shard_count - 1 else (i + 1) * step - 1)
        for i in range(shard_count)
    ]


# Producers reuse partition keys (customers, devices, sessions): a bounded memo of recent digests
# turns most of PutRecords' MD5 work into dictionary lookups.
_DIGESTS: dict[str, bytes] = {}
_DIGESTS_MAX = 1 << 16


def digest_memo() -> dict[str, bytes]:
    """The memo of recent digests by key, emptied first when it has grown past its bound."""
    if len(_DIGESTS) > _DIGESTS_MAX:
        _DIGESTS.clear()
    return _DIGESTS


def key_digest(key: str) -> bytes:
    """The MD5 digest of the UTF-8 encoded ``key``."""
    return hashlib.md5(key.encode()).digest()


def md5_digests(
    keys: list[str],
    memo: dict[str, bytes] | None = None,
    digest: Callable[[str], bytes] = key_digest,
) -> bytes:
    """The MD5 digests of the UTF-8 encoded ``keys``, back to back (16 bytes each): found in
    ``memo`` (the shared one by default), else made by ``digest`` and kept there."""
    memo = digest_memo() if memo is None else memo
    found = list(map(memo.get, keys))
    if None in found:
        for i, known in enumerate(found):
            if known is None:
                found[i] = memo[keys[i]] = digest(keys[i])
    return b"".join(found)  # type: ignore[arg-type]


def hash_key_of(partition_key: str) -> int:
    """The 128-bit hash key of one partition key."""
    return int.from_bytes(md5_digests([partition_key]), "big")


def _md5_one_block(keys: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """MD5 of short binary keys, as (high, low) uint64 halves of the big-endian digest."""
    n = len(keys)
    offsets = np.frombuffer(keys.buffers()[1], dtype=np.int32, count=n + 1, offset=keys.offset * 4)
    lengths = np.diff(offsets).astype(np.int64)
    values = np.frombuffer(keys.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    block = np.zeros((n, 64), dtype=np.uint8)
    rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
    cols = np.arange(len(values), dtype=np.int64) - np.repeat(offsets[:-1] - offsets[0], lengths)
    block[rows, cols] = values
    block[np.arange(n), lengths] = 0x80
    block[:, 56:] = (lengths * 8).astype("<u8").view(np.uint8).reshape(n, 8)
    words = np.ascontiguousarray(block.view("<u4").T)
    a, b, c, d = (np.full(n, v, dtype=np.uint32) for v in _INIT)
    f = np.empty(n, dtype=np.uint32)
    t = np.empty(n, dtype=np.uint32)
    for i in range(64):
        if i < 16:
            np.bitwise_and(b, c, out=f)
            np.bitwise_and(np.invert(b, out=t), d, out=t)
            np.bitwise_or(f, t, out=f)
            g = i
        elif i < 32:
            np.bitwise_and(d, b, out=f)
            np.bitwise_and(np.invert(d, out=t), c, out=t)
            np.bitwise_or(f, t, out=f)
            g = (5 * i + 1) % 16
        elif i < 48:
            np.bitwise_xor(b, c, out=f)
            np.bitwise_xor(f, d, out=f)
            g = (3 * i + 5) % 16
        else:
            np.bitwise_or(b, np.invert(d, out=t), out=f)
            np.bitwise_xor(c, f, out=f)
            g = (7 * i) % 16
        f += a
        f += np.uint32(_K[i])
        f += words[g]
        np.left_shift(f, np.uint32(_S[i]), out=t)
        np.right_shift(f, np.uint32(32 - _S[i]), out=f)
        t |= f
        t += b
        a, d, c, b = d, c, b, t.copy()
    a += np.uint32(_INIT[0])
    b += np.uint32(_INIT[1])
    c += np.uint32(_INIT[2])
    d += np.uint32(_INIT[3])
    # The digest is a, b, c, d little-endian; as a big-endian integer each word is byte-swapped.
    hi = (a.byteswap().astype(np.uint64) << np.uint64(32)) | b.byteswap().astype(np.uint64)
    lo = (c.byteswap().astype(np.uint64) << np.uint64(32)) | d.byteswap().astype(np.uint64)
    return hi, lo


def _md5_distinct(keys: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    n = len(keys)
    hi = np.empty(n, dtype=np.uint64)
    lo = np.empty(n, dtype=np.uint64)
    lengths = pc.binary_length(keys).to_numpy(zero_copy_only=False)
    short = np.flatnonzero(lengths <= _ONE_BLOCK)
    if len(short):
        short_keys = keys.take(pa.array(short)) if len(short) < n else keys
        for start in range(0, len(short), _CHUNK):
            part = short_keys.slice(start, _CHUNK)
            part = pa.concat_arrays([part])  # fresh offsets starting at this slice
            h, low = _md5_one_block(part)
            hi[short[start : start + _CHUNK]] = h
            lo[short[start : start + _CHUNK]] = low
    for i in np.flatnonzero(lengths > _ONE_BLOCK):
        digest = hashlib.md5(keys[int(i)].as_py()).digest()
        hi[i] = int.from_bytes(digest[:8], "big")
        lo[i] = int.from_bytes(digest[8:], "big")
    return hi, lo


def md5_hash_keys(
    keys: Sequence[str] | pa.Array | pa.ChunkedArray,
) -> tuple[np.ndarray, np.ndarray]:
    """The hash keys of many partition keys as (high, low) uint64 arrays, hashing each distinct
    key once."""
    array = keys if isinstance(keys, pa.Array | pa.ChunkedArray) else pa.array(keys, pa.string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.binary())
    encoded = array.dictionary_encode()
    hi, lo = _md5_distinct(encoded.dictionary)
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    return hi[indices], lo[indices]


def split_hash_keys(keys: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(high, low) uint64 halves of 128-bit integers."""
    hi = np.fromiter((k >> 64 for k in keys), dtype=np.uint64, count=len(keys))
    lo = np.fromiter((k & 0xFFFFFFFFFFFFFFFF for k in keys), dtype=np.uint64, count=len(keys))
    return hi, lo


class Router:
    """Finds the open shard for hash keys: the ranges of the open shards tile 0..2^128-1."""

    def __init__(self, ends: Sequence[int]) -> None:
        self.ends = list(ends)
        self._hi = np.array([e >> 64 for e in self.ends], dtype=np.uint64)
        self._lo = np.array([e & 0xFFFFFFFFFFFFFFFF for e in self.ends], dtype=np.uint64)

    def shard_of(self, hash_key: int) -> int:
        """Position (among the open shards) of the shard holding ``hash_key``."""
        lo, hi = 0, len(self.ends)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.ends[mid] < hash_key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def shard_order(self, hi: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """(the positions of hash keys given as (high, low) halves, sorted stably by shard;
        how many of them each open shard holds)."""
        if speedups is not None:
            order, counts = speedups.shard_order(
                np.ascontiguousarray(hi, dtype=np.uint64),
                np.ascontiguousarray(lo, dtype=np.uint64),
                self._hi,
                self._lo,
            )
            return np.frombuffer(order, dtype=np.int64), counts
        where = self.shards_of(hi, lo)
        order = np.argsort(where, kind="stable")
        return order, np.bincount(where, minlength=len(self.ends)).tolist()

    def shards_of(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """Positions of the shards holding many hash keys given as (high, low) halves."""
        pos = np.searchsorted(self._hi, hi, side="left")
        last = len(self.ends) - 1
        # Where the high halves tie, the low halves decide; shards narrower than 2^64 can tie
        # several times, hence the loop (it runs once or not at all for ordinary streams).
        while True:
            clipped = np.minimum(pos, last)
            later = (self._hi[clipped] == hi) & (self._lo[clipped] < lo) & (pos < last)
            if not later.any():
                # Small unsigned positions: numpy's stable argsort then runs a radix sort.
                return clipped.astype(np.uint16) if last < 1 << 16 else clipped
            pos = pos + later
