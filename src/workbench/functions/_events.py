"""The event a Kinesis event source mapping hands a function, in AWS Lambda's shape.

Records arrive as the Arrow table a consumer application reads (``format="arrow"``); each
invocation's event is built from it column by column (base64 and arrival times in bulk), which
costs a fraction of going through one Kinesis dict per record first.

>>> from datetime import UTC, datetime
>>> import pyarrow as pa
>>> records = pa.table({
...     "sequence_number": ["49"], "partition_key": ["part-00001"],
...     "approximate_arrival_timestamp": pa.array([datetime(2026, 1, 1, tzinfo=UTC)],
...                                               pa.timestamp("ms", "UTC")),
...     "data": pa.array([b"{}"], pa.binary())})
>>> event = kinesis_event(records, "shardId-000000000000",
...                       "arn:aws:kinesis:us-east-1:000000000000:stream/s")
>>> event["Records"][0]["kinesis"]["data"], event["Records"][0]["eventID"]
('e30=', 'shardId-000000000000:49')
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pyarrow as pa

REGION = "us-east-1"
ACCOUNT = "000000000000"


def kinesis_event(records: pa.Table, shard_id: str, stream_arn: str) -> dict:
    """``{"Records": [...]}`` for records read from one shard."""
    frame = pl.from_arrow(records)
    arrivals = frame["approximate_arrival_timestamp"].dt.epoch("ms") / 1000
    # Each record's dicts are copies of these, in Lambda's key order, with the record's own
    # values set: copying a dict of known size costs less than building it key by key.
    kinesis = {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": None,
        "sequenceNumber": None,
        "data": None,
        "approximateArrivalTimestamp": None,
    }
    record = {
        "kinesis": None,
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": None,
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/workbench-lambda",
        "awsRegion": REGION,
        "eventSourceARN": stream_arn,
    }
    event_records = []
    for sequence_number, key, arrival, data in zip(
        frame["sequence_number"].to_list(),
        frame["partition_key"].to_list(),
        arrivals.to_list(),
        frame["data"].bin.encode("base64").to_list(),
        strict=True,
    ):
        own = kinesis.copy()
        own["partitionKey"] = key
        own["sequenceNumber"] = sequence_number
        own["data"] = data
        own["approximateArrivalTimestamp"] = arrival
        event_record = record.copy()
        event_record["kinesis"] = own
        event_record["eventID"] = f"{shard_id}:{sequence_number}"
        event_records.append(event_record)
    return {"Records": event_records}


def arrival(records: pa.Table, position: int) -> datetime:
    """When the record at ``position`` (-1: the last) reached the stream."""
    instant = records.column("approximate_arrival_timestamp")[position].as_py()
    return instant.astimezone(UTC)


def sequence_number(records: pa.Table, position: int) -> str:
    return records.column("sequence_number")[position].as_py()


def function_arn(function_name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"


def failure_record(
    *,
    request_id: str,
    function_name: str,
    condition: str,
    attempts: int,
    error: BaseException,
    records: pa.Table,
    shard_id: str,
    stream_arn: str,
    timestamp: str,
) -> dict:
    """What an on-failure destination receives for a batch the function could not process."""
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn(function_name),
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
        "timestamp": timestamp,
        "errorMessage": f"{type(error).__name__}: {error}",
        "KinesisBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": sequence_number(records, 0),
            "endSequenceNumber": sequence_number(records, -1),
            "approximateArrivalOfFirstRecord": _iso(arrival(records, 0)),
            "approximateArrivalOfLastRecord": _iso(arrival(records, -1)),
            "batchSize": records.num_rows,
            "streamArn": stream_arn,
        },
    }


def _iso(instant: datetime) -> str:
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")
