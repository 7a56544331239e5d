"""DuckDB connections that read and write the lake through its fsspec filesystem.

DuckDB 2.0 calls ``seek`` and then ``read`` on one Python file object from several of its
threads at once, so a plain fsspec file can hand one thread the bytes another asked for (a read
at offset 2 MiB returning the file's tail). Each file DuckDB opens for reading is therefore
wrapped so that every thread keeps its own position and a read is one locked seek+read.
"""

from __future__ import annotations

import io
import threading
from typing import Any

import duckdb
from fsspec.implementations.dirfs import DirFileSystem

from workbench.lake._sql_dialect import DUCKDB_MACROS


class _ThreadSafeReader(io.RawIOBase):
    """A read-only file whose position is per thread, over any seekable binary file."""

    def __init__(self, raw: Any, size: int) -> None:
        super().__init__()
        self._raw = raw
        self._size = size
        self._lock = threading.Lock()
        self._position = threading.local()
        self._last = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        # A thread that has not positioned itself continues where the last read left off.
        return getattr(self._position, "value", self._last)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.tell(), io.SEEK_END: self._size}[whence]
        self._position.value = base + offset
        return self._position.value

    def read(self, size: int = -1) -> bytes:
        with self._lock:
            start = self.tell()
            self._raw.seek(start)
            data = self._raw.read(size)
            self._last = start + len(data)
        self._position.value = self._last
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class DuckDBLakeFileSystem(DirFileSystem):
    """The lake's ``s3://`` filesystem as handed to ``duckdb.register_filesystem``."""

    protocol = ("s3", "s3a")
    root_marker = ""

    def __init__(self, lake_filesystem: Any) -> None:
        # "s3://" strips to an empty root, so paths pass through to the lake unchanged.
        super().__init__(path="s3://", fs=lake_filesystem)

    def open(self, path, mode="rb", *args, **kwargs):
        handle = super().open(path, mode, *args, **kwargs)
        if "r" in mode:
            return _ThreadSafeReader(handle, self.fs.size(self._join(path)))
        return handle


def connect(lake_filesystem: Any) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB seeing the lake at ``s3://``, in UTC, with Presto's extra functions."""
    con = duckdb.connect(":memory:")
    con.register_filesystem(DuckDBLakeFileSystem(lake_filesystem))
    con.execute("SET TimeZone='UTC'")
    for name, body in DUCKDB_MACROS.items():
        con.execute(f"CREATE MACRO {name}{body}")
    return con


def duckdb_connection(lake) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for your own SQL over ``s3://`` URIs of ``lake``.

    Use it rather than ``duckdb.register_filesystem(lake.filesystem)``, whose reads race.

    >>> import tempfile
    >>> from workbench.lake import Lake
    >>> lake = Lake.local(tempfile.mkdtemp())
    >>> _ = lake.create_bucket("lab")
    >>> lake.put("s3://lab/a.json", b'{"n": 1}\\n{"n": 2}\\n')
    >>> duckdb_connection(lake).sql("SELECT sum(n) FROM read_json('s3://lab/a.json')").fetchall()
    [(3,)]
    """
    return connect(lake.filesystem)
