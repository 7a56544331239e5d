"""Stream management, retention, limits and their errors, from the reference."""

import pytest

from workbench.errors import (
    InvalidArgumentException,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)

S0 = "shardId-000000000000"
MiB = 1024 * 1024


@pytest.mark.parametrize("name", ["", "..", ".", "a/b", "../x", "x" * 129, "sp ace", "é"])
def test_bad_stream_names_never_reach_the_filesystem(make_workbench, name):
    wb = make_workbench()
    with pytest.raises(ValidationException, match="streamName"):
        wb.streams.create_stream(name, 1)
    with pytest.raises(ValidationException):
        wb.streams.stream(name)
    assert (
        sorted(p.name for p in (wb.home.path / "streams").iterdir() if not p.name.startswith("#"))
        == []
    )


def test_names_of_the_streams_folder_s_own_files_are_ordinary_stream_names(make_workbench):
    wb = make_workbench()
    names = ["lock", ".lock", "iterator-secret", ".iterator-secret", "shards", "-"]
    for name in names:
        wb.streams.create_stream(name, 1).put_record(name.encode(), "k")
    assert wb.streams.list_streams()["StreamNames"] == sorted(names)
    for name in names:
        stream = wb.streams.stream(name)
        it = stream.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")
        assert [r["Data"] for r in stream.get_records(it)["Records"]] == [name.encode()]
        wb.streams.delete_stream(name)
    assert wb.streams.list_streams()["StreamNames"] == []
    with pytest.raises(ValidationException):
        wb.streams.create_stream("#lock", 1)


