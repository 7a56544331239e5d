"""The storage engine of one shard: append-only columnar segments, memory-mapped for reads.

A shard is a folder of segments; a segment is a folder named by the position (within the shard)
of its first record, holding one file per column, each exactly an Arrow buffer:

========== =================================================================================
file       content
========== =================================================================================
``ts``     int64 little-endian arrival time (epoch ms) per record; the commit record
``seq``    56 ASCII digits per record: the sequence number
``data``   the records' data, back to back
``data.off`` int32 offsets into ``data``: a leading 0, then the end of each record
``key``    the partition keys (UTF-8), back to back
``key.off``  int32 offsets into ``key``, as for ``data``
========== =================================================================================

Reading positions [a, b) of a segment is therefore zero-copy: slices of the mapped files become
the buffers of Arrow arrays, with no Python work per record. A batch is appended with one
``pwrite`` per file, ``ts`` last: a record exists once its ``ts`` entry does, so a reader (or a
writer recovering after kill -9) counts ``len(ts) // 8`` records and every other file already
holds them. Writers hold the shard's ``flock`` and write at offsets derived from that count, so a
torn tail left by a killed writer is overwritten, never exposed. With ``fsync`` the other files
are flushed before ``ts`` is written and ``ts`` after, so a power loss keeps a consistent prefix.

Segments roll over by size, record count and age; retention deletes whole old segments (renamed
away first, so a reader never sees half a segment).
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import itertools
import mmap
import operator
import os
import shutil
import stat
import threading
import uuid
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from workbench._files import fsync_dir
from workbench.streams._native import speedups
from workbench.streams._sequence import SEQUENCE_WIDTH, sequence_bytes, sequence_numbers

SEGMENT_MAX_BYTES = 256 * 1024 * 1024
SEGMENT_MAX_RECORDS = 8 * 1024 * 1024
SEGMENT_MAX_AGE_MS = 3_600_000
_FILES = ("ts", "seq", "data", "data.off", "key", "key.off")
_ZERO_OFFSET = np.zeros(1, dtype="<i4").tobytes()
_EMPTY = pa.py_buffer(b"")
# Below these many records plain Python beats numpy's fixed cost per call.
_FEW = 16


_MAX_WRITERS = 32
_WRITERS: dict[int, ShardLog] = {}  # the logs holding descriptors, by id
_WRITERS_LOCK = threading.Lock()
# An append only takes a tick; the least recently used writers are found when another one opens
# its files, which is rare, so the common put pays no bookkeeping.
_TICKS = itertools.count(1)
_LAST_USE = operator.attrgetter("_used")


def file_offsets_in_python(offsets: np.ndarray, base: int) -> np.ndarray:
    """What ``_speedups.file_offsets`` does: an appended batch's offsets (after the leading 0)
    as the offsets file holds them, little-endian int32 from ``base`` on."""
    return (np.asarray(offsets[1:]) + base).astype("<i4")


file_offsets = speedups.file_offsets if speedups is not None else file_offsets_in_python


def _segment_names(folder: Path) -> list[int]:
    try:
        return sorted(int(name) for name in os.listdir(folder) if name.isdigit())
    except FileNotFoundError:
        return []


@dataclass
class Batch:
    """Records ready to append: data and keys back to back, with offsets from 0.

    Offsets are numpy arrays for frames and PutRecords, a plain list for PutRecord's one
    record, where numpy's fixed cost per call would dominate.
    """

    data: bytes | memoryview | pa.Buffer
    data_offsets: np.ndarray | list[int]
    keys: bytes | memoryview | pa.Buffer
    key_offsets: np.ndarray | list[int]

    @property
    def count(self) -> int:
        return len(self.data_offsets) - 1

    @property
    def size(self) -> int:
        return int(self.data_offsets[-1]) + int(self.key_offsets[-1])


def _open_rw(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR)
    except PermissionError:  # a sealed ts (read-only); only read from then on
        return os.open(path, os.O_RDONLY)


class _Tail:
    """A writer's open segment: its file descriptors and where the next record goes."""

    def __init__(self, folder: Path, base: int) -> None:
        self.folder = folder
        self.base = base
        self.fds = {name: _open_rw(folder / name) for name in _FILES}
        self.count = -1
        self.data_end = self.key_end = 0
        self.first_ts = self.last_ts = 0

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)

    def _int(self, name: str, index: int, width: int) -> int:
        raw = os.pread(self.fds[name], width, index * width)
        return int.from_bytes(raw, "little", signed=True) if len(raw) == width else -1

    def recover(self) -> None:
        """Cut what a killed writer left half-written: the longest consistent prefix stays."""
        size = {name: os.fstat(fd).st_size for name, fd in self.fds.items()}
        count = min(
            size["ts"] // 8,
            size["seq"] // SEQUENCE_WIDTH,
            size["data.off"] // 4 - 1,
            size["key.off"] // 4 - 1,
        )
        while count > 0 and (
            self._int("data.off", count, 4) > size["data"]
            or self._int("key.off", count, 4) > size["key"]
        ):
            count -= 1
        count = max(count, 0)
        self.sync(count)
        want = {
            "ts": count * 8,
            "seq": count * SEQUENCE_WIDTH,
            "data.off": (count + 1) * 4,
            "key.off": (count + 1) * 4,
            "data": self.data_end,
            "key": self.key_end,
        }
        for name, length in want.items():
            if size[name] > length:
                os.ftruncate(self.fds[name], length)

    def sync(self, count: int) -> None:
        self.count = count
        self.data_end = self._int("data.off", count, 4)
        self.key_end = self._int("key.off", count, 4)
        self.first_ts = self._int("ts", 0, 8) if count else 0
        self.last_ts = self._int("ts", count - 1, 8) if count else 0


