"""The same delivery into s3:// on a moto S3 server that the test session starts and stops."""

from __future__ import annotations

import io

import boto3
import pyarrow.parquet as pq
from firehose_records import json_lines, retail

from workbench.lake import Lake


def test_delivery_to_an_s3_service(make_workbench, moto_endpoint):
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="lab-on-s3")
    wb = make_workbench(lake=Lake.s3(moto_endpoint))
    wb.firehose.create_delivery_stream(
        "retail-trans",
        bucket="lab-on-s3",
        prefix="json-data/year=!{timestamp:yyyy}/month=!{timestamp:MM}/",
        error_output_prefix="error-json/!{firehose:error-output-type}/",
        buffer_interval_s=60,
    )
    wb.firehose.create_delivery_stream(
        "parquet",
        bucket="lab-on-s3",
        prefix="parquet/",
        parquet_columns={"invoice": "string", "quantity": "int", "country": "string"},
    )
    records = [retail(i) for i in range(100)]
    wb.firehose.put_record_batch("retail-trans", records)
    wb.firehose.put_record_batch("parquet", [*records, b"not json"])
    wb.clock.advance("60s")
    assert wb.firehose.delivery_stream("retail-trans").run_until_idle()["delivered_objects"] == 1
    wb.firehose.delivery_stream("parquet").flush()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lab-on-s3")["Contents"]]
    assert sum(k.startswith("json-data/year=2026/month=03/retail-trans-1-") for k in keys) == 1
    [json_key] = [k for k in keys if k.startswith("json-data/")]
    assert s3.get_object(Bucket="lab-on-s3", Key=json_key)["Body"].read() == b"".join(records)
    [parquet_key] = [k for k in keys if k.endswith(".parquet")]
    body = s3.get_object(Bucket="lab-on-s3", Key=parquet_key)["Body"].read()
    assert pq.read_table(io.BytesIO(body)).num_rows == 100
    [failed] = json_lines(wb, "s3://lab-on-s3/parquet/format-conversion-failed/")
    assert failed["lastErrorCode"] == "DataFormatConversion.MalformedData"
