"""The DirectPut buffer journal: records a put acknowledged are on disk before it returns.

Append-only segment files ``<first ordinal>.seg`` of frames ``[length u32][arrival ms u64]
[crc32 u32][data]``. A put appends its records under a file lock and fsyncs once per call, so an
acknowledged record survives kill -9. A frame cut short by a crash is always the last one of the
newest segment (every later append repairs the tail first) and is dropped: its put never returned.
Delivery reads the journal in order and deletes segments once every record in them is delivered.

>>> import tempfile, pathlib
>>> journal = Journal(pathlib.Path(tempfile.mkdtemp()))
>>> journal.append([b"a", b"bc"], arrival_ms=1000)
0
>>> [(o, d) for o, _, d in journal.read(0, 10)]
[(0, b'a'), (1, b'bc')]
"""

from __future__ import annotations

import itertools
import os
import struct
import zlib
from pathlib import Path

from workbench._files import fsync_dir, locked

_HEADER = struct.Struct("<IQI")
SEGMENT_BYTES = 64 << 20


class Journal:
    """Durable, ordered records numbered from 0 (their ordinals)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = self.folder / ".lock"
        self._cursor: tuple[int, int, int] | None = None  # (segment first, file offset, ordinal)

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.folder.glob("*.seg"))

    def _path(self, first: int) -> Path:
        return self.folder / f"{first:020d}.seg"

    def _scan(self, first: int, offset: int = 0, ordinal: int | None = None):
        """Good frames of one segment from ``offset``: (ordinal, offset, end, arrival, data)."""
        ordinal = first if ordinal is None else ordinal
        with open(self._path(first), "rb") as f:
            f.seek(offset)
            while True:
                header = f.read(_HEADER.size)
                if len(header) < _HEADER.size:
                    return
                length, arrival, crc = _HEADER.unpack(header)
                data = f.read(length)
                if len(data) < length or zlib.crc32(data) != crc:
                    return
                end = offset + _HEADER.size + length
                yield ordinal, offset, end, arrival, data
                ordinal += 1
                offset = end

    def _tail(self) -> tuple[int, int, int]:
        """(newest segment, end of its last good frame, next ordinal); repairs a torn tail."""
        segments = self._segments()
        if not segments:
            self._path(0).touch()
            fsync_dir(self.folder)
            return 0, 0, 0
        first = segments[-1]
        end, ordinal = 0, first
        for ordinal_, _, end_, _, _ in self._scan(first):
            end, ordinal = end_, ordinal_ + 1
        path = self._path(first)
        if path.stat().st_size != end:
            os.truncate(path, end)
        return first, end, ordinal

    def append(self, records: list[bytes], arrival_ms: int) -> int:
        """Write ``records`` durably; the ordinal of the first one."""
        frames = b"".join(
            _HEADER.pack(len(r), arrival_ms, zlib.crc32(r)) + bytes(r) for r in records
        )
        with locked(self._lock):
            first, end, ordinal = self._tail()
            if end >= SEGMENT_BYTES:
                first, end = ordinal, 0
            with open(self._path(first), "ab") as f:
                f.write(frames)
                f.flush()
                os.fsync(f.fileno())
            if end == 0:
                fsync_dir(self.folder)
            return ordinal

    def count(self) -> int:
        """How many records were ever appended (the next ordinal)."""
        with locked(self._lock):
            return self._tail()[2]

    def read(self, start: int, limit: int) -> list[tuple[int, int, bytes]]:
        """Up to ``limit`` records ``(ordinal, arrival_ms, data)`` from ordinal ``start`` on."""
        segments = self._segments()
        out: list[tuple[int, int, bytes]] = []
        for i, first in enumerate(segments):
            following = segments[i + 1] if i + 1 < len(segments) else None
            if following is not None and following <= start:
                continue
            offset, ordinal = 0, first
            if self._cursor and self._cursor[0] == first and self._cursor[2] <= start:
                offset, ordinal = self._cursor[1], self._cursor[2]
            try:
                for ordinal_, _, end, arrival, data in self._scan(first, offset, ordinal):
                    self._cursor = (first, end, ordinal_ + 1)
                    if ordinal_ >= start:
                        out.append((ordinal_, arrival, data))
                        if len(out) >= limit:
                            return out
            except FileNotFoundError:
                continue
        return out

    def release(self, below: int) -> None:
        """Delete segments whose records all have ordinals below ``below`` (all delivered)."""
        segments = self._segments()
        for first, following in itertools.pairwise(segments):
            if following <= below:
                self._path(first).unlink(missing_ok=True)