class ShardLog:
    """Append and read the records of one shard; safe across threads and processes."""

    def __init__(self, folder: Path, *, fsync: bool = False) -> None:
        self.folder = folder
        self._dir = str(folder)
        self.fsync = fsync
        self._lock_fd: int | None = None
        self._used = 0  # the tick of the latest append
        self._tail: _Tail | None = None
        self._views: dict[int, _SegmentView] = {}
        # flock excludes other processes only: threads of this one share the descriptor.
        self._mutex = threading.RLock()

    # -- writing ---------------------------------------------------------------------------

    def _open_lock(self) -> int:
        # One lock descriptor kept open per shard: flock on it costs one syscall, where
        # workbench._files.locked would open and close the file on every put.
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        self._close_idle_writers()
        return self._lock_fd

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._mutex:
            lock = self._lock_fd if self._lock_fd is not None else self._open_lock()
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._mutex:
            self._release_files()
            self._views.clear()

    def _release_files(self) -> None:
        if self._tail is not None:
            self._tail.close()
            self._tail = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        with _WRITERS_LOCK:
            _WRITERS.pop(id(self), None)

    def _close_idle_writers(self) -> None:
        """Count this writer among those with open files; close the files of the least recently
        used beyond the limit (a writer holds seven descriptors, and a notebook on macOS may
        have only 256)."""
        with _WRITERS_LOCK:
            _WRITERS[id(self)] = self
            excess = len(_WRITERS) - _MAX_WRITERS
            others = (log for log in _WRITERS.values() if log is not self)
            idle = heapq.nsmallest(excess, others, key=_LAST_USE) if excess > 0 else []
        for log in idle:
            if log._mutex.acquire(blocking=False):  # never wait for a busy one: no deadlock
                try:
                    log._release_files()
                finally:
                    log._mutex.release()

    def _create_segment(self, base: int) -> _Tail:
        final = self.folder / f"{base:020d}"
        if not final.exists():
            staging = self.folder / f".new-{base}-{uuid.uuid4().hex}"
            staging.mkdir()
            for name in _FILES:
                (staging / name).write_bytes(_ZERO_OFFSET if name.endswith(".off") else b"")
            os.rename(staging, final)
            if self.fsync:
                fsync_dir(self.folder)
        tail = _Tail(final, base)
        tail.recover()
        return tail

    def _current(self) -> _Tail:
        """The segment to append to, brought up to date with other writers (lock held).

        A writer that rolls over first seals the old segment by making its ``ts`` read-only, so
        the one ``fstat`` that tells every writer how many records exist also tells it when to
        move on to the next segment.
        """
        tail = self._tail
        if tail is None:
            names = _segment_names(self.folder)
            tail = _Tail(self.folder / f"{names[-1]:020d}", names[-1]) if names else None
            tail = self._create_segment(0) if tail is None else tail
            if tail.count < 0:
                tail.recover()
        while True:
            st = os.fstat(tail.fds["ts"])
            count = st.st_size // 8
            if count != tail.count:
                tail.sync(count)
            if st.st_mode & stat.S_IWUSR:
                break
            tail.close()
            tail = self._create_segment(tail.base + tail.count)
        self._tail = tail
        return tail

    def append(
        self,
        batch: Batch,
        now_ms: int,
        prefix: str,
        may_write: Callable[[], bool] = lambda: True,
    ) -> tuple[int, int, list[str] | np.ndarray] | None:
        """Append ``batch``; returns (position of its first record, arrival ms, its sequence
        numbers as written: text for a batch small enough to make them one by one, else a
        (count, 56) array of ASCII digits), or None when ``may_write``
        (asked with the lock held) says the shard no longer takes records."""
        self._mutex.acquire()
        lock = self._lock_fd if self._lock_fd is not None else self._open_lock()
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not may_write():
                return None
            tail = self._current()
            if tail.count and (
                tail.data_end + batch.data_offsets[-1] > SEGMENT_MAX_BYTES
                or tail.key_end + batch.key_offsets[-1] > SEGMENT_MAX_BYTES
                or tail.count + batch.count > SEGMENT_MAX_RECORDS
                or now_ms - tail.first_ts > SEGMENT_MAX_AGE_MS
            ):
                os.fchmod(tail.fds["ts"], 0o444)  # sealed: see _current
                tail.close()
                tail = self._tail = self._create_segment(tail.base + tail.count)
            position = tail.base + tail.count
            arrival = max(now_ms, tail.last_ts)
            numbers = self._write(tail, batch, arrival, prefix, position)
            return position, arrival, numbers
        finally:
            self._used = next(_TICKS)
            fcntl.flock(lock, fcntl.LOCK_UN)
            self._mutex.release()

    def _write(
        self, tail: _Tail, batch: Batch, arrival: int, prefix: str, position: int
    ) -> list[str] | np.ndarray:
        n, count, fds = tail.count, batch.count, tail.fds
        if count > _FEW:
            data_off = file_offsets(batch.data_offsets, tail.data_end)
            key_off = file_offsets(batch.key_offsets, tail.key_end)
            numbers = seq = sequence_bytes(prefix, position, count)
        else:
            data_off = array("i", [o + tail.data_end for o in batch.data_offsets[1:]])
            key_off = array("i", [o + tail.key_end for o in batch.key_offsets[1:]])
            numbers = sequence_numbers(prefix, position, count)
            seq = "".join(numbers).encode()
        stamps = arrival.to_bytes(8, "little", signed=True) * count
        os.pwrite(fds["data"], batch.data, tail.data_end)
        os.pwrite(fds["key"], batch.keys, tail.key_end)
        os.pwrite(fds["data.off"], data_off, (n + 1) * 4)
        os.pwrite(fds["key.off"], key_off, (n + 1) * 4)
        os.pwrite(fds["seq"], seq, n * SEQUENCE_WIDTH)
        if self.fsync:
            for name in ("data", "key", "data.off", "key.off", "seq"):
                os.fdatasync(fds[name])
        os.pwrite(fds["ts"], stamps, n * 8)
        if self.fsync:
            os.fdatasync(fds["ts"])
        tail.count += count
        tail.data_end += int(batch.data_offsets[-1])
        tail.key_end += int(batch.key_offsets[-1])
        tail.first_ts = tail.first_ts if n else arrival
        tail.last_ts = arrival
        return numbers

    def trim(self, horizon_ms: int) -> int:
        """Delete the whole segments whose every record arrived before ``horizon_ms`` (the
        newest segment stays, it holds the shard's position); returns how many went."""
        removed = 0
        with self._locked():
            names = _segment_names(self.folder)
            for base in names[:-1]:
                view = self._view(base)
                if view is None or view.count == 0 or view.last_ts() >= horizon_ms:
                    break
                trash = self.folder / f".trash-{base}-{uuid.uuid4().hex}"
                os.rename(self.folder / f"{base:020d}", trash)
                self._views.pop(base, None)
                shutil.rmtree(trash, ignore_errors=True)
                removed += 1
        return removed

    def destroy(self) -> None:
        """Remove the whole shard (it expired): renamed away first, then deleted."""
        self.close()
        trash = self.folder.with_name(f".trash-{self.folder.name}-{uuid.uuid4().hex}")
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.folder, trash)
            shutil.rmtree(trash, ignore_errors=True)

    # -- reading ---------------------------------------------------------------------------

    def _view(self, base: int) -> _SegmentView | None:
        view = self._views.get(base)
        try:
            if view is None:
                view = self._views[base] = _SegmentView(self.folder / f"{base:020d}", base)
            view.refresh()
        except FileNotFoundError:
            self._views.pop(base, None)
            return None
        return view

    def segments(self) -> list[_SegmentView]:
        """The segments as they are now, oldest first."""
        names = _segment_names(self.folder)
        with self._mutex:
            for gone in set(self._views) - set(names):
                self._views.pop(gone, None)
            return [v for base in names if (v := self._view(base)) is not None]

    def end(self, segments: list[_SegmentView] | None = None) -> int:
        """Position after the newest record (of ``segments``, a snapshot, when given)."""
        segments = self.segments() if segments is None else segments
        return segments[-1].base + segments[-1].count if segments else 0

    def first_at_or_after(self, instant_ms: int, segments: list[_SegmentView] | None = None) -> int:
        """Position of the first record that arrived at or after ``instant_ms``."""
        segments = self.segments() if segments is None else segments
        for view in segments:
            if view.count and view.last_ts() >= instant_ms:
                return view.base + view.search(instant_ms)
        return segments[-1].base + segments[-1].count if segments else 0

    def arrival_ms(self, position: int, segments: list[_SegmentView] | None = None) -> int | None:
        for view in reversed(self.segments() if segments is None else segments):
            if view.base <= position < view.base + view.count:
                return int(view.ts[position - view.base])
        return None

    def read(
        self,
        start: int,
        limit: int | None,
        max_bytes: int | None = None,
        segments: list[_SegmentView] | None = None,
    ) -> list[pa.Table]:
        """Tables of the records from ``start`` on (at most ``limit``), one per segment."""
        tables: list[pa.Table] = []
        left = limit if limit is not None else 1 << 62
        budget = max_bytes if max_bytes is not None else 1 << 62
        for view in self.segments() if segments is None else segments:
            stop = view.base + view.count
            if stop <= start or left <= 0 or budget <= 0:
                continue
            lo = max(start - view.base, 0)
            hi = min(view.count, lo + left)
            if max_bytes is not None:
                hi = max(lo + 1, view.bytes_limit(lo, hi, budget))
                budget -= int(view.data_off[hi] - view.data_off[lo])
            tables.append(view.table(lo, hi))
            left -= hi - lo
            start = view.base + hi
        return tables


