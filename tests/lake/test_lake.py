"""The lake's object API, on local folders and on a moto S3 server, from S3's documented rules."""

from __future__ import annotations

import itertools
import os
import signal
import time
from datetime import UTC, datetime

import boto3
import duckdb
import pytest

from workbench import SimulatedClock, Workbench
from workbench.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InvalidBucketName,
    KeyTooLongError,
    NoSuchBucket,
    NoSuchKey,
    ValidationException,
)
from workbench.lake import Lake

_names = itertools.count()


@pytest.fixture(params=["local", "s3"])
def make_lake(request, tmp_path):
    """Factory: a lake with one fresh bucket, on local folders or on the moto server."""

    def make():
        bucket = f"bucket-{next(_names)}-{os.getpid()}"
        if request.param == "local":
            lake = Lake.local(tmp_path / "lake")
        else:
            lake = Lake.s3(request.getfixturevalue("moto_endpoint"))
        lake.create_bucket(bucket)
        return lake, bucket

    return make


def test_put_get_list_delete_round_trip(make_lake):
    lake, b = make_lake()
    lake.put(f"s3://{b}/json-data/year=2026/a.json", b"one\n")
    lake.put(f"s3://{b}/json-data/year=2026/b.json", b"two two\n")
    lake.put(f"s3://{b}/error-json/c.json", b"x")
    assert lake.get(f"s3://{b}/json-data/year=2026/b.json") == b"two two\n"
    listed = lake.list(f"s3://{b}/json-data/")
    assert [(o.key, o.size) for o in listed] == [
        ("json-data/year=2026/a.json", 4),
        ("json-data/year=2026/b.json", 8),
    ]
    assert listed[0].uri == f"s3://{b}/json-data/year=2026/a.json"
    assert listed[0].last_modified.tzinfo is not None
    # A prefix is text, not a folder.
    assert [o.key for o in lake.list(f"s3://{b}/json")] == [o.key for o in listed]
    assert len(lake.list(f"s3://{b}/")) == 3
    lake.delete(f"s3://{b}/json-data/year=2026/a.json")
    lake.delete(f"s3://{b}/json-data/year=2026/a.json")  # deleting twice is fine, as on S3
    assert [o.key for o in lake.list(f"s3://{b}/json-data/")] == ["json-data/year=2026/b.json"]
    with pytest.raises(NoSuchKey):
        lake.get(f"s3://{b}/json-data/year=2026/a.json")


def test_put_replaces_and_open_writes_whole_objects(make_lake):
    lake, b = make_lake()
    uri = f"s3://{b}/k/v.bin"
    lake.put(uri, b"old")
    lake.put(uri, b"new content")
    assert lake.get(uri) == b"new content"
    with lake.open(uri, "wb") as f:
        f.write(b"written ")
        f.write(b"in parts")
    with lake.open(uri) as f:
        assert f.read() == b"written in parts"
    assert lake.exists(uri)
    assert lake.info(uri).size == 16


def test_failed_write_leaves_the_old_object(make_lake):
    lake, b = make_lake()
    lake.put(f"s3://{b}/a.json", b"old")
    with pytest.raises(RuntimeError), lake.open(f"s3://{b}/a.json", "wb") as f:
        f.write(b"half of the new")
        raise RuntimeError("writer failed")
    assert lake.get(f"s3://{b}/a.json") == b"old"
    with pytest.raises(RuntimeError), lake.open(f"s3://{b}/b.json", "wb") as f:
        f.write(b"half")
        raise RuntimeError("writer failed")
    assert [o.key for o in lake.list(f"s3://{b}/")] == ["a.json"]


def test_buckets(make_lake):
    lake, b = make_lake()
    assert b in lake.list_buckets()
    with pytest.raises(BucketAlreadyOwnedByYou):
        lake.create_bucket(b)
    assert lake.create_bucket(b, exist_ok=True) == f"s3://{b}/"
    lake.put(f"s3://{b}/x", b"1")
    with pytest.raises(BucketNotEmpty):
        lake.delete_bucket(b)
    lake.delete(f"s3://{b}/x")
    lake.delete_bucket(b)
    assert b not in lake.list_buckets()
    with pytest.raises(NoSuchBucket):
        lake.put(f"s3://{b}/x", b"1")
    with pytest.raises(NoSuchBucket):
        lake.get(f"s3://{b}/x")
    with pytest.raises(NoSuchBucket):
        lake.list(f"s3://{b}/")


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "Retail",
        "retail_trans",
        "-retail",
        "retail-",
        "re..tail",
        "192.168.1.2",
        "xn--retail",
        "retail-s3alias",
        "",
    ],
)
def test_invalid_bucket_names_are_refused(tmp_path, name):
    lake = Lake.local(tmp_path / "lake")
    with pytest.raises(InvalidBucketName, match="not valid"):
        lake.create_bucket(name)
    assert lake.list_buckets() == []


