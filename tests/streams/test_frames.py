"""put_frame for every kind of frame, and reads back as typed columns."""

import orjson
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from workbench.errors import InvalidArgumentException

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