class _SegmentView:
    """A reader's map of one segment, remapped as it grows."""

    def __init__(self, folder: Path, base: int) -> None:
        self.folder = folder
        self._ts_path = str(folder / "ts")
        self.base = base
        self.count = 0
        self._mapped_ts = -1
        self._buffers: dict[str, pa.Buffer] = {}

    def refresh(self) -> None:
        ts_size = os.stat(self._ts_path).st_size
        if ts_size == self._mapped_ts:
            return
        # ts first: every other file already holds the records ts counts.
        count = ts_size // 8
        buffers = {"ts": self._map("ts")}
        for name in _FILES[1:]:
            buffers[name] = self._map(name)
        count = min(count, len(buffers["ts"]) // 8)
        # Threads reading this view without the lock see a count only after the arrays that
        # back it: an older count with newer arrays is harmless, the other way round is not.
        self.ts = np.frombuffer(buffers["ts"], dtype="<i8", count=count)
        self.data_off = np.frombuffer(buffers["data.off"], dtype="<i4", count=count + 1)
        self._buffers = buffers
        self._mapped_ts = ts_size
        self.count = count

    def _map(self, name: str) -> pa.Buffer:
        with open(self.folder / name, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                return _EMPTY
            return pa.py_buffer(mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ))

    def last_ts(self) -> int:
        return int(self.ts[self.count - 1])

    def search(self, instant_ms: int) -> int:
        return int(np.searchsorted(self.ts, instant_ms, side="left"))

    def bytes_limit(self, lo: int, hi: int, budget: int) -> int:
        ends = self.data_off[lo + 1 : hi + 1] - self.data_off[lo]
        return lo + int(np.searchsorted(ends, budget, side="right"))

    def table(self, lo: int, hi: int) -> pa.Table:
        n = hi - lo
        b = self._buffers
        seq_offsets = pa.py_buffer(np.arange(lo, hi + 1, dtype="<i4") * SEQUENCE_WIDTH)
        columns = [
            pa.Array.from_buffers(pa.string(), n, [None, seq_offsets, b["seq"]]),
            pa.Array.from_buffers(
                pa.string(), n, [None, b["key.off"].slice(lo * 4, (n + 1) * 4), b["key"]]
            ),
            pa.Array.from_buffers(
                pa.timestamp("ms", "UTC"), n, [None, b["ts"].slice(lo * 8, n * 8)]
            ),
            pa.Array.from_buffers(
                pa.binary(), n, [None, b["data.off"].slice(lo * 4, (n + 1) * 4), b["data"]]
            ),
        ]
        return pa.Table.from_arrays(columns, names=COLUMNS)


COLUMNS = ["sequence_number", "partition_key", "approximate_arrival_timestamp", "data"]
