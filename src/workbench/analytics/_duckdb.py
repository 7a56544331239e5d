"""The analytics engine's DuckDB: one in-process database, a connection for each user of it.

Opening a DuckDB database costs about 20 ms of CPU, and a query used three (its table's JSON
decoder, its window SQL, the partial-aggregate planner): a tenth of a query's CPU time over two
million records. Connections of one database cost next to nothing, and each keeps the tables
registered on it to itself. The database runs one thread: the engine works batch by batch on
its query's thread, where more threads cost more CPU per record than they save (measured:
2.8 M vs 2.1 M records decoded per CPU-second).

>>> con = connection()
>>> con.sql("SELECT 42").fetchall()
[(42,)]
"""

from __future__ import annotations

import functools

import duckdb


@functools.cache
def _database() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(config={"threads": 1})


def connection() -> duckdb.DuckDBPyConnection:
    """A new connection to the engine's database."""
    return _database().cursor()
