"""DuckDB over the lake: fsspec reads stay right under threads; COPYs publish whole objects."""

from __future__ import annotations

import io
import os
import subprocess
import threading

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.lake import Lake, duckdb_connection
from workbench.lake._duckdb_lake import LakeFiles, _ThreadSafeReader, connect


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


def _copy_into(lake, location: str, *, publish: bool, fail: bool = False) -> None:
    con = duckdb.connect()
    with LakeFiles(lake).writing(location) as output:
        con.execute(
            f"COPY (SELECT range AS n, range % 3 AS k FROM range(10)) TO '{output.folder}' "
            "(FORMAT parquet, PARTITION_BY (k), OVERWRITE_OR_IGNORE)"
        )
        if fail:
            raise RuntimeError("the statement failed after writing")
        if publish:
            output.publish()


def test_a_copy_becomes_objects_only_when_published(tmp_path):
    lake = Lake.local(tmp_path)
    lake.create_bucket("lab")
    _copy_into(lake, "s3://lab/unpublished/", publish=False)
    with pytest.raises(RuntimeError):
        _copy_into(lake, "s3://lab/failed/", publish=True, fail=True)
    assert lake.list("s3://lab/") == []
    _copy_into(lake, "s3://lab/out/", publish=True)
    keys = sorted(o.key.rsplit("/", 1)[0] for o in lake.list("s3://lab/out/"))
    assert keys == ["out/k=0", "out/k=1", "out/k=2"]
    con = duckdb_connection(lake)
    assert con.sql("SELECT sum(n) FROM read_parquet('s3://lab/out/*/*.parquet')").fetchall() == [
        (45,)
    ]
    assert list((tmp_path / ".tmp").iterdir()) == []


def test_a_dead_writers_staging_folder_is_removed_when_the_lake_opens(tmp_path):
    Lake.local(tmp_path)
    pid = _exited_pid()
    leftover = tmp_path / ".tmp" / f"{pid}-abc"
    (leftover / "k=1").mkdir(parents=True)
    (leftover / "k=1" / "data_0.parquet").write_bytes(b"PAR1")
    mine = tmp_path / ".tmp" / f"{os.getpid()}-def"
    mine.mkdir()
    Lake.local(tmp_path)
    assert list((tmp_path / ".tmp").iterdir()) == [mine]


def _exited_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
