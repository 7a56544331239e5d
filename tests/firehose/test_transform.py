"""The Lambda contract of Firehose data transformation, from the Firehose developer guide."""

from __future__ import annotations

import base64

import orjson
import pytest
from firehose_records import json_lines, objects, retail

from workbench.errors import ResourceInUseException


def _ok(record, data: bytes, **metadata):
    out = {"recordId": record["recordId"], "result": "Ok", "data": base64.b64encode(data).decode()}
    if metadata:
        out["metadata"] = {"partitionKeys": metadata}
    return out


def test_the_event_has_the_documented_shape(make_workbench):
    events = []

    def handler(event, context):
        events.append(event)
        return {"records": [_ok(r, base64.b64decode(r["data"])) for r in event["records"]]}

    wb = make_workbench()
    wb.firehose.create_delivery_stream("s", bucket="lab", transform=handler)
    wb.firehose.put_record_batch("s", [b'{"a": 1}\n', b'{"a": 2}\n'])
    wb.firehose.delivery_stream("s").flush()
    [event] = events
    assert set(event) == {"invocationId", "deliveryStreamArn", "region", "records"}
    assert event["deliveryStreamArn"].endswith(":deliverystream/s")
    assert [base64.b64decode(r["data"]) for r in event["records"]] == [b'{"a": 1}\n', b'{"a": 2}\n']
    assert len({r["recordId"] for r in event["records"]}) == 2
    assert all(r["approximateArrivalTimestamp"] == wb.clock.now_ms() for r in event["records"])


def test_ok_dropped_and_processing_failed(make_workbench):
    def handler(event, context):
        out = []
        for r in event["records"]:
            record = orjson.loads(base64.b64decode(r["data"]))
            if record["n"] % 3 == 0:
                out.append({"recordId": r["recordId"], "result": "Dropped"})
            elif record["n"] % 3 == 1:
                out.append({"recordId": r["recordId"], "result": "ProcessingFailed"})
            else:
                out.append(_ok(r, orjson.dumps({"n": record["n"], "ok": True}) + b"\n"))
        return {"records": out}

    wb = make_workbench()
    wb.firehose.create_delivery_stream(
        "s", bucket="lab", transform=handler, prefix="out/",
        error_output_prefix="errors/!{firehose:error-output-type}/",
    )  # fmt: skip
    wb.firehose.put_record_batch("s", [retail(i) for i in range(9)])
    metrics = wb.firehose.delivery_stream("s").flush()
    assert metrics["dropped_records"] == 3
    assert metrics["failed_records"] == {"processing-failed": 3}
    assert json_lines(wb, "s3://lab/out/") == [{"n": n, "ok": True} for n in (2, 5, 8)]
    failed = json_lines(wb, "s3://lab/errors/processing-failed/")
    assert [orjson.loads(base64.b64decode(f["rawData"]))["n"] for f in failed] == [1, 4, 7]
    assert set(failed[0]) == {
        "attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage",
        "attemptEndingTimestamp", "rawData", "lambdaArn",
    }  # fmt: skip
    assert failed[0]["lambdaArn"].endswith(":function:handler")
    assert failed[0]["arrivalTimestamp"] == wb.clock.now_ms()


def test_missing_or_unknown_record_ids_fail_those_records(make_workbench):
    def handler(event, context):
        records = event["records"]
        out = [_ok(r, b"kept\n") for r in records[1:]]
        out.append({"recordId": "not-an-input", "result": "Ok", "data": ""})
        return {"records": out}

    wb = make_workbench()
    wb.firehose.create_delivery_stream("s", bucket="lab", transform=handler, prefix="out/")
    wb.firehose.put_record_batch("s", [b"first\n", b"second\n", b"third\n"])
    metrics = wb.firehose.delivery_stream("s").flush()
    assert metrics["delivered_records"] == 2
    # An empty error prefix with a plain prefix: <prefix><error-output-type>/yyyy/MM/dd/HH/.
    [failed] = json_lines(wb, "s3://lab/out/processing-failed/2026/03/01/10/")
    assert failed["errorCode"] == "Lambda.MissingRecordId"
    assert base64.b64decode(failed["rawData"]) == b"first\n"


