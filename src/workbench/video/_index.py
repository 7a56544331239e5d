"""The durable index of video streams and their fragments (one SQLite database in the home).

SQLite rather than DuckDB or JSON files: many processes read while one producer per stream
commits a fragment every couple of seconds, and SQLite gives atomic, crash-safe commits with
concurrent readers (WAL) from the standard library. The media itself lives in files beside it;
a fragment exists for readers only once its row is committed, after its file is complete.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

# Fragment numbers are digit strings of one length, so text order is numeric order, as on AWS.
_NUMBER_BASE = 91343852333181432392682062600000000000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS streams (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    device_name TEXT,
    media_type TEXT NOT NULL,
    retention_hours INTEGER NOT NULL,
    creation_time REAL NOT NULL,
    version TEXT NOT NULL,
    folder TEXT NOT NULL,
    tags BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS fragments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    number TEXT NOT NULL,
    producer_ts REAL NOT NULL,
    server_ts REAL NOT NULL,
    duration_ms INTEGER NOT NULL,
    size INTEGER NOT NULL,
    file TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    frames BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS fragments_producer ON fragments (stream, producer_ts);
CREATE INDEX IF NOT EXISTS fragments_server ON fragments (stream, server_ts);
"""


@dataclass(frozen=True)
class Fragment:
    """One committed fragment: its place in the stream and where each frame's JPEG lies."""

    number: str
    producer_timestamp: float
    server_timestamp: float
    duration_ms: int
    size: int
    path: Path
    width: int
    height: int
    # One row per frame: producer timestamp (epoch s), byte offset and length of its JPEG.
    frame_times: np.ndarray
    frame_spans: np.ndarray

    @property
    def end_timestamp(self) -> float:
        """The producer time just after the last frame."""
        return self.producer_timestamp + self.duration_ms / 1000

    def to_aws(self) -> dict:
        """The fragment as ListFragments describes it."""
        from workbench.video._times import to_datetime

        return {
            "FragmentNumber": self.number,
            "FragmentSizeInBytes": self.size,
            "ProducerTimestamp": to_datetime(self.producer_timestamp),
            "ServerTimestamp": to_datetime(self.server_timestamp),
            "FragmentLengthInMilliseconds": self.duration_ms,
        }


class Index:
    """Streams and fragments, shared by every process that opens the same home."""

    def __init__(self, path: Path) -> None:
        self.path = path
        db = sqlite3.connect(self.path, timeout=30)
        try:
            # WAL: readers go on while a producer commits; the mode is stored in the file.
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        finally:
            db.close()

    @contextlib.contextmanager
    def connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection for one operation: committed on success, rolled back on error."""
        # One connection per operation keeps threads (a live reader beside a producer) apart.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous=FULL")
            db.row_factory = sqlite3.Row
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    @staticmethod
    def fragment_number(seq: int) -> str:
        return str(_NUMBER_BASE + seq)

    def fragments(
        self,
        stream: str,
        where: str = "",
        params: tuple = (),
        order: str = "seq",
        limit: int | None = None,
    ) -> list[Fragment]:
        """Fragments of ``stream`` matching an SQL condition on the fragments table."""
        sql = "SELECT * FROM fragments WHERE stream = ?" + (f" AND {where}" if where else "")
        sql += f" ORDER BY {order}" + (f" LIMIT {int(limit)}" if limit is not None else "")
        with self.connect() as db:
            rows = db.execute(sql, (stream, *params)).fetchall()
        return [_fragment(row, self.path.parent) for row in rows]


def encode_frames(times: list[float], spans: list[tuple[int, int]]) -> bytes:
    return orjson.dumps([[t, o, n] for t, (o, n) in zip(times, spans, strict=True)])


def _fragment(row: sqlite3.Row, root: Path) -> Fragment:
    frames = orjson.loads(row["frames"])
    table = np.array(frames, dtype=np.float64).reshape(-1, 3)
    return Fragment(
        number=row["number"],
        producer_timestamp=row["producer_ts"],
        server_timestamp=row["server_ts"],
        duration_ms=row["duration_ms"],
        size=row["size"],
        path=root / row["file"],
        width=row["width"],
        height=row["height"],
        frame_times=table[:, 0],
        frame_spans=table[:, 1:].astype(np.int64),
    )
