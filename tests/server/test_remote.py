"""The remote backend: the streams API over boto3 behaves as the embedded engine does, on this
endpoint and on moto, and ``$WORKBENCH_BACKEND`` switches a workbench to it."""

from __future__ import annotations

import polars as pl
import pytest

from workbench import Workbench
from workbench.errors import (
    InvalidArgumentException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from workbench.server import RemoteStreams


@pytest.fixture(params=["embedded", "remote-endpoint", "remote-moto"])
def streams(request, tmp_path, make_endpoint):
    """The same Python API three ways: in-process, over this endpoint, over moto's server."""
    if request.param == "embedded":
        return Workbench(home=tmp_path / "embedded").streams
    if request.param == "remote-endpoint":
        return RemoteStreams.connect(make_endpoint().url)
    return RemoteStreams.connect(request.getfixturevalue("moto_url"))


def _read_shard(stream, shard_id):
    iterator = stream.get_shard_iterator(shard_id, "TRIM_HORIZON")
    return stream.get_records(iterator)["Records"]


def test_put_and_get_give_the_same_answers(streams, unique):
    stream = streams.create_stream(unique("api"), 2)
    put = stream.put_record(b"one", "part-00001")
    assert {"ShardId", "SequenceNumber"} <= set(put)
    batch = stream.put_records([{"Data": b"two", "PartitionKey": "part-00001"}])
    assert batch["FailedRecordCount"] == 0
    records = _read_shard(stream, put["ShardId"])
    assert [(r["Data"], r["PartitionKey"]) for r in records] == [
        (b"one", "part-00001"),
        (b"two", "part-00001"),
    ]
    assert records[0]["ApproximateArrivalTimestamp"].utcoffset() is not None
    assert [s["ShardId"] for s in stream.list_shards()] == [
        "shardId-000000000000",
        "shardId-000000000001",
    ]


def test_frames_and_arrow_reads(streams, unique):
    stream = streams.create_stream(unique("frame"), 1)
    frame = pl.DataFrame({"Invoice": [f"{i}" for i in range(1200)], "Country": ["FR"] * 1200})
    summary = stream.put_frame(frame, partition_key="Invoice")
    assert summary["Records"] == 1200
    assert summary["Shards"]["shardId-000000000000"]["Records"] == 1200
    iterator = stream.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")
    got = stream.get_records_arrow(iterator, decode_json=True)
    assert got.table.num_rows == 1200
    assert got.table.column("Invoice").to_pylist() == [f"{i}" for i in range(1200)]
    assert str(got.table.schema.field("approximate_arrival_timestamp").type) == (
        "timestamp[ms, tz=UTC]"
    )


def test_errors_are_the_workbench_s_aws_named_exceptions(streams, unique):
    name = unique("err")
    with pytest.raises(ResourceNotFoundException):
        streams.stream(name)
    streams.create_stream(name, 1)
    with pytest.raises(ResourceInUseException):
        streams.create_stream(name, 1)
    assert name in streams.list_streams()["StreamNames"]
    streams.delete_stream(name)
    with pytest.raises(ResourceNotFoundException):
        streams.describe_stream_summary(name)


def test_the_environment_switches_a_workbench_to_the_remote_backend(
    monkeypatch, tmp_path, make_endpoint
):
    endpoint = make_endpoint()
    monkeypatch.setenv("WORKBENCH_BACKEND", "aws")
    monkeypatch.setenv("WORKBENCH_ENDPOINT_URL", endpoint.url)
    remote = Workbench(home=tmp_path / "notebook").streams
    assert isinstance(remote, RemoteStreams)
    remote.create_stream("switched", 1).put_record(b"x", "k")
    # The endpoint's own home holds it; the notebook's home has no streams folder.
    assert endpoint.context.streams.list_streams()["StreamNames"] == ["switched"]
    assert not (tmp_path / "notebook" / "streams" / "switched").exists()


def test_an_unknown_backend_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_BACKEND", "kafka")
    with pytest.raises(InvalidArgumentException, match="embedded, aws"):
        _ = Workbench(home=tmp_path).streams


def test_describe_stream_gathers_every_page_of_shards(make_endpoint):
    remote = RemoteStreams.connect(make_endpoint().url)
    remote.create_stream("many", 120)
    shards = remote.describe_stream("many")["StreamDescription"]["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-{i:012d}" for i in range(120)]
