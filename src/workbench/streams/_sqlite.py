"""A SQLite file shared by processes: what the lease table and the consumer registry stand on.

Why SQLite (the standard library's) for state that several worker processes change at once: a
conditional ``UPDATE ... WHERE lease_counter = ?`` is a compare-and-set in one statement, as
DynamoDB's conditional writes are for the KCL; ``BEGIN IMMEDIATE`` makes a check-then-insert
atomic across processes; WAL mode lets readers go on while a writer commits; and a process killed
mid-transaction leaves no half change (the journal rolls it back, the kernel drops its locks).
``synchronous=NORMAL`` keeps every commit across kill -9; on power loss the last commits may roll
back, which for checkpoints means records read again, never records lost.

>>> import pathlib, tempfile
>>> db = Database(pathlib.Path(tempfile.mkdtemp()) / "x.sqlite", "CREATE TABLE t (v INTEGER);")
>>> with db.transaction() as sql:
...     _ = sql.execute("INSERT INTO t VALUES (1)")
>>> db.all("SELECT v FROM t")
[(1,)]
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

_BUSY_TIMEOUT_S = 30.0


class Database:
    """One connection to a SQLite file, safe to share between the threads of a worker."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A connection must not be used by two threads at once: a worker's reading and renewing
        # threads share this one under a lock.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        with self._lock:
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(schema)

    def all(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple = ()) -> tuple | None:
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    def change(self, sql: str, params: tuple = ()) -> int:
        """Run one writing statement; how many rows it changed."""
        with self._lock:
            return self._db.execute(sql, params).rowcount

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Statements that commit together, with the write lock held from the start."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