@pytest.mark.parametrize(
    "key", ["", "a//b", "/a", "a/", "../escape", "a/../../escape", "a/./b", "a\x00b"]
)
def test_keys_that_cannot_be_objects_are_refused(tmp_path, key):
    lake = Lake.local(tmp_path / "lake")
    lake.create_bucket("lab")
    with pytest.raises(ValidationException):
        lake.put(f"s3://lab/{key}", b"x")
    assert not (tmp_path / "escape").exists()
    assert lake.list("s3://lab/") == []


def test_key_length_and_uri_shape(tmp_path):
    lake = Lake.local(tmp_path / "lake")
    lake.create_bucket("lab")
    with pytest.raises(KeyTooLongError):
        lake.put("s3://lab/" + "k" * 1025, b"x")
    lake.put("s3://lab/" + "k" * 200 + "/" + "k" * 200, b"x")
    for bad in ["lab/key", "http://lab/key", "s3:/lab/key"]:
        with pytest.raises(ValidationException, match="s3://"):
            lake.get(bad)
    with pytest.raises(ValidationException):
        lake.put("s3://lab/a", "text, not bytes")


def test_filesystem_escape_is_refused(tmp_path):
    lake = Lake.local(tmp_path / "lake")
    lake.create_bucket("lab")
    with pytest.raises(ValueError, match="escapes"):
        lake.filesystem.open("s3://lab/../../outside", "wb")


def test_duckdb_reads_and_writes_through_the_filesystem(make_lake):
    lake, b = make_lake()
    con = duckdb.connect()
    con.register_filesystem(lake.filesystem)
    con.sql(
        f"COPY (SELECT range AS n, range % 3 AS part FROM range(30)) TO 's3://{b}/t' "
        "(FORMAT parquet, PARTITION_BY (part), OVERWRITE_OR_IGNORE)"
    )
    keys = [o.key for o in lake.list(f"s3://{b}/t/")]
    assert sorted({k.split("/")[1] for k in keys}) == ["part=0", "part=1", "part=2"]
    rows = con.sql(
        f"SELECT part, count(*), sum(n) FROM read_parquet('s3://{b}/t/**/*.parquet', "
        "hive_partitioning=true) GROUP BY part ORDER BY part"
    ).fetchall()
    assert rows == [(0, 10, 135), (1, 10, 145), (2, 10, 155)]


def test_local_objects_carry_the_workbench_clock(tmp_path):
    wb = Workbench(home=tmp_path, clock=SimulatedClock(start="2026-03-01T10:00:00Z"))
    wb.lake.create_bucket("lab")
    wb.lake.put("s3://lab/a", b"x")
    assert wb.lake.info("s3://lab/a").last_modified == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert (tmp_path / "lake" / "lab" / "a").read_bytes() == b"x"


def test_workbench_lake_uses_s3_when_an_endpoint_is_configured(
    tmp_path, moto_endpoint, monkeypatch
):
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket="configured-lake"
    )
    monkeypatch.setenv("WORKBENCH_LAKE_ENDPOINT_URL", moto_endpoint)
    wb = Workbench(home=tmp_path)
    wb.lake.put("s3://configured-lake/a.json", b"{}")
    body = (
        boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
        .get_object(Bucket="configured-lake", Key="a.json")["Body"]
        .read()
    )
    assert body == b"{}"
    assert not (tmp_path / "lake" / "configured-lake").exists()


def _write_forever(root: str, uri: str, size: int) -> None:
    lake = Lake.local(root)
    n = 0
    while True:
        n += 1
        lake.put(uri, bytes([n % 256]) * size)


def test_readers_never_see_a_partial_object_even_when_the_writer_is_killed(tmp_path, processes):
    root = tmp_path / "lake"
    lake = Lake.local(root)
    lake.create_bucket("lab")
    size = 4 << 20
    uri = "s3://lab/big.bin"
    ctx = processes
    for _ in range(3):
        writer = ctx.Process(target=_write_forever, args=(str(root), uri, size))
        writer.start()
        started = time.monotonic()
        while not lake.exists(uri) and time.monotonic() - started < 30:
            time.sleep(0.01)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            try:
                data = lake.get(uri)
            except NoSuchKey:
                continue
            assert len(data) == size and data == data[:1] * size
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        data = lake.get(uri)
        assert len(data) == size and data == data[:1] * size
    # The killed writers' temp files are cleaned when a lake opens the folder again.
    Lake.local(root)
    assert list((root / ".tmp").iterdir()) == []
    assert [o.key for o in lake.list("s3://lab/")] == ["big.bin"]
