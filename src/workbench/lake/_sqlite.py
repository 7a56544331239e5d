"""One SQLite database file in the home, opened the same way by the catalog and the query history.

SQLite rather than JSON documents or a DuckDB file: partitions are many small rows that grow every
hour and MSCK REPAIR adds hundreds in one go, so we want indexed rows and atomic multi-row
transactions with crash recovery (the WAL journal); and several processes (two notebooks on one
home, the merge job) must read and write the catalog at once, which SQLite's file locking allows
while a DuckDB database file admits one writing process only.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

_BUSY_TIMEOUT_S = 30.0


class Database:
    """A SQLite file with a schema; each thread keeps one connection to it.

    Connections stay open: closing the last one checkpoints and removes the WAL file, which would
    cost every catalog lookup a few milliseconds of disk work.
    """

    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self.read() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(schema)

    def _connection(self) -> sqlite3.Connection:
        con = getattr(self._local, "connection", None)
        if con is None:
            con = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=True
            )
            con.execute("PRAGMA synchronous=FULL")
            con.row_factory = sqlite3.Row
            self._local.connection = con
        return con

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        yield self._connection()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A transaction that commits as a whole when the block ends, or not at all."""
        con = self._connection()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
