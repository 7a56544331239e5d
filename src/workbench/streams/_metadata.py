"""A stream's metadata: shards, hash ranges, parents, state, retention, tags, mode, limits.

Kept as one JSON document per stream, replaced atomically (``stream.json``); every process
re-reads it when its inode changes, which a replace always does.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workbench._files import atomic_write_json, read_json
from workbench.streams._routing import Router
from workbench.streams._sequence import sequence_prefix
from workbench.streams._validation import shard_name


@dataclass
class ShardInfo:
    index: int
    start: int
    end: int
    created_ms: int
    parent: int | None = None
    adjacent_parent: int | None = None
    closed_ms: int | None = None
    end_position: int | None = None  # records in the shard once closed

    @property
    def id(self) -> str:
        return shard_name(self.index)

    @property
    def is_open(self) -> bool:
        return self.closed_ms is None

    def to_json(self) -> dict:
        d = asdict(self)
        d["start"], d["end"] = str(self.start), str(self.end)
        return d

    @classmethod
    def from_json(cls, d: dict) -> ShardInfo:
        return cls(**{**d, "start": int(d["start"]), "end": int(d["end"])})


@dataclass
class StreamMeta:
    name: str
    created_ms: int
    mode: str
    retention_hours: int
    max_record_size_kib: int
    fsync: bool
    shards: list[ShardInfo]
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "ACTIVE"
    next_shard_index: int = 0
    scalings_ms: list[int] = field(default_factory=list)

    def to_json(self) -> dict:
        d = asdict(self)
        d["shards"] = [s.to_json() for s in self.shards]
        return d

    @classmethod
    def from_json(cls, d: dict) -> StreamMeta:
        return cls(**{**d, "shards": [ShardInfo.from_json(s) for s in d["shards"]]})

    def shard(self, index: int) -> ShardInfo | None:
        for s in self.shards:
            if s.index == index:
                return s
        return None

    def open_shards(self) -> list[ShardInfo]:
        return sorted((s for s in self.shards if s.is_open), key=lambda s: s.start)

    def prefix(self, index: int) -> str:
        return sequence_prefix(self.created_ms, index)


@dataclass(frozen=True)
class Snapshot:
    """The metadata as loaded at one moment, with the routing derived from it; replaced as a
    whole, so threads never see a router of one version with the shards of another."""

    meta: StreamMeta
    open_shards: list[ShardInfo]
    open_indices: frozenset[int]
    router: Router


class MetaFile:
    """The metadata document of one stream, cached per process and reloaded when replaced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._path = str(path)
        self._stamp: tuple | None = None
        self.snapshot: Snapshot | None = None

    def exists(self) -> bool:
        return os.path.exists(self._path)

    def load(self) -> Snapshot | None:
        """The current metadata (None once the stream is deleted)."""
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            self.snapshot = None
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        snapshot = self.snapshot
        if stamp != self._stamp or snapshot is None:
            raw = read_json(self.path)
            if raw is None:
                return None
            meta = StreamMeta.from_json(raw)  # type: ignore[arg-type]
            shards = meta.open_shards()
            snapshot = Snapshot(
                meta, shards, frozenset(s.index for s in shards), Router([s.end for s in shards])
            )
            self.snapshot = snapshot
            self._stamp = stamp
        return snapshot

    def save(self, meta: StreamMeta) -> None:
        atomic_write_json(self.path, meta.to_json())
        self._stamp = None
