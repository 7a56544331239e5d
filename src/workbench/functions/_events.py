"""The event a Kinesis event source mapping hands a function, in AWS Lambda's shape.

>>> from datetime import UTC, datetime
>>> record = {"SequenceNumber": "49", "PartitionKey": "part-00001", "Data": b"{}",
...           "ApproximateArrivalTimestamp": datetime(2026, 1, 1, tzinfo=UTC)}
>>> event = kinesis_event([record], "shardId-000000000000",
...                       "arn:aws:kinesis:us-east-1:000000000000:stream/s")
>>> event["Records"][0]["kinesis"]["data"], event["Records"][0]["eventID"]
('e30=', 'shardId-000000000000:49')
"""

from __future__ import annotations

import base64
from typing import Any

REGION = "us-east-1"
ACCOUNT = "000000000000"


def kinesis_event(records: list[dict[str, Any]], shard_id: str, stream_arn: str) -> dict:
    """``{"Records": [...]}`` for records read from one shard."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode("ascii"),
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard_id}:{r['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/workbench-lambda",
                "awsRegion": REGION,
                "eventSourceARN": stream_arn,
            }
            for r in records
        ]
    }


def function_arn(function_name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"


def failure_record(
    *,
    request_id: str,
    function_name: str,
    condition: str,
    attempts: int,
    error: BaseException,
    records: list[dict[str, Any]],
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
            "startSequenceNumber": records[0]["SequenceNumber"],
            "endSequenceNumber": records[-1]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _iso(records[0]),
            "approximateArrivalOfLastRecord": _iso(records[-1]),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


def _iso(record: dict[str, Any]) -> str:
    instant = record["ApproximateArrivalTimestamp"]
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")