def test_an_exception_is_retried_three_times_then_the_batch_fails(make_workbench):
    calls = []

    def flaky(event, context):
        calls.append(len(event["records"]))
        if len(calls) <= 2:
            raise RuntimeError("downstream is down")
        return {"records": [_ok(r, b"ok\n") for r in event["records"]]}

    def broken(event, context):
        calls.append(len(event["records"]))
        raise RuntimeError("always down")

    wb = make_workbench()
    wb.firehose.create_delivery_stream("flaky", bucket="lab", transform=flaky, prefix="f/")
    wb.firehose.put_record_batch("flaky", [b"a", b"b"])
    assert wb.firehose.delivery_stream("flaky").flush()["delivered_records"] == 2
    assert calls == [2, 2, 2]

    calls.clear()
    wb.firehose.create_delivery_stream("broken", bucket="lab", transform=broken, prefix="b/")
    wb.firehose.put_record_batch("broken", [b"a", b"b"])
    metrics = wb.firehose.delivery_stream("broken").flush()
    assert calls == [2, 2, 2, 2]  # the call and 3 retries
    assert metrics["failed_records"] == {"processing-failed": 2}
    failed = json_lines(wb, "s3://lab/b/processing-failed/")
    assert [f["attemptsMade"] for f in failed] == [4, 4]
    assert failed[0]["errorCode"] == "Lambda.FunctionError"
    assert "always down" in failed[0]["errorMessage"]


def test_an_unusable_response_counts_as_a_failed_invocation(make_workbench):
    def bad(event, context):
        return {
            "records": [{"recordId": r["recordId"], "result": "Maybe"} for r in event["records"]]
        }

    wb = make_workbench()
    wb.firehose.create_delivery_stream("s", bucket="lab", transform=bad, prefix="o/")
    wb.firehose.put_record("s", b"x")
    wb.firehose.delivery_stream("s").flush()
    [failed] = json_lines(wb, "s3://lab/o/processing-failed/")
    assert failed["errorCode"] == "Lambda.InvalidReturnValue" and "Maybe" in failed["errorMessage"]


def test_partition_keys_from_lambda(make_workbench):
    def handler(event, context):
        out = []
        for r in event["records"]:
            record = orjson.loads(base64.b64decode(r["data"]))
            out.append(_ok(r, base64.b64decode(r["data"]), customer=record["Customer_ID"]))
        return {"records": out}

    wb = make_workbench()
    wb.firehose.create_delivery_stream(
        "s", bucket="lab", transform=handler,
        extended_s3_destination_configuration={
            "Prefix": "c=!{partitionKeyFromLambda:customer}/",
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "DynamicPartitioningConfiguration": {"Enabled": True},
        },
    )  # fmt: skip
    wb.firehose.put_record_batch(
        "s", [retail(1, Customer_ID="1.0"), retail(2, Customer_ID="2.0"), retail(3, Customer_ID="")]
    )
    wb.firehose.delivery_stream("s").flush()
    assert sorted(o.key.split("/")[0] for o in objects(wb, "s3://lab/c=")) == ["c=1.0", "c=2.0"]
    [failed] = json_lines(wb, "s3://lab/errors/partitioning-failed/")
    assert "customer" in failed["errorMessage"]


def test_a_transform_must_be_registered_in_the_delivering_process(make_workbench):
    wb = make_workbench()
    wb.firehose.create_delivery_stream("s", bucket="lab", transform="not_here")
    wb.firehose.put_record("s", b"x")
    with pytest.raises(ResourceInUseException, match="register_function"):
        wb.firehose.delivery_stream("s").flush()
    wb.firehose.register_function("not_here", lambda event: {"records": []})
    wb.firehose.delivery_stream("s").flush()
    [failed] = json_lines(wb, "s3://lab/processing-failed/")
    assert base64.b64decode(failed["rawData"]) == b"x"
