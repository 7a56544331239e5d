"""JSON -> Parquet conversion as Firehose's OpenX deserializer and ParquetSerDe do it."""

from __future__ import annotations

import base64
import io
from datetime import datetime

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from firehose_records import json_lines, objects, parquet_rows, retail

from workbench.firehose._convert import convert, to_timestamp

RETAIL_COLUMNS = {
    "invoice": "string", "stockcode": "string", "description": "string", "quantity": "int",
    "invoicedate": "timestamp", "price": "float", "customer_id": "string", "country": "string",
}  # fmt: skip


def _convert(records, columns, **options):
    data = pa.array(records, pa.binary())
    glue = [{"Name": k, "Type": v} for k, v in columns.items()]
    return convert(data, glue, options)


def test_openx_keys_are_case_insensitive():
    table, failures = _convert([retail(0)], RETAIL_COLUMNS)
    assert failures == {}
    row = table.to_pylist()[0]
    assert row["customer_id"] == "13085.0" and row["invoice"] == "489434"
    assert row["invoicedate"] == datetime(2026, 3, 1, 10, 0)
    assert table.schema.field("quantity").type == pa.int32()
    assert table.schema.field("price").type == pa.float32()


def test_case_sensitive_and_mapped_keys():
    records = [b'{"Country": "France", "pays": "Frankreich"}']
    table, _ = _convert(records, {"country": "string"}, CaseInsensitive=False)
    assert table.to_pylist() == [{"country": None}]
    table, _ = _convert(records, {"country": "string"}, ColumnToJsonKeyMappings={"country": "pays"})
    assert table.to_pylist() == [{"country": "Frankreich"}]
    table, _ = _convert([b'{"a.b": 1}'], {"a_b": "int"}, ConvertDotsInJsonKeysToUnderscores=True)
    assert table.to_pylist() == [{"a_b": 1}]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2010-01-05T07:45:00Z", datetime(2010, 1, 5, 7, 45)),
        ("2010-01-05T07:45:00.5Z", datetime(2010, 1, 5, 7, 45, 0, 500000)),
        ("2010-01-05 07:45:00", datetime(2010, 1, 5, 7, 45)),
        ("2010-1-5 07:45:00", datetime(2010, 1, 5, 7, 45)),
        ("2010-01-05 07:45:00.25", datetime(2010, 1, 5, 7, 45, 0, 250000)),
        (1262677500, datetime(2010, 1, 5, 7, 45)),
        (1262677500000, datetime(2010, 1, 5, 7, 45)),
    ],
)
def test_timestamps_in_every_accepted_form(value, expected):
    assert to_timestamp(value) == expected
    # The same through the vectorised path, alone and mixed with another form.
    for batch in ([value], [value, "2010-01-05 07:45:00"]):
        records = [orjson.dumps({"t": v}) for v in batch]
        table, failures = _convert(records, {"t": "timestamp"})
        assert failures == {} and table.column("t")[0].as_py() == expected


def test_bad_values_fail_only_their_records():
    records = [retail(0), retail(1, Quantity="many"), b"{not json", b"[1, 2]", retail(2)]
    table, failures = _convert(records, RETAIL_COLUMNS)
    assert table.num_rows == 2 and sorted(failures) == [1, 2, 3]
    assert "many" in failures[1]
    assert [r["quantity"] for r in table.to_pylist()] == [1, 3]


def test_conversion_failures_in_the_error_output(make_workbench):
    wb = make_workbench()
    wb.firehose.create_delivery_stream(
        "s",
        bucket="lab",
        prefix="parquet/",
        error_output_prefix="errors/!{firehose:error-output-type}/",
        parquet_columns=RETAIL_COLUMNS,
        buffer_size_mb=64,
    )
    wb.firehose.put_record_batch("s", [retail(0), retail(1, Quantity="many"), b"oops", retail(2)])
    metrics = wb.firehose.delivery_stream("s").flush()
    assert metrics["failed_records"] == {"format-conversion-failed": 2}
    assert [r["quantity"] for r in parquet_rows(wb, "s3://lab/parquet/")] == [1, 3]
    [obj] = objects(wb, "s3://lab/parquet/")
    assert obj.key.endswith(".parquet")
    failed = json_lines(wb, "s3://lab/errors/format-conversion-failed/")
    assert [base64.b64decode(f["rawData"]) for f in failed] == [retail(1, Quantity="many"), b"oops"]
    assert set(failed[0]) == {
        "attemptsMade", "arrivalTimestamp", "lastErrorCode", "lastErrorMessage",
        "attemptEndingTimestamp", "rawData", "sequenceNumber", "subSequenceNumber",
        "dataCatalogTable",
    }  # fmt: skip
    assert set(failed[0]["dataCatalogTable"]) == {
        "catalogId", "databaseName", "tableName", "region", "versionId", "catalogArn"
    }  # fmt: skip


@pytest.mark.parametrize("codec", ["SNAPPY", "GZIP", "UNCOMPRESSED"])
def test_parquet_compression(make_workbench, codec):
    wb = make_workbench()
    wb.firehose.create_delivery_stream(
        "s", bucket="lab", parquet_columns=RETAIL_COLUMNS, parquet_compression=codec,
    )  # fmt: skip
    wb.firehose.put_record_batch("s", [retail(i) for i in range(50)])
    wb.firehose.delivery_stream("s").flush()
    [obj] = objects(wb)
    meta = pq.ParquetFile(io.BytesIO(wb.lake.get(obj.uri))).metadata
    assert meta.row_group(0).column(0).compression == codec
    assert meta.num_rows == 50


def test_the_duckdb_fast_path_and_the_general_path_agree():
    from workbench.firehose import _convert as c
    from workbench.sources import retail as source

    lines = [line.encode() for line in source(seed=11).json_lines(500)]
    columns = [{"Name": k, "Type": v} for k, v in RETAIL_COLUMNS.items()]
    schema = c.arrow_schema(columns)
    fast = c._convert_with_duckdb(pa.array(lines, pa.binary()), schema, {})
    assert fast is not None
    general, failures = c._convert_slowly(pa.array(lines, pa.binary()), schema, {})
    assert failures == {}
    assert fast.equals(general)


def test_a_record_that_breaks_the_fast_path_falls_back_without_loss():
    records = [retail(0), retail(1), b'{"invoice": "lower-case keys", "QUANTITY": 3}']
    table, failures = _convert(records, RETAIL_COLUMNS)
    assert failures == {}
    assert table.column("invoice").to_pylist() == ["489434", "489434", "lower-case keys"]
    assert table.column("quantity").to_pylist() == [1, 2, 3]
