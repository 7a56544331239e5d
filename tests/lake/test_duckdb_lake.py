"""DuckDB reads lake objects through fsspec correctly, also large ones read by several threads."""

from __future__ import annotations

import io
import threading

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.lake import Lake
from workbench.lake._duckdb_lake import _ThreadSafeReader, connect


def test_every_thread_reads_from_its_own_position():
    data = bytes(range(256)) * 4096
    reader = _ThreadSafeReader(io.BytesIO(data), len(data))
    errors = []

    def read_blocks(offset: int) -> None:
        for start in range(offset, len(data), 8192 * 4):
            reader.seek(start)
            if reader.read(8192) != data[start : start + 8192]:
                errors.append(start)

    threads = [threading.Thread(target=read_blocks, args=(i * 8192,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    reader.seek(10)
    assert reader.read(5) == data[10:15] and reader.read(3) == data[15:18]


def test_duckdb_reads_a_multi_megabyte_parquet_object_through_the_lake(tmp_path):
    lake = Lake.local(tmp_path)
    lake.create_bucket("lab")
    n = 3_000_000
    table = pa.table(
        {"a": pa.array(range(n), pa.int64()), "b": pa.array([i % 7 for i in range(n)])}
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=100_000, compression="none")
    assert buffer.tell() > 8 * 2**20
    lake.put("s3://lab/big.parquet", buffer.getvalue())
    con = connect(lake.filesystem)
    con.execute("SET threads=4")
    expected = [(n * (n - 1) // 2, sum(i % 7 for i in range(n)), n)]
    for _ in range(3):  # without per-thread positions this fails about one time in three
        got = con.sql("SELECT sum(a), sum(b), count(*) FROM read_parquet('s3://lab/big.parquet')")
        assert got.fetchall() == expected
    assert isinstance(con, duckdb.DuckDBPyConnection)
