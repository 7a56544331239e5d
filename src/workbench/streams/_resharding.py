"""How splits, merges and uniform rescaling change a stream's shards (its metadata).

Children are added before their parents close, and every new shard has at most two parents, so
a consumer that finishes parents before children reads each key in order. The caller holds the
stream's metadata lock and passes ``close``, which closes a parent under its shard lock.

>>> from workbench.streams._metadata import ShardInfo, StreamMeta
>>> meta = StreamMeta("s", 0, "PROVISIONED", 24, 1024, False, [ShardInfo(0, 0, 2**128 - 1, 0)],
...                   next_shard_index=1)
>>> def close(info): info.closed_ms = 0
>>> rescale(meta, 3, 0, close)
>>> [(s.index, s.parent, s.adjacent_parent) for s in meta.open_shards()]
[(1, 0, None), (3, 2, None), (4, 2, None)]
"""

from __future__ import annotations

from collections.abc import Callable

from workbench.streams._metadata import ShardInfo, StreamMeta
from workbench.streams._routing import hash_key_ranges

Close = Callable[[ShardInfo], None]


def _new_shard(
    meta: StreamMeta,
    start: int,
    end: int,
    now_ms: int,
    parent: int | None = None,
    adjacent: int | None = None,
) -> ShardInfo:
    info = ShardInfo(meta.next_shard_index, start, end, now_ms, parent, adjacent)
    meta.next_shard_index += 1
    meta.shards.append(info)
    return info


def split(meta: StreamMeta, parent: ShardInfo, at: int, now_ms: int, close: Close) -> None:
    """Two children, ``[start, at - 1]`` and ``[at, end]``; the parent closes."""
    _new_shard(meta, parent.start, at - 1, now_ms, parent.index)
    _new_shard(meta, at, parent.end, now_ms, parent.index)
    close(parent)


def merge(meta: StreamMeta, a: ShardInfo, b: ShardInfo, now_ms: int, close: Close) -> ShardInfo:
    """One child covering two adjacent shards; both close."""
    child = _new_shard(meta, min(a.start, b.start), max(a.end, b.end), now_ms, a.index, b.index)
    # Closing both under one metadata save would need both shard locks at once; two saves are
    # fine because the child already covers both ranges.
    close(a)
    close(b)
    return child


def rescale(meta: StreamMeta, target: int, now_ms: int, close: Close) -> None:
    """UNIFORM_SCALING as AWS does it: split every open shard at the target boundaries inside
    it, then merge, left to right, the pieces that make up each target range."""
    targets = hash_key_ranges(target)
    boundaries = [start for start, _ in targets[1:]]
    for info in list(meta.open_shards()):
        piece = info
        for at in [b for b in boundaries if info.start < b <= info.end]:
            split(meta, piece, at, now_ms, close)
            piece = meta.shards[-1]
    for start, end in targets:
        pieces = [s for s in meta.open_shards() if start <= s.start and s.end <= end]
        merged = pieces[0]
        for piece in pieces[1:]:
            merged = merge(meta, merged, piece, now_ms, close)
