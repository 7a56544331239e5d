"""Data scanned by a Parquet read, as Athena counts it: the column chunks of the columns a query
touches, summed from the objects' footers.

A footer is read once per version of an object and kept (an object rewritten under the same
key is a new version: a local file gets a new inode, change time or size). Objects whose footer
cannot be read count whole; the query itself then fails or succeeds on its own.

>>> import io, tempfile
>>> import pyarrow as pa, pyarrow.parquet as pq
>>> from workbench.lake import Lake
>>> lake = Lake.local(tempfile.mkdtemp())
>>> _ = lake.create_bucket("lab")
>>> buffer = io.BytesIO()
>>> pq.write_table(pa.table({"a": list(range(1000)), "b": ["x" * 20] * 1000}), buffer)
>>> lake.put("s3://lab/t/p.parquet", buffer.getvalue())
>>> footers = ParquetFooters(LakeFiles(lake))
>>> [obj] = lake.list("s3://lab/t/")
>>> chunks = footers.column_bytes(obj)
>>> sorted(chunks), footers.scanned(obj, {"a"}) == chunks["a"] < obj.size
(['a', 'b'], True)
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Collection

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.lake._duckdb_lake import LakeFiles
from workbench.lake._lake import ObjectInfo

_KEEP = 20_000


class ParquetFooters:
    """Per-column compressed bytes of Parquet objects, from their footers, kept per version."""

    def __init__(self, files: LakeFiles) -> None:
        self._files = files
        self._sizes: OrderedDict[tuple, dict[str, int] | None] = OrderedDict()
        self._lock = threading.Lock()

    def scanned(self, obj: ObjectInfo, columns: Collection[str] | None) -> int:
        """Bytes a read of ``columns`` (None: every column) of ``obj`` scans."""
        sizes = self.column_bytes(obj)
        if sizes is None:
            return obj.size
        if columns is None:
            return sum(sizes.values())
        return sum(size for name, size in sizes.items() if name in columns)

    def column_bytes(self, obj: ObjectInfo) -> dict[str, int] | None:
        """Compressed bytes of each top-level column over all row groups (None: unreadable)."""
        key = self._version(obj)
        with self._lock:
            if key in self._sizes:
                self._sizes.move_to_end(key)
                return self._sizes[key]
        sizes = self._read(obj)
        with self._lock:
            self._sizes[key] = sizes
            while len(self._sizes) > _KEEP:
                self._sizes.popitem(last=False)
        return sizes

    def _version(self, obj: ObjectInfo) -> tuple:
        path = self._files.local_path(obj.uri)
        if path is None:
            return (obj.uri, obj.size, obj.last_modified)
        try:
            stat = os.stat(path)
        except OSError:
            return (obj.uri, obj.size, obj.last_modified)
        return (obj.uri, stat.st_size, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns)

    def _read(self, obj: ObjectInfo) -> dict[str, int] | None:
        path = self._files.local_path(obj.uri)
        try:
            if path is not None:
                metadata = pq.read_metadata(path)
            else:
                with self._files.lake.open(obj.uri) as handle:
                    metadata = pq.read_metadata(handle)
        except (OSError, pa.ArrowException):
            return None
        sizes: dict[str, int] = {}
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            for index in range(row_group.num_columns):
                chunk = row_group.column(index)
                name = chunk.path_in_schema.split(".", 1)[0].lower()
                sizes[name] = sizes.get(name, 0) + chunk.total_compressed_size
        return sizes
