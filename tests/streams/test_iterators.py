"""Shard iterators and GetRecords, from the reference."""

from datetime import UTC, datetime

import pytest

from workbench.errors import (
    ExpiredIteratorException,
    InvalidArgumentException,
    ResourceNotFoundException,
    ValidationException,
)

SHARD0 = "shardId-000000000000"


def put_n(stream, n, start=0):
    return [
        stream.put_record(f"r{i}".encode(), "k", explicit_hash_key="0")["SequenceNumber"]
        for i in range(start, start + n)
    ]


def datas(answer):
    return [r["Data"] for r in answer["Records"]]


def test_sequence_numbers_are_56_digit_increasing_integers(make_stream):
    _, stream = make_stream(1)
    seqs = put_n(stream, 20)
    assert all(len(s) == 56 and s.isdigit() for s in seqs)
    assert [int(s) for s in seqs] == sorted({int(s) for s in seqs})


def test_trim_horizon_reads_from_the_oldest_record(make_stream):
    _, stream = make_stream(1)
    put_n(stream, 5)
    answer = stream.get_records(stream.get_shard_iterator(SHARD0, "TRIM_HORIZON"))
    assert datas(answer) == [b"r0", b"r1", b"r2", b"r3", b"r4"]
    assert answer["MillisBehindLatest"] == 0
    assert answer["NextShardIterator"] is not None and "ChildShards" not in answer


def test_latest_sees_only_records_put_after_it(make_stream):
    _, stream = make_stream(1)
    put_n(stream, 3)
    it = stream.get_shard_iterator(SHARD0, "LATEST")
    assert datas(stream.get_records(it)) == []
    put_n(stream, 2, start=3)
    assert datas(stream.get_records(it)) == [b"r3", b"r4"]


def test_at_and_after_sequence_number(make_stream):
    _, stream = make_stream(1)
    seqs = put_n(stream, 4)
    at = stream.get_shard_iterator(SHARD0, "AT_SEQUENCE_NUMBER", starting_sequence_number=seqs[2])
    after = stream.get_shard_iterator(
        SHARD0, "AFTER_SEQUENCE_NUMBER", starting_sequence_number=seqs[2]
    )
    assert datas(stream.get_records(at)) == [b"r2", b"r3"]
    assert datas(stream.get_records(after)) == [b"r3"]


def test_at_timestamp_starts_at_the_first_record_arriving_then_or_later(make_workbench):
    wb = make_workbench()
    stream = wb.streams.create_stream("s", 1)
    put_n(stream, 2)
    wb.clock.advance("10s")
    middle = wb.clock.now()
    put_n(stream, 2, start=2)
    it = stream.get_shard_iterator(SHARD0, "AT_TIMESTAMP", timestamp=middle)
    assert datas(stream.get_records(it)) == [b"r2", b"r3"]
    old = stream.get_shard_iterator(SHARD0, "AT_TIMESTAMP", timestamp=0)
    assert len(stream.get_records(old)["Records"]) == 4
    with pytest.raises(InvalidArgumentException, match="cannot be greater"):
        stream.get_shard_iterator(SHARD0, "AT_TIMESTAMP", timestamp=wb.clock.now() + 60)


def test_arrival_timestamps_come_from_the_workbench_clock(make_workbench):
    wb = make_workbench()
    stream = wb.streams.create_stream("s", 1)
    put_n(stream, 1)
    wb.clock.advance("90s")
    put_n(stream, 1, start=1)
    records = stream.get_records(stream.get_shard_iterator(SHARD0, "TRIM_HORIZON"))["Records"]
    stamps = [r["ApproximateArrivalTimestamp"] for r in records]
    assert stamps == [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC),
    ]


def test_limit_pages_through_with_next_iterator_and_millis_behind(make_workbench):
    wb = make_workbench()
    stream = wb.streams.create_stream("s", 1)
    put_n(stream, 5)
    wb.clock.advance("2s")
    it = stream.get_shard_iterator(SHARD0, "TRIM_HORIZON")
    first = stream.get_records(it, limit=2)
    assert datas(first) == [b"r0", b"r1"]
    assert first["MillisBehindLatest"] == 2000
    second = stream.get_records(first["NextShardIterator"], limit=10)
    assert datas(second) == [b"r2", b"r3", b"r4"]
    assert second["MillisBehindLatest"] == 0
    for bad in (0, 10001):
        with pytest.raises(ValidationException, match="limit"):
            stream.get_records(it, limit=bad)


