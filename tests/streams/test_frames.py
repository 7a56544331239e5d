"""put_frame for every kind of frame, and reads back as typed columns."""

import orjson
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from workbench.errors import InvalidArgumentException, ValidationException
from workbench.streams import _frames, _stream

ROWS = [
    {"Invoice": "536365", "Quantity": 6, "Price": 2.55, "Customer_ID": "17850"},
    {"Invoice": "536366", "Quantity": 2, "Price": 1.85, "Customer_ID": "13047"},
    {"Invoice": "536367", "Quantity": 32, "Price": 1.69, "Customer_ID": "17850"},
]


def all_records(stream):
    out = []
    for shard in stream.list_shards():
        it = stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")
        out.extend(stream.get_records(it)["Records"])
    return out


@pytest.mark.parametrize(
    "make",
    [
        lambda rows: rows,
        lambda rows: iter(rows),
        pl.DataFrame,
        pd.DataFrame,
        pa.Table.from_pylist,
        lambda rows: pl.DataFrame(rows).lazy(),
    ],
    ids=["dicts", "iterator", "polars", "pandas", "arrow", "lazy"],
)
def test_every_frame_kind_becomes_one_json_record_per_row(make_stream, make):
    _, stream = make_stream(2)
    summary = stream.put_frame(make(ROWS), "Customer_ID")
    assert summary["Records"] == 3
    records = all_records(stream)
    assert sorted(orjson.loads(r["Data"])["Invoice"] for r in records) == [
        "536365",
        "536366",
        "536367",
    ]
    for r in records:
        assert r["PartitionKey"] == orjson.loads(r["Data"])["Customer_ID"]
    for shard, s in summary["Shards"].items():
        assert int(s["FirstSequenceNumber"]) <= int(s["LastSequenceNumber"])
        assert shard.startswith("shardId-")


def test_rows_of_one_key_keep_frame_order(make_stream):
    _, stream = make_stream(3)
    frame = pl.DataFrame({"k": [f"k{i % 5}" for i in range(1000)], "n": list(range(1000))})
    stream.put_frame(frame, "k")
    by_key = {}
    for r in all_records(stream):
        by_key.setdefault(r["PartitionKey"], []).append(orjson.loads(r["Data"])["n"])
    assert all(v == sorted(v) for v in by_key.values())
    assert sum(len(v) for v in by_key.values()) == 1000


def test_partition_key_function_or_none(make_stream):
    _, stream = make_stream(2)
    stream.put_frame(ROWS, lambda row: row["Invoice"][-1])
    assert sorted(r["PartitionKey"] for r in all_records(stream)) == ["5", "6", "7"]
    _, other = make_stream(2, name="other")
    other.put_frame(pl.DataFrame(ROWS))
    assert sorted(r["PartitionKey"] for r in all_records(other)) == ["0", "1", "2"]


def test_frame_errors(make_stream):
    _, stream = make_stream(1)
    with pytest.raises(InvalidArgumentException, match="not a column"):
        stream.put_frame(pl.DataFrame(ROWS), "nope")
    with pytest.raises(InvalidArgumentException, match="row 0 is a int"):
        stream.put_frame([1, 2])
    with pytest.raises(InvalidArgumentException, match="not str"):
        stream.put_frame("text")


def test_decode_json_with_a_fixed_schema(make_stream):
    _, stream = make_stream(1)
    stream.put_frame(ROWS, "Customer_ID")
    it = stream.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")
    table = stream.get_records_arrow(
        it, decode_json={"Quantity": pl.Int16, "Price": pl.Float32}
    ).table
    assert table.column_names[4:] == ["Quantity", "Price"]
    assert str(table.schema.field("Quantity").type) == "int16"
    assert table.column("Quantity").to_pylist() == [6, 2, 32]