def test_create_describe_list_delete(make_workbench):
    wb = make_workbench()
    wb.streams.create_stream("b-stream", 2, tags={"team": "retail"})
    wb.streams.create_stream("a.stream_1", on_demand=True)
    assert wb.streams.list_streams()["StreamNames"] == ["a.stream_1", "b-stream"]
    desc = wb.streams.describe_stream("b-stream")["StreamDescription"]
    assert desc["StreamStatus"] == "ACTIVE" and desc["RetentionPeriodHours"] == 24
    assert desc["StreamARN"] == "arn:aws:kinesis:us-east-1:000000000000:stream/b-stream"
    assert desc["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    summary = wb.streams.describe_stream_summary("a.stream_1")["StreamDescriptionSummary"]
    assert (
        summary["OpenShardCount"] == 4 and summary["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
    )
    assert wb.streams.stream("b-stream").list_tags()["Tags"] == [{"Key": "team", "Value": "retail"}]
    assert wb.streams.stream(desc["StreamARN"]).name == "b-stream"
    with pytest.raises(ResourceInUseException, match="already exists"):
        wb.streams.create_stream("b-stream", 1)
    wb.streams.delete_stream("b-stream")
    with pytest.raises(ResourceNotFoundException, match="Stream b-stream under account"):
        wb.streams.stream("b-stream")
    assert wb.streams.list_streams()["StreamNames"] == ["a.stream_1"]


def test_a_stream_deleted_elsewhere_is_gone_here_and_can_be_recreated(make_workbench, read_shard):
    here, there = make_workbench(), make_workbench()
    stream = here.streams.create_stream("s", 1)
    stream.put_record(b"old", "k")
    there.streams.delete_stream("s")
    with pytest.raises(ResourceNotFoundException):
        stream.put_record(b"x", "k")
    there.clock.advance("1s")
    there.streams.create_stream("s", 1)
    again = here.streams.stream("s")
    again.put_record(b"new", "k")
    assert [r["Data"] for r in read_shard(again, S0)] == [b"new"]


def test_create_stream_argument_errors(make_workbench):
    wb = make_workbench()
    with pytest.raises(ValidationException, match="shardCount"):
        wb.streams.create_stream("s", 0)
    with pytest.raises(InvalidArgumentException, match="ShardCount is required"):
        wb.streams.create_stream("s")
    with pytest.raises(InvalidArgumentException, match="ON_DEMAND"):
        wb.streams.create_stream("s", 2, on_demand=True)
    with pytest.raises(LimitExceededException, match="shard limit"):
        wb.streams.create_stream("s", 501)
    for size in (1023, 10241):
        with pytest.raises(ValidationException, match="maxRecordSizeInKiB"):
            wb.streams.create_stream("s", 1, max_record_size_kib=size)
    with pytest.raises(ValidationException, match=r"tags\.key"):
        wb.streams.create_stream("s", 1, tags={"": "x"})
    assert wb.streams.list_streams()["StreamNames"] == []


def test_tags_can_be_added_and_removed(make_stream):
    _, stream = make_stream(1)
    stream.add_tags({"a": "1", "b": "2"})
    stream.remove_tags(["a"])
    assert stream.list_tags()["Tags"] == [{"Key": "b", "Value": "2"}]


def test_record_size_limits(make_stream, read_shard):
    _, stream = make_stream(1)
    stream.put_record(b"x" * (MiB - 1), "k")  # data + key = exactly 1 MiB
    with pytest.raises(InvalidArgumentException, match="exceeds the maximum record size"):
        stream.put_record(b"x" * MiB, "k")
    with pytest.raises(ValidationException, match="less than or equal to 1048576"):
        stream.put_record(b"x" * (MiB + 1), "k")
    _, big = make_stream(1, name="big", max_record_size_kib=2048)
    big.put_record(b"x" * (2 * MiB - 1), "k")
    with pytest.raises(ValidationException, match=r"records\.2\.member\.data"):
        big.put_records(
            [
                {"Data": b"a", "PartitionKey": "k"},
                {"Data": b"x" * (2 * MiB + 1), "PartitionKey": "k"},
            ]
        )
    assert len(read_shard(big, S0)) == 1  # the bad request added nothing


def test_put_records_limits_and_key_errors(make_stream, read_shard):
    _, stream = make_stream(1)
    ok = {"Data": b"x", "PartitionKey": "k"}
    with pytest.raises(ValidationException, match="less than or equal to 500"):
        stream.put_records([ok] * 501)
    with pytest.raises(ValidationException, match="greater than or equal to 1"):
        stream.put_records([])
    with pytest.raises(InvalidArgumentException, match="5 MB"):
        stream.put_records([{"Data": b"x" * (MiB - 10), "PartitionKey": "k"}] * 6)
    with pytest.raises(ValidationException, match=r"records\.1\.member\.partitionKey"):
        stream.put_records([{"Data": b"x", "PartitionKey": ""}])
    with pytest.raises(ValidationException, match="partitionKey"):
        stream.put_record(b"x", "k" * 257)
    with pytest.raises(ValidationException, match="explicitHashKey"):
        stream.put_record(b"x", "k", explicit_hash_key="-1")
    with pytest.raises(InvalidArgumentException, match="ExplicitHashKey must be in the range"):
        stream.put_record(b"x", "k", explicit_hash_key=str(2**128))
    assert stream.put_records([ok] * 500)["FailedRecordCount"] == 0
    assert len(read_shard(stream, S0)) == 500


def test_put_frame_checks_every_row_before_writing(make_stream, read_shard):
    _, stream = make_stream(2)
    rows = [{"k": "a", "v": 1}, {"k": "", "v": 2}]
    with pytest.raises(ValidationException, match="partitionKey"):
        stream.put_frame(rows, "k")
    with pytest.raises(InvalidArgumentException, match="no field 'missing'"):
        stream.put_frame(rows, "missing")
    assert all(read_shard(stream, s["ShardId"]) == [] for s in stream.list_shards())


def test_retention_bounds_and_messages(make_stream):
    _, stream = make_stream(1)
    with pytest.raises(InvalidArgumentException, match="Minimum allowed retention period is 24"):
        stream.decrease_retention_period(23)
    with pytest.raises(InvalidArgumentException, match="Maximum allowed retention period is 8760"):
        stream.increase_retention_period(8761)
    stream.increase_retention_period(48)
    with pytest.raises(InvalidArgumentException, match="can not be shorter"):
        stream.increase_retention_period(24)
    with pytest.raises(InvalidArgumentException, match="can not be longer"):
        stream.decrease_retention_period(72)
    stream.decrease_retention_period(24)
    assert stream.describe_summary()["StreamDescriptionSummary"]["RetentionPeriodHours"] == 24


def test_expired_records_are_trimmed_by_the_clock(make_workbench, read_shard):
    wb = make_workbench()
    stream = wb.streams.create_stream("s", 1)
    stream.put_record(b"day1", "k")
    wb.clock.advance("2h")  # segments roll over hourly, so day1 sits in a segment of its own
    stream.put_record(b"day1-later", "k")
    wb.clock.advance("23h")
    assert [r["Data"] for r in read_shard(stream, S0)] == [b"day1-later"]
    segments = sorted((wb.home.path / "streams/s/shards" / S0).glob("0*"))
    assert len(segments) == 1  # the expired segment was deleted as a whole
    wb.clock.advance("2h")
    assert read_shard(stream, S0) == []
    stream.put_record(b"day2", "k")
    assert [r["Data"] for r in read_shard(stream, S0)] == [b"day2"]


def test_closed_shards_stay_until_their_records_expire(make_workbench):
    wb = make_workbench()
    stream = wb.streams.create_stream("s", 1)
    stream.put_record(b"x", "k")
    stream.split_shard(S0, str(2**127))
    wb.clock.advance("23h")
    assert S0 in {s["ShardId"] for s in stream.list_shards()}
    wb.clock.advance("2h")
    assert S0 not in {s["ShardId"] for s in stream.list_shards()}
    with pytest.raises(ResourceNotFoundException):
        stream.get_shard_iterator(S0, "TRIM_HORIZON")