def test_unread_records_of_this_very_millisecond_are_not_reported_caught_up(make_workbench):
    wb = make_workbench()  # its clock is paused: every record arrives at the same instant
    stream = wb.streams.create_stream("s", 1)
    put_n(stream, 3)
    first = stream.get_records(stream.get_shard_iterator(SHARD0, "TRIM_HORIZON"), limit=1)
    assert first["MillisBehindLatest"] > 0
    rest = stream.get_records(first["NextShardIterator"])
    assert datas(rest) == [b"r1", b"r2"]
    assert rest["MillisBehindLatest"] == 0


def test_iterators_expire_300_seconds_after_issue(make_workbench):
    wb = make_workbench()
    stream = wb.streams.create_stream("s", 1)
    it = stream.get_shard_iterator(SHARD0, "TRIM_HORIZON")
    wb.clock.advance("300s")
    nxt = stream.get_records(it)["NextShardIterator"]  # exactly 300 s old: still valid
    wb.clock.advance("0.001s")
    with pytest.raises(ExpiredIteratorException, match="Iterator expired"):
        stream.get_records(it)
    assert stream.get_records(nxt)["Records"] == []  # the next one was issued later


def test_forged_or_edited_iterators_are_refused(make_stream, make_workbench, tmp_path):
    _, stream = make_stream(1)
    it = stream.get_shard_iterator(SHARD0, "TRIM_HORIZON")
    for forged in ["", "garbage", it[:-4] + "AAAA", it[4:], "A" * 600]:
        with pytest.raises(InvalidArgumentException, match=r"Invalid ShardIterator\."):
            stream.get_records(forged)
    other = make_workbench(home=tmp_path / "other").streams.create_stream("s", 1)
    with pytest.raises(InvalidArgumentException, match=r"Invalid ShardIterator\."):
        other.get_records(it)


def test_iterators_work_in_another_process_of_the_same_home(make_stream, make_workbench):
    _, stream = make_stream(1)
    put_n(stream, 2)
    it = stream.get_shard_iterator(SHARD0, "TRIM_HORIZON")
    again = make_workbench().streams.stream("s")
    assert datas(again.get_records(it)) == [b"r0", b"r1"]


@pytest.mark.parametrize(
    ("kind", "kwargs", "message"),
    [
        ("AT_SEQUENCE_NUMBER", {}, "and no StartingSequenceNumber"),
        ("AFTER_SEQUENCE_NUMBER", {}, "and no StartingSequenceNumber"),
        ("TRIM_HORIZON", {"starting_sequence_number": "1"}, "and a StartingSequenceNumber"),
        ("LATEST", {"starting_sequence_number": "1"}, "and a StartingSequenceNumber"),
        ("AT_TIMESTAMP", {}, "no timestamp"),
        ("LATEST", {"timestamp": 0}, "a timestamp"),
    ],
)
def test_wrong_iterator_combinations_are_invalid_arguments(make_stream, kind, kwargs, message):
    _, stream = make_stream(1)
    with pytest.raises(InvalidArgumentException, match=message):
        stream.get_shard_iterator(SHARD0, kind, **kwargs)


def test_unknown_iterator_type_shard_and_foreign_sequence_numbers(make_stream):
    _, stream = make_stream(2)
    with pytest.raises(ValidationException, match="enum value set"):
        stream.get_shard_iterator(SHARD0, "OLDEST")
    with pytest.raises(ResourceNotFoundException, match="shardId-000000000009"):
        stream.get_shard_iterator("shardId-000000000009", "LATEST")
    other = stream.put_record(b"x", "k", explicit_hash_key=str(2**127))["SequenceNumber"]
    with pytest.raises(InvalidArgumentException, match="shardId-000000000001"):
        stream.get_shard_iterator(SHARD0, "AT_SEQUENCE_NUMBER", starting_sequence_number=other)
    with pytest.raises(ValidationException, match="regular expression"):
        stream.get_shard_iterator(SHARD0, "AT_SEQUENCE_NUMBER", starting_sequence_number="x1")


def test_arrow_reads_are_the_same_records_with_typed_columns(make_stream):
    _, stream = make_stream(1)
    stream.put_frame([{"Invoice": "536365", "Quantity": 6}, {"Invoice": "536366", "Quantity": 2}])
    it = stream.get_shard_iterator(SHARD0, "TRIM_HORIZON")
    result = stream.get_records_arrow(it, decode_json=True)
    table = result.table
    assert table.column_names[:4] == [
        "sequence_number",
        "partition_key",
        "approximate_arrival_timestamp",
        "data",
    ]
    assert str(table.schema.field("approximate_arrival_timestamp").type) == "timestamp[ms, tz=UTC]"
    assert table.column("Quantity").to_pylist() == [6, 2]
    assert table.column("data").to_pylist() == [
        r["Data"] for r in stream.get_records(it)["Records"]
    ]
    assert result.to_polars().height == 2
    assert stream.get_records_arrow(result.next_shard_iterator).table.num_rows == 0