def test_get_records_stops_at_10_mib(make_stream):
    _, stream = make_stream(1, max_record_size_kib=4096)
    for _ in range(4):
        stream.put_record(b"x" * (3 * 1024 * 1024), "k")
    it = stream.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")
    first = stream.get_records(it)
    assert len(first["Records"]) == 3
    assert len(stream.get_records(first["NextShardIterator"])["Records"]) == 1


def _by_shard(stream):
    """Each shard's records as (partition key, n), in shard order."""
    return {
        shard["ShardId"]: [(r["PartitionKey"], orjson.loads(r["Data"])["n"]) for r in records]
        for shard in stream.list_shards()
        if (records := all_records_of(stream, shard["ShardId"]))
    }


def all_records_of(stream, shard_id):
    it = stream.get_shard_iterator(shard_id, "TRIM_HORIZON")
    return stream.get_records(it)["Records"]


def test_large_frames_go_in_chunks_encoded_and_written_side_by_side(make_stream, monkeypatch):
    # Small chunks and a low threshold for threads, so a small frame takes the large frames' way.
    monkeypatch.setattr(_stream, "_FRAME_CHUNK_ROWS", 7)
    monkeypatch.setattr(_frames, "_SIDE_BY_SIDE_ROWS", 10)
    _, stream = make_stream(3)
    frame = pl.DataFrame({"k": [f"k{i % 11}" for i in range(500)], "n": list(range(500))})
    summary = stream.put_frame(frame, "k")
    shards = _by_shard(stream)
    for records in shards.values():  # each shard holds its rows in frame order
        assert [n for _, n in records] == sorted(n for _, n in records)
    assert sorted(n for records in shards.values() for _, n in records) == list(range(500))
    _, alone = make_stream(3, name="alone")
    for row in frame.iter_rows(named=True):  # a shard is the one put_record picks for the key
        assert alone.put_record(b"{}", row["k"])["ShardId"] in {
            shard for shard, records in shards.items() if (row["k"], row["n"]) in records
        }
    assert {s: v["Records"] for s, v in summary["Shards"].items()} == {
        s: len(records) for s, records in shards.items()
    }
    for shard in shards:
        numbers = [r["SequenceNumber"] for r in all_records_of(stream, shard)]
        told = summary["Shards"][shard]
        assert told["FirstSequenceNumber"] == numbers[0]
        assert told["LastSequenceNumber"] == numbers[-1]


def test_an_oversized_row_is_named_by_its_frame_row_and_nothing_is_written(make_stream):
    _, stream = make_stream(4)
    rows = [{"k": f"key-{i}", "text": "x" * (1 << 20 if i == 37 else 10)} for i in range(100)]
    with pytest.raises(ValidationException, match=r"at 'rows\.37\.data'"):
        stream.put_frame(pl.DataFrame(rows), "k")
    assert _by_shard(stream) == {}


def test_rows_routed_to_a_shard_that_closes_meanwhile_go_to_its_children(make_stream, monkeypatch):
    _, stream = make_stream(1)
    encode = _stream.json_chunks
    split = []

    def encode_while_another_process_splits(rows, bounds):
        if not split:
            split.append(stream.split_shard("shardId-000000000000", str(2**127)))
        return encode(rows, bounds)

    monkeypatch.setattr(_stream, "json_chunks", encode_while_another_process_splits)
    frame = pl.DataFrame({"k": [f"k{i % 13}" for i in range(300)], "n": list(range(300))})
    summary = stream.put_frame(frame, "k")
    shards = _by_shard(stream)
    assert "shardId-000000000000" not in shards
    assert sorted(shards) == sorted(summary["Shards"]) == ["shardId-000000000001",
                                                           "shardId-000000000002"]  # fmt: skip
    by_key: dict[str, list[int]] = {}
    for records in shards.values():
        for key, n in records:
            by_key.setdefault(key, []).append(n)
    assert by_key == {f"k{k}": list(range(k, 300, 13)) for k in range(13)}
